package postgres

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/keymeter/keymeter"
)

// A store's schema has a version, kept in km_meta.schema_version. Every
// change is a migration below, run in order at Open: each runs in one
// transaction with the version it reaches, under a transaction-level
// advisory lock, so that workers opening the same database at once
// upgrade it once, and an interrupted upgrade leaves the schema at the
// last version reached.
//
// To change the schema, append a migration; never edit one that has been
// released. The numbering is this backend's own: it is not DuckDB's.

// migration brings the schema from version To-1 to version To.
type migration struct {
	To   int
	What string // what it changes, for errors
	SQL  string
}

// migrationLock is the key of the advisory lock migrations run under.
const migrationLock = 0x6b6d657465720001 // "kmeter" 1

// migrations are the schema's versions, in order: migrations[n-1]
// reaches version n.
var migrations = []migration{
	{To: 1, What: "the ledger: objects and claims, checkpoints, dedupe IDs, keys and owners, daily rollups, rejects", SQL: schemaV1},
	{To: 2, What: "billing: customers' plans, finalized invoices, the commits' times", SQL: billingSchema},
	{To: 3, What: "reconcile inputs: the dimensions dictionary, edge hits and errors in the daily rollups", SQL: reconcileSchema},
	{To: 4, What: "source progress: each source's first and newest events, and its hours", SQL: progressSchema},
}

// schemaVersion is the version this keymeter writes.
var schemaVersion = len(migrations)

// schemaV1 is the ledger. No table holds raw events: they go to the
// lake, and usage is answered from the daily rollups.
//
// IDs of 64 bits (request IDs, key IDs) are stored as BIGINT, the same
// bits as the uint64 read as int64.
const schemaV1 = `
CREATE TABLE km_meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);

-- objects: what each read of an object left (FindObject), appended by
-- the transaction that keeps the read's last rows.
CREATE TABLE objects (
	seq         BIGSERIAL PRIMARY KEY,
	uri         TEXT        NOT NULL,
	size        BIGINT      NOT NULL,
	mod_time    TIMESTAMPTZ,
	digest      TEXT        NOT NULL,
	etag        TEXT        NOT NULL,
	status      TEXT        NOT NULL,
	error       TEXT        NOT NULL,
	ingested_at TIMESTAMPTZ NOT NULL,
	lines       BIGINT      NOT NULL,
	events      BIGINT      NOT NULL,
	duplicates  BIGINT      NOT NULL,
	rejected    BIGINT      NOT NULL
);
CREATE INDEX objects_digest ON objects (digest) WHERE digest <> '';
CREATE INDEX objects_uri ON objects (uri);

-- object_claims: which worker reads an object, until when (see Claim).
CREATE TABLE object_claims (
	uri         TEXT PRIMARY KEY,
	worker      TEXT,
	lease_until TIMESTAMPTZ,
	done        BOOLEAN NOT NULL DEFAULT false
);

-- checkpoints: each stream shard's read position, committed with the
-- events read up to it.
CREATE TABLE checkpoints (
	stream   TEXT NOT NULL,
	shard    TEXT NOT NULL,
	sequence TEXT NOT NULL,
	PRIMARY KEY (stream, shard)
);

-- dedupe_ids: per source and request ID, the UTC hours (Unix hours) of
-- the events stored with it. One row per ID, so that the writers that
-- store the same ID meet on one row lock (see writer.commitIDs).
CREATE TABLE dedupe_ids (
	source SMALLINT NOT NULL,
	id_hi  BIGINT   NOT NULL,
	id_lo  BIGINT   NOT NULL,
	hours  BIGINT[] NOT NULL,
	PRIMARY KEY (source, id_hi, id_lo)
);

-- api_keys: every key imported or seen, with its current owner for
-- people's SQL; attribution reads key_owners.
CREATE TABLE api_keys (
	id          BIGINT PRIMARY KEY,
	fingerprint TEXT NOT NULL,
	hint        TEXT NOT NULL,
	customer    TEXT,
	assigned_at TIMESTAMPTZ,
	last_seen   TIMESTAMPTZ
);

-- key_owners: the ownership history, appended, never rewritten: from
-- valid_from on (event time; '-infinity' from the beginning of time) the
-- key belongs to customer, as recorded at recorded_at.
CREATE TABLE key_owners (
	key_id      BIGINT      NOT NULL,
	customer    TEXT        NOT NULL,
	valid_from  TIMESTAMPTZ NOT NULL,
	recorded_at TIMESTAMPTZ NOT NULL,
	seq         BIGSERIAL   PRIMARY KEY
);
CREATE INDEX key_owners_key ON key_owners (key_id, valid_from);

-- key_owner_spans: each key's owner spans [valid_from, valid_until) of
-- event time as currently known: the owner at t is the customer of the
-- latest assignment recorded whose valid_from is at or before t; a span
-- of no length is superseded.
CREATE VIEW key_owner_spans AS
SELECT key_id, customer, valid_from, valid_until FROM (
	SELECT key_id, customer, valid_from,
		lead(valid_from, 1, 'infinity') OVER (PARTITION BY key_id ORDER BY valid_from, recorded_at, seq) AS valid_until
	FROM (
		SELECT key_id, customer, valid_from, recorded_at, seq,
			max(recorded_at) OVER (PARTITION BY key_id ORDER BY valid_from, recorded_at, seq ROWS UNBOUNDED PRECEDING) AS newest
		FROM key_owners) h
	WHERE recorded_at = newest) s
WHERE valid_until > valid_from;

-- usage_daily and latency_daily: the exact totals and the time-taken
-- histogram (keymeter.LatencyBucket) per UTC day, source, key (0 when
-- unattributed) and attribution. Writers add their deltas to them.
CREATE TABLE usage_daily (
	source         SMALLINT NOT NULL,
	day            DATE     NOT NULL,
	key_id         BIGINT   NOT NULL,
	attribution    SMALLINT NOT NULL,
	requests       BIGINT   NOT NULL,
	bytes_sent     NUMERIC(39, 0) NOT NULL,
	bytes_received NUMERIC(39, 0) NOT NULL,
	tt_count       BIGINT   NOT NULL,
	tt_sum         NUMERIC(39, 0) NOT NULL,
	PRIMARY KEY (source, day, key_id, attribution)
);
CREATE TABLE latency_daily (
	source      SMALLINT NOT NULL,
	day         DATE     NOT NULL,
	key_id      BIGINT   NOT NULL,
	attribution SMALLINT NOT NULL,
	bucket      SMALLINT NOT NULL,
	n           BIGINT   NOT NULL,
	PRIMARY KEY (source, day, key_id, attribution, bucket)
);

-- rejects: records that could not be ingested, their text as bytes (it
-- may hold NUL, which TEXT cannot).
CREATE TABLE rejects (
	seq         BIGSERIAL PRIMARY KEY,
	source      SMALLINT    NOT NULL,
	object      TEXT        NOT NULL,
	line        BIGINT      NOT NULL,
	field       TEXT        NOT NULL,
	reason      TEXT        NOT NULL,
	text        BYTEA       NOT NULL,
	text_len    BIGINT      NOT NULL,
	rejected_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX rejects_object ON rejects (object);
`

