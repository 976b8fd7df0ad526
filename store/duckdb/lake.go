package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"

	bindings "github.com/duckdb/duckdb-go-bindings"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/lake"
)

// The store keeps the manifest of the Parquet lake (package lake): the
// files the lake holds, one row each in lake_files, and the files that
// compaction replaced, in lake_removed until they are deleted. Only
// listed files are ever read. A file is written completely (lake's
// Batch.Finish or Writer.Merge) before the transaction that lists it
// commits, so a crash leaves at most files no row lists: never read, and
// deleted by CleanLake once they are older than its delay.
//
// Ingest does not write events to the lake yet: event rows still go to
// event_rows. What works is the manifest, its transactions (a writer lists
// files in the transaction of its events: ListLakeFiles), compaction by
// swapping manifest rows (CompactLake), the cleanup of replaced and
// unlisted files (CleanLake), and keymeter sql's lake_<table> views over
// the listed files.

// lakeSchema is schema version 8: the lake's manifest.
const lakeSchema = `
CREATE TABLE lake_files (
	path      VARCHAR   PRIMARY KEY,
	tbl       VARCHAR   NOT NULL,
	day       DATE      NOT NULL,
	rows      BIGINT    NOT NULL,
	bytes     BIGINT    NOT NULL,
	min_time  TIMESTAMP NOT NULL,
	max_time  TIMESTAMP NOT NULL,
	checksum  VARCHAR   NOT NULL,
	listed_at TIMESTAMP NOT NULL
);
CREATE TABLE lake_removed (
	path       VARCHAR   NOT NULL,
	removed_at TIMESTAMP NOT NULL
);
`

func migrateLake(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, lakeSchema)
	return err
}

