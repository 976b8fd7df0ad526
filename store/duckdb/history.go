package duckdb

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/keymeter/keymeter"
)

// The store is bitemporal for billing: besides the time of an event, it
// keeps when each fact became known, so that any question can be asked
// "as of" a time and gets the answer it got then.
//
//   - An event is known from its load's loaded_at. A retracted event
//     (keymeter ingest --reprocess replaced it) moves from event_rows to
//     retracted_events with its retracted_at: it leaves every question of
//     current knowledge, and stays for questions as of a time before
//     retracted_at. Keeping it out of event_rows keeps it out of
//     duplicate detection, which reads event_rows only.
//   - A key's owner is a history, key_owners: each row says that from
//     valid_from on (event time) the key belongs to customer, and was
//     recorded at recorded_at. As of a time T, the owner of a key at
//     event time t is the customer of the latest row recorded by T whose
//     valid_from is at or before t: a later assignment overrides earlier
//     ones from its valid_from on, and leaves the time before it alone.
//
// events_as_of(T) is the events view as of T; events is
// events_as_of(infinity). An invoice with cutoff C counts
// events_as_of(C), so its queries give the same answers forever.

// historySchema is migration 2's schema (see migrateHistory).
const historySchema = `
CREATE TABLE key_owners (
	key_id      BIGINT    NOT NULL,
	customer    VARCHAR   NOT NULL,
	valid_from  TIMESTAMP NOT NULL, -- '-infinity': from the beginning of time
	recorded_at TIMESTAMP NOT NULL  -- '-infinity': known before keymeter kept history
);

CREATE TABLE retracted_events AS SELECT *, CAST(NULL AS TIMESTAMP) AS retracted_at FROM event_rows LIMIT 0;

ALTER TABLE invoices ADD COLUMN plan_snapshot VARCHAR;
`

// migrateHistory creates the history tables. A version 1 store knew only
// each key's current owner: that becomes the owner from the beginning of
// time, known since always, which is what version 1 reported.
// retracted_events has the columns of event_rows: a migration that changes
// event_rows must change it the same way.
func migrateHistory(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, historySchema); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO key_owners
		SELECT id, customer, '-infinity', '-infinity' FROM api_keys WHERE customer IS NOT NULL`)
	return err
}

// historyViews are created at every open, before views. key_owners_as_of
// gives each key's owner spans [valid_from, valid_until) of event time
// as known at known_at (valid_until infinity: open-ended; a span of no
// length is superseded); key_owner_spans are those known now. The bounds
// are never NULL, so that joins on them are conjunctions DuckDB can hash
// on the key (an OR would make it a nested loop).
const historyViews = `
CREATE OR REPLACE MACRO key_owners_as_of(known_at) AS TABLE
SELECT key_id, customer, valid_from,
	lead(valid_from, 1, 'infinity') OVER (PARTITION BY key_id ORDER BY valid_from, recorded_at, customer) AS valid_until
FROM (
	SELECT key_id, customer, valid_from, recorded_at,
		max(recorded_at) OVER (PARTITION BY key_id ORDER BY valid_from, recorded_at, customer ROWS UNBOUNDED PRECEDING) AS newest
	FROM key_owners WHERE recorded_at <= known_at)
WHERE recorded_at = newest;

CREATE OR REPLACE VIEW key_owner_spans AS
SELECT * FROM key_owners_as_of(CAST('infinity' AS TIMESTAMP))
WHERE valid_until > valid_from;
`

// ownerJoin joins the owner span o of the key of event row e.
const ownerJoin = `o.key_id = e.key_id AND e.ts >= o.valid_from AND e.ts < o.valid_until`

// finiteTime returns the SQL of a timestamp column with ±infinity as NULL,
// for scanning.
func finiteTime(col string) string {
	return "CASE WHEN isinf(" + col + ") THEN NULL ELSE " + col + " END"
}

// sqlTime maps the zero time to -infinity, the beginning of time.
func sqlTime(t time.Time) any {
	if t.IsZero() {
		return "-infinity"
	}
	return t.UTC()
}

// OwnerSpans implements keymeter.KeyStore.
func (s *DB) OwnerSpans(ctx context.Context) ([]keymeter.OwnerSpan, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT key_id, customer, `+finiteTime("valid_from")+`, `+finiteTime("valid_until")+`
		FROM key_owner_spans ORDER BY key_id, valid_from`)
	if err != nil {
		return nil, fmt.Errorf("key owners: %w", err)
	}
	defer rows.Close()
	var out []keymeter.OwnerSpan
	for rows.Next() {
		var sp keymeter.OwnerSpan
		var id int64
		var from, until sql.NullTime
		if err := rows.Scan(&id, &sp.Customer, &from, &until); err != nil {
			return nil, fmt.Errorf("key owners: %w", err)
		}
		sp.KeyID = uint64(id)
		if from.Valid {
			sp.From = from.Time.UTC()
		}
		if until.Valid {
			sp.Until = until.Time.UTC()
		}
		out = append(out, sp)
	}
	return out, rows.Err()
}

// ownerChangeWithin reports whether a key changes owner at a time inside
// a UTC day of [from, to) (not at its midnight): the daily rollups, which
// are per key, cannot split such a day between its owners.
func (s *DB) ownerChangeWithin(ctx context.Context, from, to time.Time) (bool, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM key_owners
		WHERE valid_from > ? AND valid_from < ? AND valid_from <> date_trunc('day', valid_from)`, from.UTC(), to.UTC()).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("usage: key owners: %w", err)
	}
	return n > 0, nil
}
