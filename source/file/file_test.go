package file_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keymeter/keymeter/source/file"
)

func TestExpand(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"a.log", "b/c.gz", "b/d/e.log", "b/.hidden.log", ".git/x", "f.txt"} {
		path := filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files, errs := file.Expand([]string{
		filepath.Join(dir, "b"),           // a directory, recursively, hidden files skipped
		filepath.Join(dir, "*.log"),       // a glob
		filepath.Join(dir, "a.log"),       // a file given twice
		filepath.Join(dir, "missing.log"), // nothing there
		filepath.Join(dir, "nomatch*"),    // a glob matching nothing
	})
	var got []string
	for _, f := range files {
		rel, _ := filepath.Rel(dir, f.Object.URI)
		got = append(got, rel)
		if !filepath.IsAbs(f.Object.URI) || f.Object.Size != int64(len(rel)) || f.Object.ModTime.IsZero() {
			t.Errorf("object %+v", f.Object)
		}
	}
	if strings.Join(got, " ") != "a.log b/c.gz b/d/e.log" {
		t.Errorf("files %v", got)
	}
	if len(errs) != 2 {
		t.Fatalf("errors %v, want 2", errs)
	}
	var ae *file.ArgError
	if !errors.As(errs[0], &ae) || !errors.Is(errs[0], fs.ErrNotExist) || !strings.HasSuffix(ae.Arg, "missing.log") {
		t.Errorf("first error %v", errs[0])
	}
	if !strings.Contains(errs[1].Error(), "no files match") {
		t.Errorf("second error %v", errs[1])
	}
	rc, err := files[0].Open(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "a.log" {
		t.Errorf("content %q", b)
	}
}
