// Package duckdb is keymeter's embedded store: one DuckDB database file in
// the data directory. It implements keymeter.Store and keymeter.SQLQuerier.
//
// Events are stored in event_rows, narrow and typed, with repeated
// strings moved to dictionary tables; the views events (all sources,
// normalised), cloudfront_logs and cloudfront_realtime_logs (the columns
// of AWS's Athena tables for CloudFront standard and real-time logs) are
// what people query with SQL. Writers keep stream checkpoints
// (keymeter.Checkpointer) in the checkpoints table.
package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bindings "github.com/duckdb/duckdb-go-bindings"
	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/lake"
)

// DB is a keymeter store in a DuckDB database file.
type DB struct {
	db       *sql.DB
	cdb      bindings.Database // the same database, for StreamSQL (see sql.go)
	readOnly bool
	opts     Options

	// rollups says that the daily rollups are kept (see rollup.go).
	rollups bool

	mu     sync.Mutex
	writer bool // a Writer is open

	// alertMu serialises the outbox's transactions in this process (see
	// alert.go), so that concurrent claims do not conflict.
	alertMu sync.Mutex

	rowsOnce sync.Once
	rowsErr  error
	rows     atomic.Pointer[rowSource] // the source of the running INSERT, if any
}

var (
	_ keymeter.Store      = (*DB)(nil)
	_ keymeter.SQLQuerier = (*DB)(nil)
)

// Options tune how the database is opened. The zero value opens it for
// writing with DuckDB's defaults.
type Options struct {
	// ReadOnly opens the database without taking the write lock, so that
	// several readers can share it. Writers and key imports then fail.
	ReadOnly bool
	// Sandbox opens the database read-only for ad-hoc SQL (keymeter
	// sql), locked down by DuckDB itself: it reads no file but the store's
	// own and those under AllowedDirs, writes none, attaches no other
	// database, loads and installs no extension, and its configuration is
	// locked, with Athena's integer division on for every query.
	Sandbox bool
	// AllowedDirs are directories the store owns (the Parquet files of a
	// lake) whose files a sandboxed store's SQL may read. Only with
	// Sandbox or NoExternalAccess.
	AllowedDirs []string
	// Lake is the Parquet lake whose manifest the store keeps (see
	// lake.go); nil when there is none. keymeter sql reads its files.
	Lake lake.Root
	// NoExternalAccess keeps a writable store's SQL from reading or
	// writing any file but its own and those under AllowedDirs, and from
	// loading extensions, as Sandbox does for a read-only one: for a
	// long-running process that writes and runs people's queries
	// (keymeter serve). Its configuration stays unlocked.
	NoExternalAccess bool
	// MemoryLimit caps DuckDB's buffer memory ("256MB"); empty means
	// DuckDB's default (80% of RAM).
	MemoryLimit string
	// Threads caps DuckDB's worker threads; 0 means one per core.
	Threads int
	// SeenBudget is about the most committed event IDs a Writer keeps in
	// memory to spot duplicates, beyond those of the open transaction and
	// of the hours around the rows it writes (see seenIDs); 0 means
	// DefaultSeenBudget.
	SeenBudget int
	// DedupeWindow is how far apart, in UTC hours (rounded up to whole
	// hours), the times of two events of a source with the same request
	// ID may be for the second to be a duplicate of the first; 0 means
	// keymeter.DefaultDedupeWindow, negative means the same hour only.
	DedupeWindow time.Duration
	// Now returns the current time. Default: time.Now.
	Now func() time.Time
}

// writeSettings tune DuckDB for keymeter's writes. FSST string compression
// costs a fifth of the ingest time and saves little on per-request strings
// (IDs, addresses, query strings); a low allocator flush threshold keeps
// the memory DuckDB frees from piling up.
var writeSettings = []string{
	`SET disabled_compression_methods = 'fsst'`,
	`SET allocator_flush_threshold = '16MB'`,
}

// DefaultSeenBudget bounds the memory a Writer uses to spot duplicate
// events: 20 to 40 bytes per ID.
const DefaultSeenBudget = 1 << 18

