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

// ArgError is an argument that names no readable file, or a path below a
// directory argument that cannot be read (a broken symbolic link, a
// directory that a link leads back into).
type ArgError struct {
	Arg string
	Err error
}

func (e *ArgError) Error() string { return e.Arg + ": " + e.Err.Error() }
func (e *ArgError) Unwrap() error { return e.Err }

// ErrNoFiles is the error of an argument that yields no file: a directory
// with no regular file below it, or a pattern that matches nothing.
var ErrNoFiles = errors.New("no files")

// ErrLoop is the error of a symbolic link that leads back into a
// directory being read.
var ErrLoop = errors.New("symbolic link loop")

// Expand resolves arguments to files: a file stands for itself, a
// directory for every regular file below it (hidden files and directories,
// whose names start with '.', are skipped), and a glob pattern for what it
// matches. Symbolic links are followed, as arguments and inside
// directories; a link that leads back into a directory being read (a
// loop) is reported as an *ArgError wrapping ErrLoop and not followed. A
// file reached by several paths (links, hard links, a directory given
// twice) is returned once, under the first path in walking order. Files
// are returned sorted by path.
//
// An argument that matches nothing, names a directory without files, or
// cannot be read yields an *ArgError (wrapping ErrNoFiles when it yields
// nothing); so does each broken link below a directory. The others are
// still expanded.
func Expand(args []string) ([]File, []error) {
	x := &expander{seenFile: map[fileID]bool{}, seenDir: map[fileID]int{}, seenPath: map[string]bool{}}
	for _, arg := range args {
		paths := []string{arg}
		if _, err := os.Stat(arg); errors.Is(err, fs.ErrNotExist) && strings.ContainsAny(arg, "*?[") {
			matches, err := filepath.Glob(arg)
			if err != nil {
				x.fail(arg, fmt.Errorf("bad pattern: %w", err))
				continue
			}
			if len(matches) == 0 {
				x.fail(arg, fmt.Errorf("%w match this pattern", ErrNoFiles))
				continue
			}
			paths = matches
		}
		for _, p := range paths {
			x.arg(p)
		}
	}
	sort.Slice(x.files, func(i, j int) bool { return x.files[i].Object.URI < x.files[j].Object.URI })
	return x.files, x.errs
}

// expander collects the files of the arguments.
type expander struct {
	files    []File
	errs     []error
	seenPath map[string]bool
	seenFile map[fileID]bool
	// seenDir counts the files found below each directory read, so that
	// a directory reached again (through a link, or as another argument)
	// is not read twice but still counts as holding files.
	seenDir map[fileID]int
}

func (x *expander) fail(path string, err error) {
	x.errs = append(x.errs, &ArgError{path, err})
}

// arg expands one path given as an argument (or matched by a pattern).
func (x *expander) arg(p string) {
	info, err := os.Stat(p) // follows links
	if err != nil {
		x.fail(p, unwrapPathError(err))
		return
	}
	if !info.IsDir() {
		if !info.Mode().IsRegular() {
			x.fail(p, errors.New("not a regular file"))
			return
		}
		x.add(p, info)
		return
	}
	errs := len(x.errs)
	if n := x.dir(p, info, nil); n == 0 && len(x.errs) == errs {
		x.fail(p, fmt.Errorf("%w in this directory (hidden files and directories, named .*, are skipped)", ErrNoFiles))
	}
}

// add adds the regular file at path, unless it was added before under
// this or another path.
func (x *expander) add(path string, info fs.FileInfo) {
	abs, err := filepath.Abs(path)
	if err != nil {
		x.fail(path, err)
		return
	}
	if x.seenPath[abs] {
		return
	}
	x.seenPath[abs] = true
	if id, ok := idOf(info); ok {
		if x.seenFile[id] {
			return
		}
		x.seenFile[id] = true
	}
	x.files = append(x.files, File{Object: keymeter.Object{URI: abs, Size: info.Size(), ModTime: info.ModTime().UTC()}})
}

// ancestor is a directory on the path being walked.
type ancestor struct {
	id    fileID
	hasID bool
	path  string
}

// maxDepth bounds the depth of directories read, as a last guard against
// loops on systems that do not tell a directory's identity.
const maxDepth = 256

// dir adds the files below the directory at path, described by info,
// following links, and returns how many files it holds. up lists the
// directories above it on the way there.
func (x *expander) dir(path string, info fs.FileInfo, up []ancestor) int {
	if len(up) >= maxDepth {
		x.fail(path, fmt.Errorf("%w: more than %d directories deep, not followed", ErrLoop, maxDepth))
		return 0
	}
	id, hasID := idOf(info)
	if hasID {
		for _, a := range up {
			if a.hasID && a.id == id {
				x.fail(path, fmt.Errorf("%w: leads back to %s, not followed", ErrLoop, a.path))
				return 0
			}
		}
		if n, ok := x.seenDir[id]; ok {
			return n // read before, by another path
		}
		x.seenDir[id] = 0
	}
	up = append(up, ancestor{id, hasID, path})
	entries, err := os.ReadDir(path)
	if err != nil {
		x.fail(path, unwrapPathError(err))
		return 0
	}
	n := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := filepath.Join(path, e.Name())
		typ := e.Type()
		var fi fs.FileInfo
		if typ&fs.ModeSymlink != 0 {
			if fi, err = os.Stat(p); err != nil {
				target, _ := os.Readlink(p)
				x.fail(p, fmt.Errorf("broken symbolic link to %s: %w", target, unwrapPathError(err)))
				continue
			}
			typ = fi.Mode().Type()
		}
		switch {
		case typ.IsDir():
			if fi == nil {
				if fi, err = e.Info(); err != nil {
					x.fail(p, unwrapPathError(err))
					continue
				}
			}
			n += x.dir(p, fi, up)
		case typ.IsRegular():
			if fi == nil {
				if fi, err = e.Info(); err != nil {
					x.fail(p, unwrapPathError(err))
					continue
				}
			}
			x.add(p, fi)
			n++
		}
		// Other kinds (sockets, devices, pipes) are not logs: skipped.
	}
	if hasID {
		x.seenDir[id] = n
	}
	return n
}

// unwrapPathError drops the path from an *fs.PathError; ArgError names it.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
