package file_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keymeter/keymeter/source/file"
)

// tree writes files (path to content) under a new directory and makes
// the symbolic links (path to target), and returns the directory.
func tree(t *testing.T, files, links map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, content := range files {
		path := filepath.Join(dir, p)
		if strings.HasSuffix(p, "/") { // a directory
			if err := os.MkdirAll(path, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for p, target := range links {
		path := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, path); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// rel returns the files' paths relative to dir, in order.
func rel(t *testing.T, dir string, files []file.File) string {
	t.Helper()
	var got []string
	for _, f := range files {
		r, err := filepath.Rel(dir, f.Object.URI)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	return strings.Join(got, " ")
}

// TestExpandSymlinks follows a symlinked directory given as the
// argument, and symlinked files and directories inside a tree.
func TestExpandSymlinks(t *testing.T) {
	dir := tree(t, map[string]string{
		"real/2025/10/a.log": "a",
		"real/2025/10/b.gz":  "bb",
		"elsewhere/c.log":    "ccc",
		"other/d.log":        "dddd",
	}, map[string]string{
		"logs":              "real",                // the argument is a link to a directory
		"real/2025/11":      "../../elsewhere",     // a linked directory inside the tree
		"real/2025/e.log":   "../../other/d.log",   // a linked file inside the tree
		"real/2025/.hidden": "../../other",         // hidden: skipped like any hidden name
		"abs-link/x":        "/nonexistent/target", // broken: reported
	})
	files, errs := file.Expand([]string{filepath.Join(dir, "logs")})
	if len(errs) != 0 {
		t.Fatalf("errors %v", errs)
	}
	if got := rel(t, dir, files); got != "logs/2025/10/a.log logs/2025/10/b.gz logs/2025/11/c.log logs/2025/e.log" {
		t.Errorf("files %q", got)
	}
	// Sizes are the targets'.
	for _, f := range files {
		if strings.HasSuffix(f.Object.URI, "e.log") && f.Object.Size != 4 {
			t.Errorf("linked file %s has size %d, want its target's 4", f.Object.URI, f.Object.Size)
		}
	}

	// A link to a file as the argument, and a broken link in a tree.
	files, errs = file.Expand([]string{filepath.Join(dir, "real/2025/e.log"), filepath.Join(dir, "abs-link")})
	if got := rel(t, dir, files); got != "real/2025/e.log" {
		t.Errorf("files %q", got)
	}
	var ae *file.ArgError
	if len(errs) != 1 || !errors.As(errs[0], &ae) || !strings.HasSuffix(ae.Arg, "abs-link/x") ||
		!strings.Contains(errs[0].Error(), "broken symbolic link") {
		t.Errorf("errors %v, want the broken link named", errs)
	}
}

// TestExpandLoops reports a directory that a link leads back into, and
// still returns every file once.
func TestExpandLoops(t *testing.T) {
	dir := tree(t, map[string]string{
		"logs/a.log":     "a",
		"logs/sub/b.log": "b",
	}, map[string]string{
		"logs/sub/up":   "..",         // back to logs: a loop
		"logs/sub/self": ".",          // back to sub itself: a loop
		"logs/again":    "sub",        // sub a second time, not a loop: read once
		"logs/b-too":    "sub/b.log",  // the same file by a second path
		"link":          "logs/a.log", // and again, as another argument
	})
	files, errs := file.Expand([]string{filepath.Join(dir, "logs"), filepath.Join(dir, "link")})
	if got := rel(t, dir, files); got != "logs/a.log logs/again/b.log" {
		t.Errorf("files %q, want each file once", got)
	}
	if len(errs) != 2 {
		t.Fatalf("errors %v, want the two loops", errs)
	}
	msgs := errs[0].Error() + "\n" + errs[1].Error()
	for _, want := range []string{
		filepath.Join(dir, "logs/again/self") + ": symbolic link loop: leads back to " + filepath.Join(dir, "logs/again"),
		filepath.Join(dir, "logs/again/up") + ": symbolic link loop: leads back to " + filepath.Join(dir, "logs"),
	} {
		if !strings.Contains(msgs, want) {
			t.Errorf("errors\n%s\nlack %q", msgs, want)
		}
	}
}

// TestExpandNothing makes an argument that yields no file an error.
func TestExpandNothing(t *testing.T) {
	dir := tree(t, map[string]string{
		"empty/":             "",
		"hidden-only/.x.log": "x",
		"full/a.log":         "a",
	}, map[string]string{
		"full/link-to-empty": "../empty", // an empty directory inside a full one is fine
	})
	files, errs := file.Expand([]string{filepath.Join(dir, "empty"), filepath.Join(dir, "hidden-only"), filepath.Join(dir, "full")})
	if got := rel(t, dir, files); got != "full/a.log" {
		t.Errorf("files %q", got)
	}
	if len(errs) != 2 {
		t.Fatalf("errors %v, want 2", errs)
	}
	for i, name := range []string{"empty", "hidden-only"} {
		var ae *file.ArgError
		if !errors.As(errs[i], &ae) || ae.Arg != filepath.Join(dir, name) || !errors.Is(errs[i], file.ErrNoFiles) ||
			!strings.Contains(errs[i].Error(), "no files in this directory") {
			t.Errorf("error %d: %v", i, errs[i])
		}
	}
}
