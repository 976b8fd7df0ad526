package duckdb

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/keymeter/keymeter"
)

// ImportKeys implements keymeter.KeyStore.
func (s *DB) ImportKeys(ctx context.Context, keys []keymeter.KeyAssignment) (keymeter.KeyImport, error) {
	var res keymeter.KeyImport
	if s.readOnly {
		return res, keymeter.Errorf(keymeter.EINVALID, "the store is open read-only")
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return res, fmt.Errorf("import keys: %w", err)
	}
	defer tx.Rollback()
	for _, k := range keys {
		if err := keymeter.CheckText("customer name", k.Customer); err != nil {
			return res, err
		}
	}
	now := s.opts.Now().UTC()
	for _, k := range keys {
		k.Fingerprint, k.Hint = keymeter.ValidUTF8(k.Fingerprint), keymeter.ValidUTF8(k.Hint)
		var have sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT customer FROM api_keys WHERE id = ?`, int64(k.ID)).Scan(&have)
		switch {
		case err == sql.ErrNoRows:
			_, err = tx.ExecContext(ctx, `INSERT INTO api_keys VALUES (?, ?, ?, ?, ?)`, int64(k.ID), k.Fingerprint, k.Hint, k.Customer, now)
			res.Added++
		case err != nil:
		case have.Valid && have.String == k.Customer:
			res.Unchanged++
		default:
			if have.Valid {
				res.Moved++
			} else {
				res.Assigned++
			}
			_, err = tx.ExecContext(ctx, `UPDATE api_keys SET customer = ?, assigned_at = ?, hint = ? WHERE id = ?`, k.Customer, now, k.Hint, int64(k.ID))
		}
		if err != nil {
			return keymeter.KeyImport{}, fmt.Errorf("import key %s: %w", k.Fingerprint, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return keymeter.KeyImport{}, fmt.Errorf("import keys: %w", err)
	}
	return res, nil
}

// ListKeys implements keymeter.KeyStore.
func (s *DB) ListKeys(ctx context.Context) ([]keymeter.Key, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT k.id, k.fingerprint, k.hint, k.customer, coalesce(u.n, 0), u.last
		FROM api_keys k
		LEFT JOIN (SELECT key_id, count(*) AS n, max(ts) AS last FROM event_rows WHERE key_id IS NOT NULL GROUP BY key_id) u
			ON u.key_id = k.id
		ORDER BY k.customer NULLS LAST, k.fingerprint`)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	defer rows.Close()
	var out []keymeter.Key
	for rows.Next() {
		var k keymeter.Key
		var id int64
		var customer sql.NullString
		var last sql.NullTime
		if err := rows.Scan(&id, &k.Fingerprint, &k.Hint, &customer, &k.Requests, &last); err != nil {
			return nil, fmt.Errorf("list keys: %w", err)
		}
		k.ID = uint64(id)
		k.Customer = customer.String
		if last.Valid {
			k.LastSeen = last.Time.UTC()
		}
		out = append(out, k)
	}
	return out, rows.Err()
}
