// Package postgres is a PostgreSQL backend of keymeter's ledger (a
// preview, issue 14): the state that N workers must share and change in
// transactions — objects and their claims, stream checkpoints, dedupe
// IDs, keys and their owners, daily rollups and rejects — through pgx.
//
// Raw event rows are not stored here: they are to go to the Parquet lake.
// Usage is answered from the daily rollups, which answer periods of
// whole UTC days grouped by customer, key, day, month, source and
// unattributed reason; any other question needs the lake and is refused
// with an EINVALID error that says so.
//
// One writer's transaction is one PostgreSQL transaction: the rollup
// deltas (added, never replaced), the dedupe IDs, the object records, the
// rejects and the checkpoints commit together or not at all. Writers of
// several processes may write the same database at once: see writer.go
// for how they keep exactly-once totals.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keymeter/keymeter"
)

// DB is a keymeter store in a PostgreSQL database.
type DB struct {
	pool   *pgxpool.Pool
	opts   Options
	window int64 // dedupe window, hours

	mu      sync.Mutex
	writing bool                    // a writer of this DB is open
	dims    map[dimsKey]edgeOutcome // the committed dimensions entries met, by outcome
}

var (
	_ keymeter.Store            = (*DB)(nil)
	_ keymeter.CheckpointReader = (*DB)(nil)
)

// Options configure a store.
type Options struct {
	// DedupeWindow is keymeter.Writer's dedupe window: a whole number of
	// hours (keymeter.CheckDedupeWindow). Zero means
	// keymeter.DefaultDedupeWindow; a window of the same hour only is
	// not configurable here.
	DedupeWindow time.Duration
	// Now is the clock of ingested_at and recorded_at; time.Now when nil.
	Now func() time.Time
}

// Open connects to the database at url (postgres://...), creates or
// upgrades the schema, and returns the store.
func Open(ctx context.Context, url string, opts Options) (*DB, error) {
	if opts.DedupeWindow == 0 {
		opts.DedupeWindow = keymeter.DefaultDedupeWindow
	}
	if err := keymeter.CheckDedupeWindow(opts.DedupeWindow); err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, keymeter.Errorf(keymeter.EINVALID, "open the PostgreSQL store: %v", err)
	}
	cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open the PostgreSQL store: %w", err)
	}
	s := &DB{pool: pool, opts: opts, window: int64(opts.DedupeWindow / time.Hour)}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open the PostgreSQL store: %w", err)
	}
	return s, nil
}

// Close releases the store's connections.
func (s *DB) Close() error {
	s.pool.Close()
	return nil
}

// CheckSecret implements service.SecretChecker: it records check on
// first use, and returns an ECONFLICT error when a later check differs.
// Every worker on one database must use the same secret.
func (s *DB) CheckSecret(ctx context.Context, check string) error {
	var have string
	err := s.pool.QueryRow(ctx, `WITH ins AS (
			INSERT INTO km_meta VALUES ('secret_check', $1) ON CONFLICT (key) DO NOTHING RETURNING value)
		SELECT value FROM ins UNION ALL SELECT value FROM km_meta WHERE key = 'secret_check' LIMIT 1`, check).Scan(&have)
	if err != nil {
		return fmt.Errorf("check the fingerprint secret: %w", err)
	}
	if have != check {
		return keymeter.Errorf(keymeter.ECONFLICT, "the fingerprint secret does not match the one this store was created with; give every worker the store's secret")
	}
	return nil
}

// FindObject implements keymeter.ObjectFinder.
func (s *DB) FindObject(ctx context.Context, o keymeter.Object) (*keymeter.ObjectRecord, error) {
	const cols = `SELECT uri, size, mod_time, digest, etag, status, error, ingested_at, lines, events, duplicates, rejected FROM objects`
	var row pgx.Row
	if o.Digest != "" {
		row = s.pool.QueryRow(ctx, cols+` WHERE digest = $1 ORDER BY ingested_at, seq LIMIT 1`, keymeter.ValidUTF8(o.Digest))
	} else {
		row = s.pool.QueryRow(ctx, cols+` WHERE uri = $1 AND size = $2 AND mod_time IS NOT DISTINCT FROM $3 AND etag = $4 ORDER BY ingested_at, seq LIMIT 1`,
			keymeter.ValidUTF8(o.URI), o.Size, nullTime(o.ModTime), keymeter.ValidUTF8(o.ETag))
	}
	var r keymeter.ObjectRecord
	var mod *time.Time
	err := row.Scan(&r.URI, &r.Size, &mod, &r.Digest, &r.ETag, &r.Status, &r.Error, &r.IngestedAt, &r.Lines, &r.Events, &r.Duplicates, &r.Rejected)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find object: %w", err)
	}
	if mod != nil {
		r.ModTime = mod.UTC()
	}
	r.IngestedAt = r.IngestedAt.UTC()
	return &r, nil
}

// nullTime maps the zero time to NULL.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// Rejects implements keymeter.RejectLister: newest first.
func (s *DB) Rejects(ctx context.Context, f keymeter.RejectFilter) ([]keymeter.Reject, error) {
	q := `SELECT source, object, line, field, reason, text, text_len, rejected_at FROM rejects`
	var args []any
	if f.Object != "" {
		q += ` WHERE object = $1`
		args = append(args, keymeter.ValidUTF8(f.Object))
	}
	q += ` ORDER BY rejected_at DESC, object, line, seq`
	if f.Limit > 0 {
		q += ` LIMIT ` + strconv.Itoa(f.Limit)
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list rejects: %w", err)
	}
	defer rows.Close()
	var out []keymeter.Reject
	for rows.Next() {
		var r keymeter.Reject
		var src int16
		var text []byte
		if err := rows.Scan(&src, &r.Object, &r.Line, &r.Field, &r.Reason, &text, &r.TextLen, &r.At); err != nil {
			return nil, fmt.Errorf("list rejects: %w", err)
		}
		r.Source = keymeter.Source(src)
		r.Text = string(text)
		r.At = r.At.UTC()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list rejects: %w", err)
	}
	return out, nil
}

// Checkpoints implements keymeter.CheckpointReader.
func (s *DB) Checkpoints(ctx context.Context, stream string) (map[string]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT shard, sequence FROM checkpoints WHERE stream = $1`, stream)
	if err != nil {
		return nil, fmt.Errorf("read checkpoints of %s: %w", stream, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var shard, seq string
		if err := rows.Scan(&shard, &seq); err != nil {
			return nil, fmt.Errorf("read checkpoints of %s: %w", stream, err)
		}
		out[shard] = seq
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read checkpoints of %s: %w", stream, err)
	}
	return out, nil
}