// Open opens (creating if needed) the store in the DuckDB file at path.
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	if opts.SeenBudget <= 0 {
		opts.SeenBudget = DefaultSeenBudget
	}
	if opts.DedupeWindow == 0 {
		opts.DedupeWindow = keymeter.DefaultDedupeWindow
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sandbox {
		opts.ReadOnly = true
	}
	q := url.Values{}
	if opts.ReadOnly {
		q.Set("access_mode", "READ_ONLY")
	}
	if opts.Sandbox {
		q.Set("autoload_known_extensions", "false")
		q.Set("autoinstall_known_extensions", "false")
	}
	if opts.MemoryLimit != "" {
		q.Set("memory_limit", opts.MemoryLimit)
	}
	if opts.Threads > 0 {
		q.Set("threads", strconv.Itoa(opts.Threads))
	}
	dsn := path
	if len(q) > 0 {
		dsn += "?" + q.Encode()
	}
	connector, err := duckdb.NewConnector(dsn, nil)
	if err != nil {
		return nil, openError(path, opts.ReadOnly, err)
	}
	s := &DB{db: sql.OpenDB(connector), readOnly: opts.ReadOnly, opts: opts}
	if err := s.db.PingContext(ctx); err != nil {
		s.db.Close()
		return nil, openError(path, opts.ReadOnly, err)
	}
	// A second handle on the same instance (duckdb-go's cache returns it
	// for the same path and options), for StreamSQL's connections.
	var cfg bindings.Config
	if bindings.CreateConfig(&cfg) == bindings.StateError {
		s.db.Close()
		return nil, fmt.Errorf("open store %s: create config", path)
	}
	for k, v := range map[string][]string(q) {
		bindings.SetConfig(cfg, k, v[0])
	}
	bindings.SetConfig(cfg, "duckdb_api", "go")
	var msg string
	state := bindings.GetOrCreateFromCache(duckdb.GetInstanceCache(), path, &s.cdb, cfg, &msg)
	bindings.DestroyConfig(&cfg)
	if state == bindings.StateError {
		bindings.Close(&s.cdb)
		s.db.Close()
		return nil, fmt.Errorf("open store %s: %s", path, msg)
	}
	if opts.Sandbox {
		if err := s.sandbox(ctx); err != nil {
			s.Close()
			return nil, fmt.Errorf("open store %s: %w", path, err)
		}
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if opts.NoExternalAccess && !opts.Sandbox {
		if err := s.restrict(ctx); err != nil {
			s.Close()
			return nil, fmt.Errorf("open store %s: %w", path, err)
		}
	}
	return s, nil
}

// sandbox locks the database down for ad-hoc SQL (Options.Sandbox). The
// settings are global and, once locked, cannot be changed by a query.
func (s *DB) sandbox(ctx context.Context) error {
	if err := s.restrict(ctx); err != nil {
		return err
	}
	for _, set := range []string{
		`SET GLOBAL integer_division = true`,
		`SET lock_configuration = true`,
	} {
		if _, err := s.db.ExecContext(ctx, set); err != nil {
			return fmt.Errorf("sandbox: %w", err)
		}
	}
	return nil
}

// restrict keeps the database's SQL from files but its own and those of
// Options.AllowedDirs (Options.NoExternalAccess, and Sandbox).
func (s *DB) restrict(ctx context.Context) error {
	dirs := make([]string, len(s.opts.AllowedDirs))
	for i, d := range s.opts.AllowedDirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			return fmt.Errorf("allowed directory %s: %w", d, err)
		}
		// A directory, not a prefix of names: /data/lake/, not /data/lake2.
		dirs[i] = "'" + strings.ReplaceAll(filepath.Clean(abs)+string(filepath.Separator), "'", "''") + "'"
	}
	for _, set := range []string{
		`SET allowed_directories = [` + strings.Join(dirs, ", ") + `]`,
		`SET enable_external_access = false`,
	} {
		if _, err := s.db.ExecContext(ctx, set); err != nil {
			return fmt.Errorf("sandbox: %w", err)
		}
	}
	return nil
}

// openError explains the common ways opening fails. DuckDB's file lock
// lets one process write or any number read, never both: a writer is
// refused while another process reads (a long keymeter sql), and a reader
// while another process writes.
func openError(path string, readOnly bool, err error) error {
	msg := err.Error()
	if !strings.Contains(msg, "Could not set lock") && !strings.Contains(msg, "Conflicting lock") {
		return fmt.Errorf("open store %s: %w", path, err)
	}
	holder := "another keymeter process"
	if i := strings.Index(msg, "(PID "); i >= 0 {
		if j := strings.IndexByte(msg[i:], ')'); j > 0 {
			holder += " " + msg[i:i+j+1]
		}
	}
	if readOnly {
		return keymeter.Errorf(keymeter.ECONFLICT, "the store %s is being written by %s, an ingest or a keys import: DuckDB lets one process write or several read, never both; wait for it to finish", path, holder)
	}
	return keymeter.Errorf(keymeter.ECONFLICT, "the store %s is in use by %s: another ingest, or a reader such as a running keymeter sql; DuckDB lets one process write or several read, never both; wait for it to finish", path, holder)
}

