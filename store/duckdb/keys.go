package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/keymeter/keymeter"
)

// ImportKeys implements keymeter.KeyStore. The assignments are appended
// to a temporary table and applied with a few set-based statements in
// one transaction, so that 100,000 keys take about a second. api_keys
// keeps each key's fingerprint and hint, and its current owner (that of
// its latest span) for people's SQL; attribution reads key_owners.
func (s *DB) ImportKeys(ctx context.Context, keys []keymeter.KeyAssignment) (keymeter.KeyImport, error) {
	var res keymeter.KeyImport
	if s.readOnly {
		return res, keymeter.Errorf(keymeter.EINVALID, "the store is open read-only")
	}
	last := make(map[uint64]int, len(keys)) // the last assignment of each key
	for i, k := range keys {
		if k.Customer == "" {
			return res, keymeter.Errorf(keymeter.EINVALID, "import keys: key %s has no customer", k.Fingerprint)
		}
		// A name is matched as it is: one that is not UTF-8 is refused, not
		// changed (keymeter.CheckText).
		var e *keymeter.Error
		if err := keymeter.CheckText("customer name", k.Customer); errors.As(err, &e) {
			return res, keymeter.Errorf(e.Code, "import keys: assignment %d (key %s): %s", i+1, keymeter.ValidUTF8(k.Fingerprint), e.Message)
		}
		last[k.ID] = i
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return res, fmt.Errorf("import keys: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `CREATE OR REPLACE TEMP TABLE km_import (
		id BIGINT, fingerprint VARCHAR, hint VARCHAR, customer VARCHAR, valid_from TIMESTAMP)`); err != nil {
		return res, fmt.Errorf("import keys: %w", err)
	}
	defer conn.ExecContext(context.Background(), `DROP TABLE IF EXISTS km_import; DROP TABLE IF EXISTS km_class`)
	if _, err := conn.ExecContext(ctx, `BEGIN TRANSACTION`); err != nil {
		return res, fmt.Errorf("import keys: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			conn.ExecContext(context.Background(), `ROLLBACK`)
		}
	}()
	err = conn.Raw(func(dc any) error {
		app, err := duckdb.NewAppender(dc.(driver.Conn), "temp", "main", "km_import")
		if err != nil {
			return err
		}
		for i, k := range keys {
			if last[k.ID] != i {
				continue
			}
			var from any
			if !k.From.IsZero() {
				from = k.From.UTC()
			}
			// Fingerprints and hints are stored valid UTF-8, as every
			// string the store keeps (keymeter.ValidUTF8).
			if err := app.AppendRow(int64(k.ID), keymeter.ValidUTF8(k.Fingerprint), keymeter.ValidUTF8(k.Hint), k.Customer, from); err != nil {
				app.Close()
				return err
			}
		}
		return app.Close()
	})
	if err != nil {
		return res, fmt.Errorf("import keys: %w", err)
	}
	now := s.opts.Now().UTC()
	// Per assignment: is the key new, does another customer own it at some
	// time from From on (moved), does the customer own it at From
	// (covered)? Unchanged is neither moved nor uncovered.
	steps := []struct {
		q    string
		args []any
	}{
		{`CREATE OR REPLACE TEMP TABLE km_class AS
		SELECT i.id, i.fingerprint, i.hint, i.customer, coalesce(i.valid_from, '-infinity') AS valid_from,
			k.id IS NULL AS added,
			coalesce(bool_or(o.customer <> i.customer), false) AS moved,
			coalesce(bool_or(o.customer = i.customer AND o.valid_from <= coalesce(i.valid_from, '-infinity')), false) AS covered
		FROM km_import i
		LEFT JOIN api_keys k ON k.id = i.id
		LEFT JOIN key_owner_spans o ON o.key_id = i.id AND o.valid_until > coalesce(i.valid_from, '-infinity')
		GROUP BY ALL`, nil},
		{`INSERT INTO api_keys SELECT id, fingerprint, hint, customer, ? FROM km_class WHERE added`, []any{now}},
		{`INSERT INTO key_owners SELECT id, customer, valid_from, ? FROM km_class WHERE added OR moved OR NOT covered`, []any{now}},
		{`UPDATE api_keys SET customer = c.customer, hint = c.hint, assigned_at = ?
		FROM km_class c WHERE api_keys.id = c.id AND NOT c.added AND (c.moved OR NOT c.covered)`, []any{now}},
	}
	for _, st := range steps {
		if _, err := conn.ExecContext(ctx, st.q, st.args...); err != nil {
			return res, fmt.Errorf("import keys: %w", err)
		}
	}
	err = conn.QueryRowContext(ctx, `SELECT
		count(*) FILTER (WHERE added),
		count(*) FILTER (WHERE NOT added AND moved),
		count(*) FILTER (WHERE NOT added AND NOT moved AND NOT covered),
		count(*) FILTER (WHERE NOT added AND NOT moved AND covered)
		FROM km_class`).Scan(&res.Added, &res.Moved, &res.Assigned, &res.Unchanged)
	if err != nil {
		return keymeter.KeyImport{}, fmt.Errorf("import keys: %w", err)
	}
	if _, err := conn.ExecContext(ctx, `COMMIT`); err != nil {
		return keymeter.KeyImport{}, fmt.Errorf("import keys: %w", err)
	}
	committed = true
	return res, nil
}

// ListKeys implements keymeter.KeyStore: the events of each key are
// counted per owner span, and those outside every span (before the key's
// first owner) as unassigned. A key's requests are those of the edge
// join (each CloudFront request once), or, for a key only API Gateway
// logged, the origin's: edge and origin counts are never added.
func (s *DB) ListKeys(ctx context.Context) ([]keymeter.Key, error) {
	rows, err := s.db.QueryContext(ctx, `
		WITH u AS (
			SELECT e.key_id, o.valid_from,
				CASE WHEN count(*) FILTER (WHERE e.source = 4) > 0 THEN count(*) FILTER (WHERE e.source = 4) ELSE count(*) END AS n,
				max(e.ts) AS last
			FROM (SELECT key_id, ts, source FROM `+edgeSQL("event_rows")+` WHERE key_id IS NOT NULL
				UNION ALL SELECT key_id, ts, source FROM event_rows WHERE source = 3 AND key_id IS NOT NULL) e
			LEFT JOIN key_owner_spans o ON `+ownerJoin+`
			GROUP BY ALL),
		spans AS (
			SELECT o.key_id, o.customer, o.valid_from, o.valid_until, coalesce(u.n, 0) AS n, u.last
			FROM key_owner_spans o LEFT JOIN u ON u.key_id = o.key_id AND u.valid_from = o.valid_from
			UNION ALL
			SELECT k.id, NULL, NULL, (SELECT min(valid_from) FROM key_owner_spans w WHERE w.key_id = k.id), coalesce(u.n, 0), u.last
			FROM api_keys k LEFT JOIN u ON u.key_id = k.id AND u.valid_from IS NULL
			WHERE u.key_id IS NOT NULL OR NOT EXISTS (SELECT 1 FROM key_owners w WHERE w.key_id = k.id))
		SELECT k.id, k.fingerprint, k.hint, s.customer, `+finiteTime("s.valid_from")+`, `+finiteTime("s.valid_until")+`, s.n, s.last
		FROM spans s JOIN api_keys k ON k.id = s.key_id
		ORDER BY s.customer NULLS LAST, k.fingerprint, s.valid_from NULLS FIRST`)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	defer rows.Close()
	var out []keymeter.Key
	for rows.Next() {
		var k keymeter.Key
		var id int64
		var customer sql.NullString
		var from, until, last sql.NullTime
		if err := rows.Scan(&id, &k.Fingerprint, &k.Hint, &customer, &from, &until, &k.Requests, &last); err != nil {
			return nil, fmt.Errorf("list keys: %w", err)
		}
		k.ID = uint64(id)
		k.Customer = customer.String
		if from.Valid {
			k.From = from.Time.UTC()
		}
		if until.Valid {
			k.Until = until.Time.UTC()
		}
		if last.Valid {
			k.LastSeen = last.Time.UTC()
		}
		out = append(out, k)
	}
	return out, rows.Err()
}
