package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/keymeter/keymeter"
)

// importLock is the key of the advisory lock imports run under, so that
// two commands importing keys at once classify against each other's
// result.
const importLock = 0x6b6d657465720002

// ImportKeys implements keymeter.KeyStore, in one transaction: the
// assignments go to a temporary table, are classified against the
// current owner spans, and are appended to key_owners when they change
// something.
func (s *DB) ImportKeys(ctx context.Context, keys []keymeter.KeyAssignment) (keymeter.KeyImport, error) {
	var res keymeter.KeyImport
	last := make(map[uint64]int, len(keys)) // the last assignment of each key
	for i, k := range keys {
		if k.Customer == "" {
			return res, keymeter.Errorf(keymeter.EINVALID, "import keys: key %s has no customer", k.Fingerprint)
		}
		var e *keymeter.Error
		if err := keymeter.CheckText("customer name", k.Customer); errors.As(err, &e) {
			return res, keymeter.Errorf(e.Code, "import keys: assignment %d (key %s): %s", i+1, keymeter.ValidUTF8(k.Fingerprint), e.Message)
		}
		last[k.ID] = i
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return res, fmt.Errorf("import keys: %w", err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(importLock)); err != nil {
		return res, fmt.Errorf("import keys: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE km_import (
		id BIGINT, fingerprint TEXT, hint TEXT, customer TEXT, valid_from TIMESTAMPTZ) ON COMMIT DROP`); err != nil {
		return res, fmt.Errorf("import keys: %w", err)
	}
	var rows [][]any
	for i, k := range keys {
		if last[k.ID] != i {
			continue
		}
		from := pgtype.Timestamptz{InfinityModifier: pgtype.NegativeInfinity, Valid: true}
		if !k.From.IsZero() {
			from = pgtype.Timestamptz{Time: k.From.UTC(), Valid: true}
		}
		rows = append(rows, []any{int64(k.ID), keymeter.ValidUTF8(k.Fingerprint), keymeter.ValidUTF8(k.Hint), k.Customer, from})
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"km_import"}, []string{"id", "fingerprint", "hint", "customer", "valid_from"}, pgx.CopyFromRows(rows)); err != nil {
		return res, fmt.Errorf("import keys: %w", err)
	}
	now := s.opts.Now().UTC()
	// Per assignment: is the key new, does another customer own it at some
	// time from From on (moved), does the customer own it at From
	// (covered)? Unchanged is neither moved nor uncovered.
	for _, st := range []struct {
		q    string
		args []any
	}{
		{`CREATE TEMP TABLE km_class ON COMMIT DROP AS
		SELECT i.id, i.fingerprint, i.hint, i.customer, i.valid_from,
			k.id IS NULL AS added,
			coalesce(bool_or(o.customer <> i.customer), false) AS moved,
			coalesce(bool_or(o.customer = i.customer AND o.valid_from <= i.valid_from), false) AS covered
		FROM km_import i
		LEFT JOIN api_keys k ON k.id = i.id
		LEFT JOIN key_owner_spans o ON o.key_id = i.id AND o.valid_until > i.valid_from
		GROUP BY i.id, i.fingerprint, i.hint, i.customer, i.valid_from, k.id`, nil},
		{`INSERT INTO api_keys (id, fingerprint, hint, customer, assigned_at)
		SELECT id, fingerprint, hint, customer, $1 FROM km_class WHERE added`, []any{now}},
		{`INSERT INTO key_owners (key_id, customer, valid_from, recorded_at)
		SELECT id, customer, valid_from, $1 FROM km_class WHERE added OR moved OR NOT covered ORDER BY id`, []any{now}},
		{`UPDATE api_keys SET customer = c.customer, hint = c.hint, assigned_at = $1
		FROM km_class c WHERE api_keys.id = c.id AND NOT c.added AND (c.moved OR NOT c.covered)`, []any{now}},
	} {
		if _, err := tx.Exec(ctx, st.q, st.args...); err != nil {
			return res, fmt.Errorf("import keys: %w", err)
		}
	}
	err = tx.QueryRow(ctx, `SELECT
		count(*) FILTER (WHERE added),
		count(*) FILTER (WHERE NOT added AND moved),
		count(*) FILTER (WHERE NOT added AND NOT moved AND NOT covered),
		count(*) FILTER (WHERE NOT added AND NOT moved AND covered)
		FROM km_class`).Scan(&res.Added, &res.Moved, &res.Assigned, &res.Unchanged)
	if err != nil {
		return keymeter.KeyImport{}, fmt.Errorf("import keys: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return keymeter.KeyImport{}, fmt.Errorf("import keys: %w", err)
	}
	return res, nil
}

// finiteTime is a timestamptz expression with the infinities as NULL.
func finiteTime(expr string) string {
	return `CASE WHEN isfinite(` + expr + `) THEN ` + expr + ` END`
}

// keyRequests is, per key and owner span (valid_from NULL: no owner),
// the key's requests and days, from the daily rollups: a rollup day
// belongs to the span that holds its start. A key's requests are those
// of CloudFront's standard log when it has any, else of its real-time
// log, else of API Gateway, so that one request logged twice is not
// counted twice (the exact join of both CloudFront logs needs the lake's
// events).
const keyRequests = `
	WITH d AS (
		SELECT r.key_id, r.day, r.source, r.requests, o.valid_from,
			min(r.source) OVER (PARTITION BY r.key_id) AS first_source
		FROM usage_daily r
		LEFT JOIN key_owner_spans o ON o.key_id = r.key_id AND o.valid_from <= r.day::timestamptz AND r.day::timestamptz < o.valid_until
		WHERE r.key_id <> 0)
	SELECT key_id, valid_from, sum(requests)::bigint AS n FROM d WHERE source = first_source GROUP BY key_id, valid_from`

// ListKeys implements keymeter.KeyStore. Requests are counted from the
// daily rollups (see keyRequests), exact for spans that start at UTC
// midnight. LastSeen is the newest event of the key, reported on the
// span that holds it (zero on the others: the newest event of each span
// needs the lake's events).
func (s *DB) ListKeys(ctx context.Context) ([]keymeter.Key, error) {
	rows, err := s.pool.Query(ctx, `
		WITH u AS (`+keyRequests+`),
		spans AS (
			SELECT o.key_id, o.customer, o.valid_from, o.valid_until, coalesce(u.n, 0) AS n
			FROM key_owner_spans o LEFT JOIN u ON u.key_id = o.key_id AND u.valid_from = o.valid_from
			UNION ALL
			SELECT k.id, NULL, NULL, (SELECT min(valid_from) FROM key_owner_spans w WHERE w.key_id = k.id), coalesce(u.n, 0)
			FROM api_keys k LEFT JOIN u ON u.key_id = k.id AND u.valid_from IS NULL
			WHERE u.key_id IS NOT NULL OR NOT EXISTS (SELECT 1 FROM key_owners w WHERE w.key_id = k.id))
		SELECT k.id, k.fingerprint, k.hint, s.customer, `+finiteTime("s.valid_from")+`, `+finiteTime("s.valid_until")+`, s.n,
			CASE WHEN k.last_seen >= coalesce(s.valid_from, '-infinity') AND k.last_seen < coalesce(s.valid_until, 'infinity') THEN k.last_seen END
		FROM spans s JOIN api_keys k ON k.id = s.key_id
		ORDER BY s.customer COLLATE "C" NULLS LAST, k.fingerprint COLLATE "C", s.valid_from NULLS FIRST`)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	defer rows.Close()
	var out []keymeter.Key
	for rows.Next() {
		var k keymeter.Key
		var id int64
		var customer *string
		var from, until, last *time.Time
		if err := rows.Scan(&id, &k.Fingerprint, &k.Hint, &customer, &from, &until, &k.Requests, &last); err != nil {
			return nil, fmt.Errorf("list keys: %w", err)
		}
		k.ID = uint64(id)
		if customer != nil {
			k.Customer = *customer
		}
		if from != nil {
			k.From = from.UTC()
		}
		if until != nil {
			k.Until = until.UTC()
		}
		if last != nil {
			k.LastSeen = last.UTC()
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	return out, nil
}

// OwnerSpans implements keymeter.KeyStore.
func (s *DB) OwnerSpans(ctx context.Context) ([]keymeter.OwnerSpan, error) {
	rows, err := s.pool.Query(ctx, `SELECT key_id, customer, `+finiteTime("valid_from")+`, `+finiteTime("valid_until")+`
		FROM key_owner_spans ORDER BY key_id, valid_from`)
	if err != nil {
		return nil, fmt.Errorf("owner spans: %w", err)
	}
	defer rows.Close()
	var out []keymeter.OwnerSpan
	for rows.Next() {
		var sp keymeter.OwnerSpan
		var id int64
		var from, until *time.Time
		if err := rows.Scan(&id, &sp.Customer, &from, &until); err != nil {
			return nil, fmt.Errorf("owner spans: %w", err)
		}
		sp.KeyID = uint64(id)
		if from != nil {
			sp.From = from.UTC()
		}
		if until != nil {
			sp.Until = until.UTC()
		}
		out = append(out, sp)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("owner spans: %w", err)
	}
	return out, nil
}
