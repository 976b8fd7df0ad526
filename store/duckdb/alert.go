package duckdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/alert"
	"github.com/keymeter/keymeter/billing"
)

// The alert state and outbox (see package alert) are two tables, added
// by schema version 7. Crossings are keyed as alert.Crossing says; the
// outbox by idempotency key. Times are Unix microseconds, NULL for the
// zero time.
const alertSchema = `
CREATE TABLE IF NOT EXISTS alert_crossings (
	rule       VARCHAR NOT NULL,
	customer   VARCHAR NOT NULL,
	period     VARCHAR NOT NULL,
	kind       VARCHAR NOT NULL,
	threshold  VARCHAR NOT NULL, -- reduced decimal
	fired      BOOLEAN NOT NULL,
	count      BIGINT NOT NULL,
	fired_at   BIGINT,
	rearmed_at BIGINT,
	PRIMARY KEY (rule, customer, period, kind, threshold)
);
CREATE TABLE IF NOT EXISTS alert_outbox (
	key           VARCHAR PRIMARY KEY,
	rule          VARCHAR NOT NULL,
	customer      VARCHAR NOT NULL,
	meter         VARCHAR NOT NULL,
	period        VARCHAR NOT NULL,
	url           VARCHAR NOT NULL,
	body          BLOB NOT NULL,
	created_at    BIGINT NOT NULL,
	status        VARCHAR NOT NULL,
	attempts      INTEGER NOT NULL,
	next_at       BIGINT NOT NULL,
	last_status   INTEGER NOT NULL,
	last_error    VARCHAR NOT NULL,
	delivered_at  BIGINT,
	claim         VARCHAR,
	claimed_until BIGINT
);
`

func migrateAlerts(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, alertSchema)
	return err
}

var (
	_ alert.State  = (*DB)(nil)
	_ alert.Outbox = (*DB)(nil)
	_ alert.Tx     = alertTx{}
)

// execer is a connection, a transaction or the database.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// alertTx writes the alert state and the outbox through one transaction:
// the writer's (AlertTx) or Update's.
type alertTx struct{ q execer }

// AlertTx returns the alert state and outbox inside the writer's open
// transaction, for alert.Apply: what is written through it commits with
// the data, or is rolled back with it. Call it after Prepare.
func (w *writer) AlertTx() alert.Tx { return alertTx{w.conn} }

// Update implements alerttest.Store: fn's writes commit together, or
// none does when fn returns an error.
func (s *DB) Update(ctx context.Context, fn func(tx alert.Tx) error) error {
	if s.readOnly {
		return keymeter.Errorf(keymeter.EINVALID, "the store is open read-only")
	}
	s.alertMu.Lock()
	defer s.alertMu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(alertTx{tx}); err != nil {
		return err
	}
	return tx.Commit()
}

func micros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

func fromMicros(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMicro(v.Int64).UTC()
}

// Crossings implements alert.State.
func (s *DB) Crossings(ctx context.Context, customer, period string) ([]alert.Crossing, error) {
	cs, err := alertTx{s.db}.Crossings(ctx, customer, period)
	if missingTable(err) {
		return nil, nil
	}
	return cs, err
}

// PutCrossings implements alert.State.
func (s *DB) PutCrossings(ctx context.Context, cs []alert.Crossing) error {
	return s.Update(ctx, func(tx alert.Tx) error { return tx.PutCrossings(ctx, cs) })
}

// Enqueue implements alert.Enqueuer.
func (s *DB) Enqueue(ctx context.Context, msgs []alert.Message) error {
	return s.Update(ctx, func(tx alert.Tx) error { return tx.Enqueue(ctx, msgs) })
}

