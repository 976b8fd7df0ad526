// Package file is the local-file source: it turns command-line arguments
// (files, directories, glob patterns) into the objects to ingest and opens
// them. It deals in bytes only; it does not know any log format.
package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/keymeter/keymeter"
)

// File is one local file to ingest.
type File struct {
	Object keymeter.Object // URI is the absolute path
}

// Open opens the file for reading its bytes as stored.
func (f File) Open(ctx context.Context) (io.ReadCloser, error) {
	return os.Open(f.Object.URI)
}

// ArgError is an argument that names no readable file.
type ArgError struct {
	Arg string
	Err error
}

func (e *ArgError) Error() string { return e.Arg + ": " + e.Err.Error() }
func (e *ArgError) Unwrap() error { return e.Err }

// Expand resolves arguments to files: a file stands for itself, a
// directory for every regular file below it (hidden files and directories,
// whose names start with '.', are skipped), and a glob pattern for what it
// matches. Files are returned sorted by path, each once. An argument that
// matches nothing yields an *ArgError; the others are still expanded.
func Expand(args []string) ([]File, []error) {
	var files []File
	var errs []error
	seen := map[string]bool{}
	add := func(path string, info fs.FileInfo) {
		abs, err := filepath.Abs(path)
		if err != nil {
			errs = append(errs, &ArgError{path, err})
			return
		}
		if seen[abs] {
			return
		}
		seen[abs] = true
		files = append(files, File{Object: keymeter.Object{URI: abs, Size: info.Size(), ModTime: info.ModTime().UTC()}})
	}
	for _, arg := range args {
		paths := []string{arg}
		if _, err := os.Stat(arg); errors.Is(err, fs.ErrNotExist) && strings.ContainsAny(arg, "*?[") {
			matches, err := filepath.Glob(arg)
			if err != nil {
				errs = append(errs, &ArgError{arg, fmt.Errorf("bad pattern: %w", err)})
				continue
			}
			if len(matches) == 0 {
				errs = append(errs, &ArgError{arg, errors.New("no files match this pattern")})
				continue
			}
			paths = matches
		}
		for _, p := range paths {
			if err := walk(p, add); err != nil {
				errs = append(errs, &ArgError{p, err})
			}
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Object.URI < files[j].Object.URI })
	return files, errs
}

// walk calls add for p, or for every regular file below p if it is a
// directory.
func walk(p string, add func(string, fs.FileInfo)) error {
	info, err := os.Stat(p)
	if err != nil {
		return unwrapPathError(err)
	}
	if !info.IsDir() {
		if !info.Mode().IsRegular() {
			return errors.New("not a regular file")
		}
		add(p, info)
		return nil
	}
	return filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != p && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		add(path, info)
		return nil
	})
}

// unwrapPathError drops the path from an *fs.PathError; ArgError names it.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
