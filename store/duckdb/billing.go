package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keymeter/keymeter"
)

var _ keymeter.BillingStore = (*DB)(nil)

// missingTable reports whether err says a table does not exist: a store
// created by an older keymeter and opened read-only has no billing
// tables yet, which means it has no customers and no invoices.
func missingTable(err error) bool {
	return err != nil && strings.Contains(err.Error(), "does not exist")
}

// SetCustomer implements keymeter.CustomerStore.
func (s *DB) SetCustomer(ctx context.Context, c keymeter.CustomerPlan) error {
	if s.readOnly {
		return keymeter.Errorf(keymeter.EINVALID, "the store is open read-only")
	}
	if c.Customer == "" || c.Plan == "" {
		return keymeter.Errorf(keymeter.EINVALID, "a customer's assignment needs a customer and a plan")
	}
	if _, err := time.Parse(time.DateOnly, c.Start); err != nil {
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
	_, err := s.db.ExecContext(ctx, `INSERT OR REPLACE INTO customers VALUES (?, ?, CAST(? AS DATE), ?, ?, ?, ?)`,
		c.Customer, c.Plan, c.Start, nullString(c.StripeCustomerID), nullString(c.TimeZone), nullString(c.Periods), at.UTC())
	if err != nil {
		return fmt.Errorf("set customer %s: %w", c.Customer, err)
	}
	return nil
}

// nullString maps "" to NULL.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// RemoveCustomer implements keymeter.CustomerStore.
func (s *DB) RemoveCustomer(ctx context.Context, customer string) error {
	if s.readOnly {
		return keymeter.Errorf(keymeter.EINVALID, "the store is open read-only")
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM customers WHERE customer = ?`, customer)
	if err != nil {
		return fmt.Errorf("remove customer %s: %w", customer, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return keymeter.Errorf(keymeter.ENOTFOUND, "customer %q has no plan assignment in the store", customer)
	}
	return nil
}

// ListCustomers implements keymeter.CustomerStore.
func (s *DB) ListCustomers(ctx context.Context) ([]keymeter.CustomerPlan, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT customer, plan, strftime(start, '%Y-%m-%d'),
		coalesce(stripe_customer_id, ''), coalesce(time_zone, ''), coalesce(periods, ''), updated_at
		FROM customers ORDER BY customer`)
	if missingTable(err) {
		return nil, nil
	}
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
	return out, rows.Err()
}

// MeterTotals implements keymeter.MeterTotaler with one scan of the
// events view: every meter is a pair of FILTERed aggregates.
func (s *DB) MeterTotals(ctx context.Context, q keymeter.MeterQuery) ([]keymeter.MeterTotal, error) {
	return meterTotals(ctx, s.db, q)
}

// meterTotals runs the MeterTotals query on db (the store's, or a
// writer's connection inside its transaction).
func meterTotals(ctx context.Context, db interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, q keymeter.MeterQuery) ([]keymeter.MeterTotal, error) {
	query, args, err := meterSQL(q)
	if err != nil || query == "" {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, keymeter.Errorf(keymeter.EINVALID, "meter totals: %v", err)
	}
	defer rows.Close()
	var out []keymeter.MeterTotal
	var customer string
	vals := make([]keymeter.Int128, 2*len(q.Meters))
	dest := []any{&customer}
	for i := range vals {
		dest = append(dest, int128{&vals[i]})
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("meter totals: %w", err)
		}
		for i, m := range q.Meters {
			if vals[2*i].Sign() > 0 {
				out = append(out, keymeter.MeterTotal{Customer: customer, Meter: m.Name, Events: vals[2*i], Quantity: vals[2*i+1]})
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("meter totals: %w", err)
	}
	return out, nil
}

// meterSQL builds the MeterTotals query: "" when there is no meter.
func meterSQL(q keymeter.MeterQuery) (string, []any, error) {
	if q.From.IsZero() || q.To.IsZero() || !q.From.Before(q.To) {
		return "", nil, keymeter.Errorf(keymeter.EINVALID, "meter totals: the period [%s, %s) is empty",
			q.From.UTC().Format(time.RFC3339Nano), q.To.UTC().Format(time.RFC3339Nano))
	}
	if len(q.Meters) == 0 {
		return "", nil, nil
	}
	edge := slices.ContainsFunc(q.Meters, func(m keymeter.MeterSpec) bool { return m.Filter.Selects(keymeter.SourceEdge) })
	var b strings.Builder
	var args []any
	b.WriteString("SELECT customer")
	for _, m := range q.Meters {
		sum, ok := measureSum[m.Measure]
		if !ok {
			return "", nil, keymeter.Errorf(keymeter.EINVALID, "meter %q: unknown measure %q", m.Name, m.Measure)
		}
		where, wargs := whereSQL(&m.Filter, edge)
		filter := "FILTER (WHERE true)"
		if where != "" {
			filter = "FILTER (WHERE " + where + ")"
		}
		b.WriteString(",\n\tcount(*) " + filter)
		args = append(args, wargs...)
		if m.Measure == keymeter.MeasureRequests {
			b.WriteString(",\n\tcount(*) " + filter)
		} else {
			b.WriteString(",\n\t" + fmt.Sprintf(sum, filter))
		}
		args = append(args, wargs...)
	}
	switch {
	case edge:
		// The events of the logs, and the edge join's over the period
		// (and the events around it its rows depend on).
		known := "CAST('infinity' AS TIMESTAMP)"
		if !q.AsOf.IsZero() {
			known = tsLiteral(q.AsOf)
		}
		b.WriteString("\nFROM (SELECT * FROM events_as_of(" + known + ") UNION ALL BY NAME " + edgeEventsSQL(known, q.From, q.To) + ")")
	case q.AsOf.IsZero():
		b.WriteString("\nFROM events")
	default:
		b.WriteString("\nFROM events_as_of(?)")
		args = append(args, q.AsOf.UTC())
	}
	b.WriteString("\nWHERE customer IS NOT NULL AND time >= ? AND time < ?")
	args = append(args, q.From.UTC(), q.To.UTC())
	if q.Customer != "" {
		b.WriteString(" AND customer = ?")
		args = append(args, q.Customer)
	}
	b.WriteString("\nGROUP BY customer ORDER BY customer")
	return b.String(), args, nil
}

// LoadWatermark implements keymeter.MeterTotaler.
func (s *DB) LoadWatermark(ctx context.Context) (time.Time, error) {
	var t sql.NullTime
	err := s.db.QueryRowContext(ctx, `SELECT greatest(
		(SELECT max(loaded_at) FROM loads),
		(SELECT max(retracted_at) FROM retracted_events),
		(SELECT max(recorded_at) FILTER (WHERE NOT isinf(recorded_at)) FROM key_owners))`).Scan(&t)
	if err != nil {
		return time.Time{}, fmt.Errorf("load watermark: %w", err)
	}
	if !t.Valid {
		return time.Time{}, nil
	}
	return t.Time.UTC(), nil
}

// FinalizeInvoices implements keymeter.InvoiceStore.
func (s *DB) FinalizeInvoices(ctx context.Context, invoices []keymeter.FinalInvoice) error {
	if s.readOnly {
		return keymeter.Errorf(keymeter.EINVALID, "the store is open read-only")
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("finalize invoices: %w", err)
	}
	defer tx.Rollback()
	for _, inv := range invoices {
		var have string
		err := tx.QueryRowContext(ctx, `SELECT number FROM invoices WHERE customer = ? AND month = ?`, inv.Customer, inv.Month).Scan(&have)
		switch {
		case err == nil:
			return keymeter.Errorf(keymeter.ECONFLICT, "the %s invoice of %s is already finalized (%s)", inv.Month, inv.Customer, have)
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("finalize invoices: %w", err)
		}
		err = tx.QueryRowContext(ctx, `SELECT number FROM invoices WHERE seq = ? OR number = ?`, inv.Seq, inv.Number).Scan(&have)
		switch {
		case err == nil:
			return keymeter.Errorf(keymeter.ECONFLICT, "invoice number %s (sequence %d) is taken by %s", inv.Number, inv.Seq, have)
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("finalize invoices: %w", err)
		}
		var plan any
		if inv.PlanSnapshot != nil {
			plan = string(inv.PlanSnapshot)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO invoices BY NAME SELECT ? AS customer, ? AS month, ? AS seq, ? AS number,
			'final' AS status, ? AS cutoff, ? AS finalized_at, ? AS document, ? AS plan_snapshot`,
			inv.Customer, inv.Month, inv.Seq, inv.Number, inv.Cutoff.UTC(), inv.FinalizedAt.UTC(), string(inv.Document), plan)
		if err != nil {
			if strings.Contains(err.Error(), "Constraint Error") {
				return keymeter.Errorf(keymeter.ECONFLICT, "finalize the %s invoice of %s: %v", inv.Month, inv.Customer, err)
			}
			return fmt.Errorf("finalize the %s invoice of %s: %w", inv.Month, inv.Customer, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("finalize invoices: %w", err)
	}
	return nil
}

// Invoices implements keymeter.InvoiceStore.
func (s *DB) Invoices(ctx context.Context, f keymeter.InvoiceFilter) ([]keymeter.FinalInvoice, error) {
	q := `SELECT customer, month, seq, number, cutoff, finalized_at, document, plan_snapshot FROM invoices WHERE true`
	var args []any
	if f.Customer != "" {
		q += ` AND customer = ?`
		args = append(args, f.Customer)
	}
	if f.Month != "" {
		q += ` AND month = ?`
		args = append(args, f.Month)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY customer, month`, args...)
	if missingTable(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list invoices: %w", err)
	}
	defer rows.Close()
	var out []keymeter.FinalInvoice
	for rows.Next() {
		var inv keymeter.FinalInvoice
		var doc string
		var plan sql.NullString
		if err := rows.Scan(&inv.Customer, &inv.Month, &inv.Seq, &inv.Number, &inv.Cutoff, &inv.FinalizedAt, &doc, &plan); err != nil {
			return nil, fmt.Errorf("list invoices: %w", err)
		}
		inv.Cutoff, inv.FinalizedAt, inv.Document = inv.Cutoff.UTC(), inv.FinalizedAt.UTC(), []byte(doc)
		if plan.Valid {
			inv.PlanSnapshot = []byte(plan.String)
		}
		out = append(out, inv)
	}
	return out, rows.Err()
}

// LastInvoiceSeq implements keymeter.InvoiceStore.
func (s *DB) LastInvoiceSeq(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM invoices`).Scan(&n)
	if missingTable(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("last invoice number: %w", err)
	}
	return n, nil
}
