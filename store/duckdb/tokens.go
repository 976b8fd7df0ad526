package duckdb

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keymeter/keymeter"
)

var _ keymeter.TokenStore = (*DB)(nil)

// tokensSchema is migration 6's table: API tokens by ID, with the
// SHA-256 of their secret part only.
const tokensSchema = `
CREATE TABLE tokens (
	id         VARCHAR PRIMARY KEY,
	customer   VARCHAR,              -- NULL: an admin token
	hash       VARCHAR NOT NULL,     -- SHA-256 of the secret part, in hex
	created_at TIMESTAMP NOT NULL,
	revoked_at TIMESTAMP
);
`

func migrateTokens(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, tokensSchema)
	return err
}

// CreateToken implements keymeter.TokenStore.
func (s *DB) CreateToken(ctx context.Context, t keymeter.Token) error {
	if s.readOnly {
		return keymeter.Errorf(keymeter.EINVALID, "the store is open read-only")
	}
	if t.ID == "" {
		return keymeter.Errorf(keymeter.EINVALID, "a token needs an ID")
	}
	for _, f := range [][2]string{{"token ID", t.ID}, {"customer name", t.Customer}} {
		if err := keymeter.CheckText(f[0], f[1]); err != nil {
			return err
		}
	}
	at := t.CreatedAt
	if at.IsZero() {
		at = s.opts.Now()
	}
	var revoked any
	if !t.RevokedAt.IsZero() {
		revoked = t.RevokedAt.UTC()
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO tokens VALUES (?, ?, ?, ?, ?)`,
		t.ID, nullString(t.Customer), hex.EncodeToString(t.Hash[:]), at.UTC(), revoked)
	if err != nil && strings.Contains(err.Error(), "onstraint") {
		return keymeter.Errorf(keymeter.ECONFLICT, "a token with ID %s exists", t.ID)
	}
	if err != nil {
		return fmt.Errorf("create token %s: %w", t.ID, err)
	}
	return nil
}

const tokenColumns = `id, coalesce(customer, ''), hash, created_at, revoked_at`

func scanToken(sc interface{ Scan(...any) error }) (keymeter.Token, error) {
	var t keymeter.Token
	var hexHash string
	var revoked sql.NullTime
	if err := sc.Scan(&t.ID, &t.Customer, &hexHash, &t.CreatedAt, &revoked); err != nil {
		return t, err
	}
	hash, err := hex.DecodeString(hexHash)
	if err != nil || len(hash) != len(t.Hash) {
		return t, fmt.Errorf("token %s: a hash of %d bytes", t.ID, len(hash))
	}
	copy(t.Hash[:], hash)
	t.CreatedAt = t.CreatedAt.UTC()
	if revoked.Valid {
		t.RevokedAt = revoked.Time.UTC()
	}
	return t, nil
}

// Token implements keymeter.TokenStore.
func (s *DB) Token(ctx context.Context, id string) (keymeter.Token, error) {
	t, err := scanToken(s.db.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) || missingTable(err) {
		return keymeter.Token{}, keymeter.Errorf(keymeter.ENOTFOUND, "no token %q", id)
	}
	if err != nil {
		return keymeter.Token{}, fmt.Errorf("read token %s: %w", id, err)
	}
	return t, nil
}

// ListTokens implements keymeter.TokenStore.
func (s *DB) ListTokens(ctx context.Context) ([]keymeter.Token, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+tokenColumns+` FROM tokens ORDER BY created_at, id`)
	if missingTable(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var out []keymeter.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}

// RevokeToken implements keymeter.TokenStore.
func (s *DB) RevokeToken(ctx context.Context, id string, at time.Time) error {
	if s.readOnly {
		return keymeter.Errorf(keymeter.EINVALID, "the store is open read-only")
	}
	res, err := s.db.ExecContext(ctx, `UPDATE tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?`, at.UTC(), id)
	if err != nil {
		return fmt.Errorf("revoke token %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("revoke token %s: %w", id, err)
	}
	if n == 0 {
		return keymeter.Errorf(keymeter.ENOTFOUND, "no token %q", id)
	}
	return nil
}
