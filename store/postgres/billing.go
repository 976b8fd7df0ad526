package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/keymeter/keymeter"
)

// billingSchema is migration 2: customers' plan assignments, finalized
// invoices (their documents as bytes, exactly as given), and one row per
// writer commit, appended (no row that every worker updates), whose
// newest time is part of the load watermark.
const billingSchema = `
CREATE TABLE customers (
	customer           TEXT PRIMARY KEY,
	plan               TEXT NOT NULL,
	start              DATE NOT NULL,
	stripe_customer_id TEXT,
	time_zone          TEXT,
	periods            TEXT,
	updated_at         TIMESTAMPTZ NOT NULL
);

CREATE TABLE invoices (
	customer      TEXT        NOT NULL,
	month         TEXT        NOT NULL,
	seq           BIGINT      NOT NULL UNIQUE,
	number        TEXT        NOT NULL UNIQUE,
	cutoff        TIMESTAMPTZ NOT NULL,
	finalized_at  TIMESTAMPTZ NOT NULL,
	document      BYTEA       NOT NULL,
	plan_snapshot BYTEA,
	PRIMARY KEY (customer, month)
);

CREATE TABLE commits (
	seq          BIGSERIAL PRIMARY KEY,
	committed_at TIMESTAMPTZ NOT NULL
);
`

var _ keymeter.BillingStore = (*DB)(nil)

// SetCustomer implements keymeter.CustomerStore.
func (s *DB) SetCustomer(ctx context.Context, c keymeter.CustomerPlan) error {
	if c.Customer == "" || c.Plan == "" {
		return keymeter.Errorf(keymeter.EINVALID, "a customer's assignment needs a customer and a plan")
	}
	start, err := time.Parse(time.DateOnly, c.Start)
	if err != nil {
		return keymeter.Errorf(keymeter.EINVALID, "start %q is not a date (want YYYY-MM-DD)", c.Start)
	}
	for _, f := range [][2]string{{"customer name", c.Customer}, {"plan", c.Plan}, {"Stripe customer ID", c.StripeCustomerID},
		{"time zone", c.TimeZone}, {"periods", c.Periods}} {
		if err := keymeter.CheckText(f[0], f[1]); err != nil {
			return err
		}
	}
	at := c.UpdatedAt
	if at.IsZero() {
		at = s.opts.Now()
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO customers VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (customer) DO UPDATE SET plan = excluded.plan, start = excluded.start,
			stripe_customer_id = excluded.stripe_customer_id, time_zone = excluded.time_zone,
			periods = excluded.periods, updated_at = excluded.updated_at`,
		c.Customer, c.Plan, start, nullString(c.StripeCustomerID), nullString(c.TimeZone), nullString(c.Periods), at.UTC())
	if err != nil {
		return fmt.Errorf("set customer %s: %w", c.Customer, err)
	}
	return nil
}

// nullString maps "" to NULL.
func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// RemoveCustomer implements keymeter.CustomerStore.
func (s *DB) RemoveCustomer(ctx context.Context, customer string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM customers WHERE customer = $1`, keymeter.ValidUTF8(customer))
	if err != nil {
		return fmt.Errorf("remove customer %s: %w", customer, err)
	}
	if tag.RowsAffected() == 0 {
		return keymeter.Errorf(keymeter.ENOTFOUND, "customer %q has no plan assignment in the store", keymeter.ValidUTF8(customer))
	}
	return nil
}

