package lake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/keymeter/keymeter"
)

// Root is where the lake's files live: a local directory (Local) or,
// later, an S3 prefix. Paths are relative, slash-separated and clean
// ("cloudfront_logs/year=2025/month=10/day=01/b-….parquet"); a Root
// refuses any other with a keymeter.EINVALID error.
type Root interface {
	// Create starts writing the file at p. Nothing is visible at p until
	// the returned Pending is committed; a file already at p is replaced
	// then, atomically.
	Create(ctx context.Context, p string) (Pending, error)
	// Open opens the file at p for reading. A missing file is an error
	// that wraps fs.ErrNotExist.
	Open(ctx context.Context, p string) (File, error)
	// Remove deletes the file at p; a file already gone is not an error.
	Remove(ctx context.Context, p string) error
	// Location returns what a query engine reads the file at p by: an
	// absolute local path, or an s3:// URI.
	Location(p string) string
}

// Pending is a file being written. Exactly one of Commit and Abort must
// be called.
type Pending interface {
	io.Writer
	// Commit makes the file durable and visible at its path, in one step:
	// a reader sees either no file or the whole file.
	Commit() error
	// Abort discards what was written.
	Abort() error
}

// File is a lake file opened for reading.
type File interface {
	io.ReaderAt
	io.Closer
	Size() int64
}

// Lister is the optional ability of a Root to list its files, for
// finding files no manifest lists (left by a crash between a write and
// its commit).
type Lister interface {
	// List returns the paths of every file under the directory dir ("" for
	// the whole root), sorted, including files still being written (whose
	// names begin with '.').
	List(ctx context.Context, dir string) ([]string, error)
}

// Stater is the optional ability of a Root to tell a file's size and
// last change, for deleting only files no writer can still be about to
// list.
type Stater interface {
	// Stat returns what is known of the file at p; a missing file is an
	// error that wraps fs.ErrNotExist.
	Stat(ctx context.Context, p string) (fs.FileInfo, error)
}

// Local is a Root in a local directory. A file is written under a
// temporary name beginning with '.' beside its final one (Athena, Hive
// and Spark skip such names), synced, renamed into place and its
// directory synced, so that after Commit the file survives a crash and a
// reader never sees part of it.
type Local struct {
	dir string
}

var (
	_ Root   = (*Local)(nil)
	_ Lister = (*Local)(nil)
	_ Stater = (*Local)(nil)
)

// NewLocal returns the Root in directory dir, which is created if needed.
func NewLocal(dir string) (*Local, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("lake directory %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("create lake directory: %w", err)
	}
	return &Local{dir: abs}, nil
}

// Dir returns the root's absolute directory.
func (l *Local) Dir() string { return l.dir }

// checkPath returns an error unless p is a clean relative path.
func checkPath(p string) error {
	if p == "" || p == "." || !fs.ValidPath(p) || strings.Contains(p, `\`) {
		return keymeter.Errorf(keymeter.EINVALID, "lake path %q: want a clean relative path with / separators", p)
	}
	return nil
}

func (l *Local) full(p string) string { return filepath.Join(l.dir, filepath.FromSlash(p)) }

// Location returns the absolute path of p.
func (l *Local) Location(p string) string { return l.full(p) }

// tempName returns the name a file at final is written under.
func tempName(final string) string {
	dir, name := filepath.Split(final)
	return filepath.Join(dir, "."+name+".tmp")
}

// Create implements Root. The temporary name is derived from p, so a
// retry overwrites what an interrupted attempt left.
func (l *Local) Create(ctx context.Context, p string) (Pending, error) {
	if err := checkPath(p); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	final := l.full(p)
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return nil, fmt.Errorf("create lake directory: %w", err)
	}
	tmp := tempName(final)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create lake file: %w", err)
	}
	return &localPending{f: f, tmp: tmp, final: final}, nil
}

type localPending struct {
	f          *os.File
	tmp, final string
	done       bool
}

func (p *localPending) Write(b []byte) (int, error) { return p.f.Write(b) }

func (p *localPending) Commit() error {
	if p.done {
		return fmt.Errorf("commit %s: already committed or aborted", p.final)
	}
	p.done = true
	if err := p.f.Sync(); err != nil {
		p.f.Close()
		os.Remove(p.tmp)
		return fmt.Errorf("sync %s: %w", p.tmp, err)
	}
	if err := p.f.Close(); err != nil {
		os.Remove(p.tmp)
		return fmt.Errorf("close %s: %w", p.tmp, err)
	}
	if err := os.Rename(p.tmp, p.final); err != nil {
		os.Remove(p.tmp)
		return fmt.Errorf("rename lake file: %w", err)
	}
	return syncDir(filepath.Dir(p.final))
}

func (p *localPending) Abort() error {
	if p.done {
		return nil
	}
	p.done = true
	p.f.Close()
	if err := os.Remove(p.tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", p.tmp, err)
	}
	return nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

type localFile struct {
	*os.File
	size int64
}

func (f localFile) Size() int64 { return f.size }

// Open implements Root.
func (l *Local) Open(ctx context.Context, p string) (File, error) {
	if err := checkPath(p); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.Open(l.full(p))
	if err != nil {
		return nil, fmt.Errorf("open lake file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open lake file: %w", err)
	}
	return localFile{File: f, size: st.Size()}, nil
}

// Remove implements Root.
func (l *Local) Remove(ctx context.Context, p string) error {
	if err := checkPath(p); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.Remove(l.full(p)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove lake file: %w", err)
	}
	return nil
}

// Stat implements Stater.
func (l *Local) Stat(ctx context.Context, p string) (fs.FileInfo, error) {
	if err := checkPath(p); err != nil {
		return nil, err
	}
	info, err := os.Stat(l.full(p))
	if err != nil {
		return nil, fmt.Errorf("stat lake file: %w", err)
	}
	return info, nil
}

// List implements Lister.
func (l *Local) List(ctx context.Context, dir string) ([]string, error) {
	start := l.dir
	if dir != "" {
		if err := checkPath(dir); err != nil {
			return nil, err
		}
		start = l.full(dir)
	}
	var paths []string
	err := filepath.WalkDir(start, func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && name == start {
				return fs.SkipAll
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, err := filepath.Rel(l.dir, name)
			if err != nil {
				return err
			}
			paths = append(paths, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list lake files: %w", err)
	}
	slices.Sort(paths)
	return paths, nil
}

// partitionDir returns the directory of table's files of day (days since
// 1970-01-01, UTC): "<table>/year=YYYY/month=MM/day=DD".
func partitionDir(table string, day int32) string {
	y, m, d := dayTime(day).Date()
	return fmt.Sprintf("%s/year=%04d/month=%02d/day=%02d", table, y, int(m), d)
}

// dayTime returns the start of day (days since 1970-01-01), UTC.
func dayTime(day int32) time.Time {
	return time.Unix(int64(day)*86400, 0).UTC()
}