// LakeFiles returns the manifest's entries of table (every table when
// table is ""), ordered by table, day and path.
func (s *DB) LakeFiles(ctx context.Context, table string) ([]lake.Entry, error) {
	return lakeFiles(ctx, s.db, table)
}

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func lakeFiles(ctx context.Context, q queryer, table string) ([]lake.Entry, error) {
	rows, err := q.QueryContext(ctx, `SELECT tbl, day, path, rows, bytes, min_time, max_time, checksum FROM lake_files
		WHERE ? = '' OR tbl = ? ORDER BY tbl, day, path`, table, table)
	if err != nil {
		return nil, fmt.Errorf("read the lake's manifest: %w", err)
	}
	defer rows.Close()
	var entries []lake.Entry
	for rows.Next() {
		var e lake.Entry
		if err := rows.Scan(&e.Table, &e.Date, &e.Path, &e.Rows, &e.Bytes, &e.MinTime, &e.MaxTime, &e.Checksum); err != nil {
			return nil, fmt.Errorf("read the lake's manifest: %w", err)
		}
		e.Date, e.MinTime, e.MaxTime = e.Date.UTC(), e.MinTime.UTC(), e.MaxTime.UTC()
		entries = append(entries, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the lake's manifest: %w", err)
	}
	return entries, nil
}

// insertLakeFiles lists entries in the manifest. A path already listed is
// an ECONFLICT error: a file is listed once.
func insertLakeFiles(ctx context.Context, x execer, entries []lake.Entry, at time.Time) error {
	for start := 0; start < len(entries); start += 200 {
		part := entries[start:min(start+200, len(entries))]
		args := make([]any, 0, 9*len(part))
		for _, e := range part {
			if _, err := lake.TableNamed(e.Table); err != nil {
				return err
			}
			args = append(args, e.Path, e.Table, e.Date.UTC(), e.Rows, e.Bytes, e.MinTime.UTC(), e.MaxTime.UTC(), e.Checksum, at)
		}
		if _, err := x.ExecContext(ctx, `INSERT INTO lake_files VALUES `+placeholders(len(part), 9), args...); err != nil {
			if isConstraintError(err) {
				return keymeter.Errorf(keymeter.ECONFLICT, "list lake files: a file is listed already: %v", err)
			}
			return fmt.Errorf("list lake files: %w", err)
		}
	}
	return nil
}

// isConstraintError reports whether err is DuckDB's refusal of a
// duplicate key.
func isConstraintError(err error) bool {
	return err != nil && strings.Contains(strings.ToLower(err.Error()), "constraint")
}

// LakeLister is the ability of the store's writer to list lake files in
// the transaction of its next Commit, with the rows it writes: the files
// of the events of that transaction, already written (lake's
// Batch.Finish). A Close before the Commit lists none of them.
type LakeLister interface {
	ListLakeFiles(ctx context.Context, entries []lake.Entry) error
}

var _ LakeLister = (*writer)(nil)

// ListLakeFiles implements LakeLister.
func (w *writer) ListLakeFiles(ctx context.Context, entries []lake.Entry) error {
	if err := w.usable(ctx); err != nil {
		return err
	}
	for _, e := range entries {
		if _, err := lake.TableNamed(e.Table); err != nil {
			return err
		}
	}
	w.lakeFiles = append(w.lakeFiles, entries...)
	return nil
}

// writeLakeFiles lists the transaction's lake files, in it.
func (w *writer) writeLakeFiles(ctx context.Context) error {
	if len(w.lakeFiles) == 0 {
		return nil
	}
	return insertLakeFiles(ctx, w.conn, w.lakeFiles, w.db.opts.Now().UTC())
}

// LakeCompaction is what CompactLake did.
type LakeCompaction struct {
	Merges int   // files written
	Inputs int   // files they replace
	Rows   int64 // rows in the files written
}

// CompactLake merges the small files of the days before closedBefore
// (lake.PlanCompaction), each merge into one new file (Writer.Merge),
// then swaps the manifest's rows in one transaction: the inputs leave
// lake_files for lake_removed, and the merged file is listed. The inputs
// stay on disk until CleanLake deletes them, after its delay, so that a
// query that read the manifest before the swap can still read them. A
// merge whose inputs changed in the meantime (another compaction) is not
// listed, and its file is left for CleanLake.
func (s *DB) CompactLake(ctx context.Context, lw *lake.Writer, closedBefore time.Time, opts lake.CompactOptions) (LakeCompaction, error) {
	var res LakeCompaction
	if s.readOnly {
		return res, keymeter.Errorf(keymeter.EINVALID, "the store is open read-only")
	}
	all, err := s.LakeFiles(ctx, "")
	if err != nil {
		return res, err
	}
	closed := slices.DeleteFunc(all, func(e lake.Entry) bool { return !e.Date.Before(closedBefore) })
	merges, err := lake.PlanCompaction(closed, opts)
	if err != nil {
		return res, err
	}
	for _, m := range merges {
		merged, err := lw.Merge(ctx, m)
		if err != nil {
			return res, err
		}
		if err := s.swapLakeFiles(ctx, m.Inputs, merged); err != nil {
			return res, err
		}
		res.Merges++
		res.Inputs += len(m.Inputs)
		res.Rows += merged.Rows
	}
	return res, nil
}

// swapLakeFiles replaces inputs by merged in the manifest.
func (s *DB) swapLakeFiles(ctx context.Context, inputs []lake.Entry, merged lake.Entry) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("swap lake files: %w", err)
	}
	defer tx.Rollback()
	now := s.opts.Now().UTC()
	for _, e := range inputs {
		r, err := tx.ExecContext(ctx, `DELETE FROM lake_files WHERE path = ? AND checksum = ?`, e.Path, e.Checksum)
		if err != nil {
			return fmt.Errorf("swap lake files: %w", err)
		}
		if n, err := r.RowsAffected(); err != nil || n != 1 {
			return keymeter.Errorf(keymeter.ECONFLICT, "swap lake files: %s is no longer listed as merged", e.Path)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO lake_removed VALUES (?, ?)`, e.Path, now); err != nil {
			return fmt.Errorf("swap lake files: %w", err)
		}
	}
	if err := insertLakeFiles(ctx, tx, []lake.Entry{merged}, now); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("swap lake files: %w", err)
	}
	return nil
}

// LakeCleanup is what CleanLake deleted.
type LakeCleanup struct {
	Replaced int // files compaction replaced
	Unlisted int // files no manifest row lists (left by a crash)
}

// CleanLake deletes the files of root that no query reads any more: those
// compaction replaced at least delay ago, and those the manifest does
// not list whose last change is at least delay ago (files of a batch or
// a merge interrupted before its commit; a younger one may be about to be
// listed). root must be able to list its files (lake.Lister) and tell
// their age (lake.Stater).
func (s *DB) CleanLake(ctx context.Context, root lake.Root, delay time.Duration) (LakeCleanup, error) {
	var res LakeCleanup
	if s.readOnly {
		return res, keymeter.Errorf(keymeter.EINVALID, "the store is open read-only")
	}
	lister, ok1 := root.(lake.Lister)
	stater, ok2 := root.(lake.Stater)
	if !ok1 || !ok2 {
		return res, keymeter.Errorf(keymeter.EINVALID, "the lake's files cannot be listed here")
	}
	cutoff := s.opts.Now().UTC().Add(-delay)
	// Files replaced long enough ago.
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT path FROM lake_removed WHERE removed_at <= ? ORDER BY path`, cutoff)
	if err != nil {
		return res, fmt.Errorf("read removed lake files: %w", err)
	}
	var replaced []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			rows.Close()
			return res, fmt.Errorf("read removed lake files: %w", err)
		}
		replaced = append(replaced, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return res, fmt.Errorf("read removed lake files: %w", err)
	}
	for _, p := range replaced {
		if err := root.Remove(ctx, p); err != nil {
			return res, err
		}
		if _, err := s.db.ExecContext(ctx, `DELETE FROM lake_removed WHERE path = ? AND removed_at <= ?`, p, cutoff); err != nil {
			return res, fmt.Errorf("forget removed lake file: %w", err)
		}
		res.Replaced++
	}
	// Files no row lists.
	known := map[string]bool{}
	for _, q := range []string{`SELECT path FROM lake_files`, `SELECT path FROM lake_removed`} {
		rows, err := s.db.QueryContext(ctx, q)
		if err != nil {
			return res, fmt.Errorf("read the lake's manifest: %w", err)
		}
		for rows.Next() {
			var p string
			if err := rows.Scan(&p); err != nil {
				rows.Close()
				return res, fmt.Errorf("read the lake's manifest: %w", err)
			}
			known[p] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return res, fmt.Errorf("read the lake's manifest: %w", err)
		}
	}
	paths, err := lister.List(ctx, "")
	if err != nil {
		return res, err
	}
	for _, p := range paths {
		if known[p] {
			continue
		}
		info, err := stater.Stat(ctx, p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return res, err
		}
		if info.ModTime().After(cutoff) {
			continue
		}
		if err := root.Remove(ctx, p); err != nil {
			return res, err
		}
		res.Unlisted++
	}
	return res, nil
}

// createLakeViews creates, on a keymeter sql connection, one temporary
// view per lake table, lake_<table>, over the files the manifest lists
// (lake.ReadSQL: the DDL's columns and types, year, month and day, and
// files of other partitions skipped).
func (s *DB) createLakeViews(ctx context.Context, conn bindings.Connection) error {
	if s.opts.Lake == nil {
		return nil
	}
	entries, err := s.LakeFiles(ctx, "")
	if err != nil {
		return err
	}
	for _, t := range lake.Tables() {
		var mine []lake.Entry
		for _, e := range entries {
			if e.Table == t.Name {
				mine = append(mine, e)
			}
		}
		files, err := lake.EntryFiles(t, s.opts.Lake, mine)
		if err != nil {
			return err
		}
		if err := execC(conn, `CREATE OR REPLACE TEMPORARY VIEW lake_`+t.Name+` AS `+lake.ReadSQL(t, files)); err != nil {
			return fmt.Errorf("create the view lake_%s: %w", t.Name, err)
		}
	}
	return nil
}