// ListCustomers implements keymeter.CustomerStore.
func (s *DB) ListCustomers(ctx context.Context) ([]keymeter.CustomerPlan, error) {
	rows, err := s.pool.Query(ctx, `SELECT customer, plan, to_char(start, 'YYYY-MM-DD'), coalesce(stripe_customer_id, ''),
		coalesce(time_zone, ''), coalesce(periods, ''), updated_at FROM customers ORDER BY customer COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("list customers: %w", err)
	}
	defer rows.Close()
	var out []keymeter.CustomerPlan
	for rows.Next() {
		var c keymeter.CustomerPlan
		if err := rows.Scan(&c.Customer, &c.Plan, &c.Start, &c.StripeCustomerID, &c.TimeZone, &c.Periods, &c.UpdatedAt); err != nil {
			return nil, fmt.Errorf("list customers: %w", err)
		}
		c.UpdatedAt = c.UpdatedAt.UTC()
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list customers: %w", err)
	}
	return out, nil
}

// MeterTotals implements keymeter.MeterTotaler. A meter's filter is a
// condition on each event (path, status, method, ...), which daily
// rollups cannot evaluate: until the lake answers them, every meter
// query is refused with an EINVALID error.
func (s *DB) MeterTotals(ctx context.Context, q keymeter.MeterQuery) ([]keymeter.MeterTotal, error) {
	if !q.From.Before(q.To) {
		return nil, keymeter.Errorf(keymeter.EINVALID, "the period from %s to %s is empty", q.From.UTC().Format(time.RFC3339Nano), q.To.UTC().Format(time.RFC3339Nano))
	}
	return nil, needsLake("a meter's total (its filter is a condition on each event)")
}

// LoadWatermark implements keymeter.MeterTotaler: the newest commit,
// object record or key assignment.
func (s *DB) LoadWatermark(ctx context.Context) (time.Time, error) {
	var t *time.Time
	err := s.pool.QueryRow(ctx, `SELECT max(t) FROM (
		SELECT max(committed_at) AS t FROM commits
		UNION ALL SELECT max(ingested_at) FROM objects
		UNION ALL SELECT max(recorded_at) FROM key_owners WHERE isfinite(recorded_at)) w`).Scan(&t)
	if err != nil {
		return time.Time{}, fmt.Errorf("load watermark: %w", err)
	}
	if t == nil {
		return time.Time{}, nil
	}
	return t.UTC(), nil
}

// FinalizeInvoices implements keymeter.InvoiceStore, in one transaction.
func (s *DB) FinalizeInvoices(ctx context.Context, invoices []keymeter.FinalInvoice) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("finalize invoices: %w", err)
	}
	defer tx.Rollback(context.Background())
	for _, inv := range invoices {
		var have string
		err := tx.QueryRow(ctx, `SELECT number FROM invoices WHERE customer = $1 AND month = $2`, inv.Customer, inv.Month).Scan(&have)
		if err == nil {
			return keymeter.Errorf(keymeter.ECONFLICT, "the %s invoice of %s is already finalized (%s)", inv.Month, inv.Customer, have)
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("finalize invoices: %w", err)
		}
		err = tx.QueryRow(ctx, `SELECT customer || ' ' || month FROM invoices WHERE seq = $1 OR number = $2 LIMIT 1`, inv.Seq, inv.Number).Scan(&have)
		if err == nil {
			return keymeter.Errorf(keymeter.ECONFLICT, "invoice number %s (sequence %d) is taken by %s", inv.Number, inv.Seq, have)
		} else if !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("finalize invoices: %w", err)
		}
		_, err = tx.Exec(ctx, `INSERT INTO invoices VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			inv.Customer, inv.Month, inv.Seq, inv.Number, inv.Cutoff.UTC(), inv.FinalizedAt.UTC(), inv.Document, inv.PlanSnapshot)
		if err != nil {
			// Another command finalizing at the same time took the month,
			// the sequence or the number.
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.Code == "23505" {
				return keymeter.Errorf(keymeter.ECONFLICT, "finalize the %s invoice of %s: %v", inv.Month, inv.Customer, pe.Message)
			}
			return fmt.Errorf("finalize the %s invoice of %s: %w", inv.Month, inv.Customer, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("finalize invoices: %w", err)
	}
	return nil
}

// Invoices implements keymeter.InvoiceStore.
func (s *DB) Invoices(ctx context.Context, f keymeter.InvoiceFilter) ([]keymeter.FinalInvoice, error) {
	rows, err := s.pool.Query(ctx, `SELECT customer, month, seq, number, cutoff, finalized_at, document, plan_snapshot FROM invoices
		WHERE ($1 = '' OR customer = $1) AND ($2 = '' OR month = $2) ORDER BY customer COLLATE "C", month`, f.Customer, f.Month)
	if err != nil {
		return nil, fmt.Errorf("list invoices: %w", err)
	}
	defer rows.Close()
	var out []keymeter.FinalInvoice
	for rows.Next() {
		var i keymeter.FinalInvoice
		if err := rows.Scan(&i.Customer, &i.Month, &i.Seq, &i.Number, &i.Cutoff, &i.FinalizedAt, &i.Document, &i.PlanSnapshot); err != nil {
			return nil, fmt.Errorf("list invoices: %w", err)
		}
		i.Cutoff, i.FinalizedAt = i.Cutoff.UTC(), i.FinalizedAt.UTC()
		out = append(out, i)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list invoices: %w", err)
	}
	return out, nil
}

// LastInvoiceSeq implements keymeter.InvoiceStore.
func (s *DB) LastInvoiceSeq(ctx context.Context) (int64, error) {
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM invoices`).Scan(&n); err != nil {
		return 0, fmt.Errorf("last invoice sequence: %w", err)
	}
	return n, nil
}