// migrate creates or checks the schema, and upgrades a store written by
// an older keymeter (see migrate.go).
func (s *DB) migrate(ctx context.Context) error {
	var version int
	err := s.db.QueryRowContext(ctx, `SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'schema_version'`).Scan(&version)
	fresh := false
	switch {
	case err == nil && version > schemaVersion:
		return keymeter.Errorf(keymeter.ECONFLICT, "the store was written by a newer keymeter (schema %d, this one knows %d)", version, schemaVersion)
	case err == nil && version == schemaVersion && s.readOnly:
		s.rollups = s.metaValue(ctx, "rollups") == "1"
		return nil
	case err == nil && s.readOnly:
		return &UpgradeError{From: version, To: schemaVersion}
	case err == nil:
	case errors.Is(err, sql.ErrNoRows) || strings.Contains(err.Error(), "does not exist"):
		fresh = true
	default:
		return fmt.Errorf("read schema version: %w", err)
	}
	if s.readOnly {
		return keymeter.Errorf(keymeter.ENOTFOUND, "the store is empty: run keymeter ingest first")
	}
	for _, set := range writeSettings {
		if _, err := s.db.ExecContext(ctx, set); err != nil {
			return fmt.Errorf("configure store: %w", err)
		}
	}
	if fresh {
		if err := s.create(ctx); err != nil {
			return err
		}
	} else if err := s.upgrade(ctx, version); err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, historyViews+views+apigatewayViews+edgeViews); err != nil {
		return fmt.Errorf("create views: %w", err)
	}
	if s.metaValue(ctx, "rollups") != "1" {
		if err := rebuildRollups(ctx, s.db); err != nil {
			return err
		}
	}
	s.rollups = true
	return nil
}

// metaValue returns a value of the meta table, or "" when there is none.
func (s *DB) metaValue(ctx context.Context, key string) string {
	var v string
	s.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	return v
}

// Close closes the database.
func (s *DB) Close() error {
	bindings.Close(&s.cdb)
	return s.db.Close()
}

// CheckSecret makes sure the store is used with the secret its keys were
// fingerprinted with: it records check, a value derived from the secret,
// on first use and returns an error when a later check differs.
func (s *DB) CheckSecret(ctx context.Context, check string) error {
	var have string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'secret_check'`).Scan(&have)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if s.readOnly {
			return nil
		}
		_, err = s.db.ExecContext(ctx, `INSERT INTO meta VALUES ('secret_check', ?)`, check)
		if err != nil {
			return fmt.Errorf("record secret check: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("read secret check: %w", err)
	case have != check:
		return keymeter.Errorf(keymeter.ECONFLICT, "the fingerprint secret does not match the one this store was created with; restore the data directory's secret file")
	}
	return nil
}

// FindObject implements keymeter.ObjectFinder.
func (s *DB) FindObject(ctx context.Context, o keymeter.Object) (*keymeter.ObjectRecord, error) {
	var row *sql.Row
	const cols = `SELECT uri, size, mod_time, digest, etag, status, error, ingested_at, lines, events, duplicates, rejected FROM objects`
	if o.Digest != "" {
		row = s.db.QueryRowContext(ctx, cols+` WHERE digest = ? ORDER BY ingested_at LIMIT 1`, keymeter.ValidUTF8(o.Digest))
	} else {
		row = s.db.QueryRowContext(ctx, cols+` WHERE uri = ? AND size = ? AND mod_time IS NOT DISTINCT FROM ? AND etag = ? ORDER BY ingested_at LIMIT 1`,
			keymeter.ValidUTF8(o.URI), o.Size, nullTime(o.ModTime), keymeter.ValidUTF8(o.ETag))
	}
	var r keymeter.ObjectRecord
	var mod sql.NullTime
	err := row.Scan(&r.URI, &r.Size, &mod, &r.Digest, &r.ETag, &r.Status, &r.Error, &r.IngestedAt, &r.Lines, &r.Events, &r.Duplicates, &r.Rejected)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find object: %w", err)
	}
	if mod.Valid {
		r.ModTime = mod.Time.UTC()
	}
	r.IngestedAt = r.IngestedAt.UTC()
	return &r, nil
}

// nullTime maps the zero time to NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

// Rejects implements keymeter.RejectLister.
func (s *DB) Rejects(ctx context.Context, f keymeter.RejectFilter) ([]keymeter.Reject, error) {
	q := `SELECT source, object, line, field, reason, text, coalesce(text_len, strlen(text)), rejected_at FROM rejects`
	var args []any
	if f.Object != "" {
		q += ` WHERE object = ?`
		args = append(args, keymeter.ValidUTF8(f.Object))
	}
	q += ` ORDER BY rejected_at DESC, object, line`
	if f.Limit > 0 {
		q += ` LIMIT ` + strconv.Itoa(f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list rejects: %w", err)
	}
	defer rows.Close()
	var out []keymeter.Reject
	for rows.Next() {
		var r keymeter.Reject
		var src uint8
		if err := rows.Scan(&src, &r.Object, &r.Line, &r.Field, &r.Reason, &r.Text, &r.TextLen, &r.At); err != nil {
			return nil, fmt.Errorf("list rejects: %w", err)
		}
		r.Source = keymeter.Source(src)
		r.At = r.At.UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// Checkpoint writes the write-ahead log into the database file (DuckDB's
// CHECKPOINT), which a long-running process does when the store is idle:
// the log otherwise grows while transactions keep DuckDB from
// checkpointing on its own.
func (s *DB) Checkpoint(ctx context.Context) error {
	if s.readOnly {
		return nil
	}
	if _, err := s.db.ExecContext(ctx, `CHECKPOINT`); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}