func (t alertTx) Crossings(ctx context.Context, customer, period string) ([]alert.Crossing, error) {
	rows, err := t.q.QueryContext(ctx, `SELECT rule, customer, period, kind, threshold, fired, count, fired_at, rearmed_at
		FROM alert_crossings WHERE customer = ? AND period = ?`, customer, period)
	if err != nil {
		return nil, fmt.Errorf("read alert crossings: %w", err)
	}
	defer rows.Close()
	var out []alert.Crossing
	for rows.Next() {
		var c alert.Crossing
		var kind, threshold string
		var fired, rearmed sql.NullInt64
		if err := rows.Scan(&c.Rule, &c.Customer, &c.Period, &kind, &threshold, &c.Fired, &c.Count, &fired, &rearmed); err != nil {
			return nil, fmt.Errorf("read alert crossings: %w", err)
		}
		c.Kind = alert.Kind(kind)
		if c.Threshold, err = billing.ParseDecimal(threshold); err != nil {
			return nil, fmt.Errorf("read alert crossings: threshold %q: %w", threshold, err)
		}
		c.FiredAt, c.RearmedAt = fromMicros(fired), fromMicros(rearmed)
		out = append(out, c)
	}
	return out, rows.Err()
}

func (t alertTx) PutCrossings(ctx context.Context, cs []alert.Crossing) error {
	for _, c := range cs {
		_, err := t.q.ExecContext(ctx, `INSERT INTO alert_crossings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (rule, customer, period, kind, threshold) DO UPDATE SET
				fired = excluded.fired, count = excluded.count, fired_at = excluded.fired_at, rearmed_at = excluded.rearmed_at`,
			c.Rule, c.Customer, c.Period, string(c.Kind), c.Threshold.Reduce().String(), c.Fired, c.Count, micros(c.FiredAt), micros(c.RearmedAt))
		if err != nil {
			return fmt.Errorf("store alert crossing %s/%s/%s: %w", c.Rule, c.Customer, c.Period, err)
		}
	}
	return nil
}

func (t alertTx) Enqueue(ctx context.Context, msgs []alert.Message) error {
	for i := range msgs {
		m := &msgs[i]
		if m.Key == "" || m.URL == "" || len(m.Body) == 0 {
			return keymeter.Errorf(keymeter.EINVALID, "alert message %q: a message needs a key, a URL and a body", m.Key)
		}
	}
	for i := range msgs {
		m := &msgs[i]
		next := m.NextAt
		if next.IsZero() {
			next = m.CreatedAt
		}
		_, err := t.q.ExecContext(ctx, `INSERT INTO alert_outbox VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, 0, '', NULL, NULL, NULL)
			ON CONFLICT (key) DO NOTHING`,
			m.Key, m.Rule, m.Customer, m.Meter, m.Period, m.URL, m.Body, m.CreatedAt.UnixMicro(), next.UnixMicro())
		if err != nil {
			return fmt.Errorf("enqueue alert %s: %w", m.Key, err)
		}
	}
	return nil
}

const outboxColumns = `key, rule, customer, meter, period, url, body, created_at, status, attempts, next_at,
	last_status, last_error, delivered_at, claim, claimed_until`

func scanMessages(rows *sql.Rows) ([]alert.Message, error) {
	defer rows.Close()
	var out []alert.Message
	for rows.Next() {
		var m alert.Message
		var status string
		var created, next int64
		var delivered, until sql.NullInt64
		var claim sql.NullString
		if err := rows.Scan(&m.Key, &m.Rule, &m.Customer, &m.Meter, &m.Period, &m.URL, &m.Body, &created, &status, &m.Attempts, &next,
			&m.LastStatus, &m.LastError, &delivered, &claim, &until); err != nil {
			return nil, fmt.Errorf("read alert outbox: %w", err)
		}
		m.Status = alert.Status(status)
		m.CreatedAt, m.NextAt = time.UnixMicro(created).UTC(), time.UnixMicro(next).UTC()
		m.DeliveredAt, m.ClaimedUntil = fromMicros(delivered), fromMicros(until)
		m.Claim = claim.String
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read alert outbox: %w", err)
	}
	return out, nil
}