// migrate brings the schema up to date, or refuses a newer one.
func (s *DB) migrate(ctx context.Context) error {
	for {
		done, err := s.migrateOne(ctx)
		if err != nil || done {
			return err
		}
	}
}

// migrateOne runs the next migration, if any, in one transaction under
// the migration lock, and reports whether the schema is up to date.
func (s *DB) migrateOne(ctx context.Context) (bool, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
		return false, fmt.Errorf("migrate: %w", err)
	}
	version, err := currentVersion(ctx, tx)
	if err != nil {
		return false, err
	}
	if version > schemaVersion {
		return false, keymeter.Errorf(keymeter.EINVALID, "the store has schema version %d, newer than this keymeter's %d: upgrade keymeter", version, schemaVersion)
	}
	if version == schemaVersion {
		return true, nil
	}
	m := migrations[version]
	if _, err := tx.Exec(ctx, m.SQL); err != nil {
		return false, keymeter.Errorf(keymeter.EINTERNAL, "upgrade the store to schema version %d (%s): %v", m.To, m.What, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO km_meta VALUES ('schema_version', $1)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, strconv.Itoa(m.To)); err != nil {
		return false, fmt.Errorf("record schema version %d: %w", m.To, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("upgrade the store to schema version %d: %w", m.To, err)
	}
	return false, nil
}

// currentVersion returns the schema's version: 0 when there is none.
func currentVersion(ctx context.Context, tx pgx.Tx) (int, error) {
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT to_regclass('km_meta') IS NOT NULL`).Scan(&exists); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	if !exists {
		return 0, nil
	}
	var v string
	err := tx.QueryRow(ctx, `SELECT value FROM km_meta WHERE key = 'schema_version'`).Scan(&v)
	if err == pgx.ErrNoRows {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("read schema version %q: %w", v, err)
	}
	return n, nil
}