// Claim implements alert.Outbox. The messages of one claim share its
// token, 16 random bytes in hex.
func (s *DB) Claim(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]alert.Message, error) {
	if limit <= 0 || lease <= 0 {
		return nil, keymeter.Errorf(keymeter.EINVALID, "claim: limit %d and lease %s must be positive", limit, lease)
	}
	if s.readOnly {
		return nil, keymeter.Errorf(keymeter.EINVALID, "the store is open read-only")
	}
	var b [16]byte
	rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	s.alertMu.Lock()
	defer s.alertMu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	at := now.UnixMicro()
	res, err := tx.ExecContext(ctx, `UPDATE alert_outbox SET claim = ?, claimed_until = ?
		WHERE key IN (SELECT key FROM alert_outbox
			WHERE status = 'pending' AND next_at <= ? AND (claim IS NULL OR claimed_until <= ?)
			ORDER BY next_at, created_at, key LIMIT ?)`,
		token, now.Add(lease).UnixMicro(), at, at, limit)
	if err != nil {
		return nil, fmt.Errorf("claim alert messages: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+outboxColumns+` FROM alert_outbox WHERE claim = ? ORDER BY next_at, created_at, key`, token)
	if err != nil {
		return nil, fmt.Errorf("claim alert messages: %w", err)
	}
	msgs, err := scanMessages(rows)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("claim alert messages: %w", err)
	}
	return msgs, nil
}

// record updates a message held under a.Claim with set (SQL assignments
// and their arguments).
func (s *DB) record(ctx context.Context, a alert.Attempt, set string, args ...any) error {
	if s.readOnly {
		return keymeter.Errorf(keymeter.EINVALID, "the store is open read-only")
	}
	s.alertMu.Lock()
	defer s.alertMu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var status string
	var claim sql.NullString
	err = tx.QueryRowContext(ctx, `SELECT status, claim FROM alert_outbox WHERE key = ?`, a.Key).Scan(&status, &claim)
	switch {
	case err == sql.ErrNoRows:
		return keymeter.Errorf(keymeter.ENOTFOUND, "no alert message %q", a.Key)
	case err != nil:
		return fmt.Errorf("read alert %s: %w", a.Key, err)
	case status != string(alert.Pending) || a.Claim == "" || claim.String != a.Claim:
		return alert.ErrLeaseLost
	}
	if _, err := tx.ExecContext(ctx, `UPDATE alert_outbox SET `+set+`, attempts = attempts + 1, claim = NULL, claimed_until = NULL WHERE key = ?`,
		append(args, a.Key)...); err != nil {
		return fmt.Errorf("record attempt of alert %s: %w", a.Key, err)
	}
	return tx.Commit()
}

// Delivered implements alert.Outbox.
func (s *DB) Delivered(ctx context.Context, a alert.Attempt) error {
	return s.record(ctx, a, `status = 'delivered', last_status = ?, last_error = '', delivered_at = ?`, a.Status, a.At.UnixMicro())
}

// Failed implements alert.Outbox.
func (s *DB) Failed(ctx context.Context, a alert.Attempt, retryAt time.Time) error {
	msg := keymeter.ValidUTF8(a.Error)
	if retryAt.IsZero() {
		return s.record(ctx, a, `status = 'dead', last_status = ?, last_error = ?`, a.Status, msg)
	}
	return s.record(ctx, a, `last_status = ?, last_error = ?, next_at = ?`, a.Status, msg, retryAt.UnixMicro())
}

// Messages implements alert.Outbox. A store that predates the outbox
// has no messages.
func (s *DB) Messages(ctx context.Context, f alert.Filter) ([]alert.Message, error) {
	var where []string
	var args []any
	for _, c := range []struct{ col, v string }{{"status", string(f.Status)}, {"customer", f.Customer}, {"rule", f.Rule}} {
		if c.v != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.v)
		}
	}
	q := `SELECT ` + outboxColumns + ` FROM alert_outbox`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY created_at, key`, args...)
	if missingTable(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read alert outbox: %w", err)
	}
	return scanMessages(rows)
}

// OutboxCounts counts the outbox's messages by status, for metrics. A
// store that predates the outbox has none.
func (s *DB) OutboxCounts(ctx context.Context) (map[alert.Status]int64, error) {
	out := map[alert.Status]int64{alert.Pending: 0, alert.Delivered: 0, alert.Dead: 0}
	rows, err := s.db.QueryContext(ctx, `SELECT status, count(*) FROM alert_outbox GROUP BY status`)
	if missingTable(err) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("count alert outbox: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var st string
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("count alert outbox: %w", err)
		}
		out[alert.Status(st)] = n
	}
	return out, rows.Err()
}
