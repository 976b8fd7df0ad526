package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/alert"
	"github.com/keymeter/keymeter/billing"
)

// Alerts are the alert rules and how their webhooks are delivered, as
// the caller loaded them (see package alert).
type Alerts struct {
	// Rules are the rules, validated by the caller on their own; the
	// service checks them against the billing config (with the store's
	// customers merged in) when it uses them.
	Rules alert.Rules
	// Billing holds the plans, meters and customers the rules watch.
	Billing *Billing
	// Policy bounds the deliveries: timeouts, backoff and giving up.
	Policy alert.Policy
	// Client sends the webhooks; nil for a client of the deliverer's own.
	Client *http.Client
	// Logger gets a line per failed attempt and dead message; nil for
	// none.
	Logger *slog.Logger
}

// AlertStore is a store's alert state and webhook outbox (see package
// alert): the DuckDB store's alert_crossings and alert_outbox tables.
type AlertStore interface {
	alert.Outbox
	// OutboxCounts counts the outbox's messages by status; every status
	// is in the map, with 0 when it has none.
	OutboxCounts(ctx context.Context) (map[alert.Status]int64, error)
}

// alertWriter is a Writer that can write the alert state and outbox
// inside its open transaction (the DuckDB writer).
type alertWriter interface {
	AlertTx() alert.Tx
}

// alerts returns the alert setup, nil when there are no rules.
func (s *Service) alerts() (*Alerts, error) {
	if s.Alerts == nil {
		return nil, nil
	}
	a, err := s.Alerts()
	if err != nil || a == nil || len(a.Rules) == 0 {
		return nil, err
	}
	if a.Billing == nil || a.Billing.Config == nil {
		return nil, keymeter.Errorf(keymeter.EINVALID, "alert rules need a billing config (plans, meters and customers)")
	}
	return a, nil
}

// alertHook returns the ingest commit hook that evaluates the rules in
// every commit, or nil when there are no rules. The rules are checked
// against the billing config with the store's customers merged in.
func (s *Service) alertHook(ctx context.Context, st *Stores) (*alertHook, error) {
	a, err := s.alerts()
	if err != nil || a == nil {
		return nil, err
	}
	setup, err := s.setup(ctx, a.Billing, st)
	if err != nil {
		return nil, err
	}
	if err := a.Rules.Validate(setup.billing); err != nil {
		return nil, fmt.Errorf("alert rules checked against the billing config %s: %w", setup.path, err)
	}
	return &alertHook{rules: a.Rules, setup: setup, now: s.now}, nil
}

// alertHook evaluates the alert rules inside an ingest commit
// (ingest.CommitHook): for every customer a rule watches, every billing
// period that the commit's events fall in, from the period-to-date
// totals of the prepared transaction.
type alertHook struct {
	rules alert.Rules
	setup *billingSetup
	now   func() time.Time
}

// InCommit implements ingest.CommitHook. Customers whose periods have
// the same bounds, on the same plan, are totalled by one query.
func (h *alertHook) InCommit(ctx context.Context, w keymeter.Preparer, first, last time.Time) error {
	aw, ok := w.(alertWriter)
	if !ok {
		return keymeter.Errorf(keymeter.EINVALID, "this store does not keep alerts")
	}
	tx := aw.AlertTx()
	at := h.now().UTC()
	cfg := h.setup.billing
	type member struct {
		a *billing.Assignment
		p billing.Period
	}
	type bucket struct {
		plan     string
		from, to time.Time
	}
	groups := map[bucket][]member{}
	var order []bucket
	for i := range cfg.Customers {
		a := &cfg.Customers[i]
		if !slices.ContainsFunc(h.rules, func(r alert.Rule) bool { return r.Customer == a.Customer || (r.Customer == "" && r.Plan == a.Plan) }) {
			continue
		}
		if _, ok := cfg.Plan(a.Plan); !ok {
			continue // the setup reported it
		}
		for p, err := range periodsIn(a, first, last) {
			if err != nil {
				return err
			}
			k := bucket{a.Plan, p.ActiveStart, p.End}
			if _, ok := groups[k]; !ok {
				order = append(order, k)
			}
			groups[k] = append(groups[k], member{a, p})
		}
	}
	for _, k := range order {
		plan, _ := cfg.Plan(k.plan)
		members := groups[k]
		q := keymeter.MeterQuery{From: k.from, To: k.to, Meters: h.specs(plan)}
		if len(members) == 1 {
			q.Customer = members[0].a.Customer
		}
		rows, err := w.MeterTotals(ctx, q)
		if err != nil {
			return fmt.Errorf("period-to-date totals of plan %s from %s: %w", k.plan, k.from.Format(time.RFC3339), err)
		}
		for _, m := range members {
			in, err := alertInput(m.a, plan, m.p, rows, at)
			if err != nil {
				return err
			}
			if _, err := alert.Apply(ctx, tx, h.rules, in); err != nil {
				return fmt.Errorf("alerts of %s in %s: %w", m.a.Customer, m.p.Month, err)
			}
		}
	}
	return nil
}

// specs returns the store queries of the meters the plan prices and of
// every other meter a rule watches.
func (h *alertHook) specs(plan *billing.Plan) []keymeter.MeterSpec {
	specs := meterSpecs(plan)
	for _, r := range h.rules {
		if slices.ContainsFunc(specs, func(s keymeter.MeterSpec) bool { return s.Name == r.Meter }) {
			continue
		}
		if m, ok := h.setup.billing.Meter(r.Meter); ok {
			specs = append(specs, m.Spec())
		}
	}
	return specs
}

// periodsIn yields a's billing periods that [first, last] overlaps,
// from a's start on.
func periodsIn(a *billing.Assignment, first, last time.Time) func(yield func(billing.Period, error) bool) {
	return func(yield func(billing.Period, error) bool) {
		p, err := billing.PeriodAt(a, first)
		if err != nil {
			// first is before a's start: begin with its first period.
			loc := a.Location
			if loc == nil {
				loc = time.UTC
			}
			if p, err = billing.PeriodAt(a, a.Start.In(loc)); err != nil {
				yield(p, err)
				return
			}
		}
		for !p.ActiveStart.After(last) {
			if p.End.After(first) && !yield(p, nil) {
				return
			}
			next, err := billing.PeriodAt(a, p.End)
			if err != nil {
				yield(next, err)
				return
			}
			p = next
		}
	}
}

// alertInput returns a's period-to-date values in p from the totals of
// the prepared transaction (rows, of any customers), as alert.Values.
// A total beyond 64 bits is an EINVALID error: alert compares int64s.
func alertInput(a *billing.Assignment, plan *billing.Plan, p billing.Period, rows []keymeter.MeterTotal, at time.Time) (alert.Input, error) {
	raw := map[string]int64{}
	for _, r := range rows {
		if r.Customer != a.Customer {
			continue
		}
		q, ok := r.Quantity.Int64()
		if !ok {
			return alert.Input{}, keymeter.Errorf(keymeter.EINVALID, "customer %q, meter %q: the period-to-date quantity %s in %s is too large for alerts (above 2^63-1)",
				a.Customer, r.Meter, r.Quantity, p.Month)
		}
		raw[r.Meter] = q
	}
	values, err := alert.ValuesFor(plan, raw)
	if err != nil {
		return alert.Input{}, fmt.Errorf("alerts of %s in %s: %w", a.Customer, p.Month, err)
	}
	return alert.Input{Customer: a.Customer, Plan: a.Plan, Period: p, At: at, Currency: plan.Currency, Values: values}, nil
}

// DeliveryReport is what one pass of alert delivery did.
type DeliveryReport struct {
	alert.Stats
	// OutboxPending and OutboxDead count the outbox's messages after
	// the pass.
	OutboxPending, OutboxDead int64
}

// DeliverAlerts makes one pass over the alert outbox: it sends every
// webhook due now, signed, and records each attempt; a failed one is
// retried by a later pass, with backoff, until it is dead (see
// alert.Policy). A receiver's failure is not an error: the report
// counts it. It returns an EINVALID error for a bad policy, Open's
// errors, and the outbox's.
func (s *Service) DeliverAlerts(ctx context.Context) (_ *DeliveryReport, err error) {
	a, err := s.alerts()
	if err != nil {
		return nil, err
	}
	st, err := s.open(ctx, Write)
	if err != nil {
		return nil, err
	}
	defer done(st, &err)
	if st.Alerts == nil {
		return nil, keymeter.Errorf(keymeter.EINVALID, "this store does not keep alerts")
	}
	rules := alert.Rules(nil)
	policy := alert.Policy{}
	var opts alert.Options
	if a != nil {
		rules, policy = a.Rules, a.Policy
		opts.Client, opts.Logger = a.Client, a.Logger
	}
	opts.Now = s.now
	d, err := alert.NewDeliverer(st.Alerts, alert.SecretsOf(rules.Secrets()), policy, opts)
	if err != nil {
		return nil, err
	}
	stats, err := d.Drain(ctx)
	rep := &DeliveryReport{Stats: stats}
	if err != nil {
		return rep, err
	}
	counts, err := st.Alerts.OutboxCounts(ctx)
	if err != nil {
		return rep, err
	}
	rep.OutboxPending, rep.OutboxDead = counts[alert.Pending], counts[alert.Dead]
	return rep, nil
}

// RunAlertDelivery delivers alerts until ctx is done, with one pass
// (DeliverAlerts) every interval, the store open only for the pass; it
// then returns nil. A pass that finds the store busy (ECONFLICT) is
// skipped; any other error stops it and is returned. report, when not
// nil, is called after each pass.
func (s *Service) RunAlertDelivery(ctx context.Context, interval time.Duration, report func(*DeliveryReport)) error {
	if interval <= 0 {
		return keymeter.Errorf(keymeter.EINVALID, "alert delivery interval %s must be positive", interval)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		rep, err := s.DeliverAlerts(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case keymeter.ErrorCode(err) == keymeter.ECONFLICT:
		case err != nil:
			return err
		case report != nil:
			report(rep)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// AlertFilter selects alerts; empty fields select all.
type AlertFilter struct {
	// Customer is the customer the alerts are about: the scope of a
	// customer's token.
	Customer string
	// Status is "pending", "delivered" (also "sent") or "dead".
	Status string
}

// AlertRecord is one alert in the outbox: a crossing's webhook and its
// delivery so far.
type AlertRecord struct {
	Key        string       `json:"idempotency_key"`
	Rule       string       `json:"rule"`
	Customer   string       `json:"customer"`
	Meter      string       `json:"meter"`
	Period     string       `json:"period"`
	URL        string       `json:"url"`
	Status     alert.Status `json:"status"`
	Attempts   int          `json:"attempts"`
	CreatedAt  time.Time    `json:"created_at"`
	NextAt     *time.Time   `json:"next_at,omitempty"` // when a pending alert is due
	LastStatus int          `json:"last_status,omitempty"`
	LastError  string       `json:"last_error,omitempty"`
	// DeliveredAt is when a receiver took it.
	DeliveredAt *time.Time `json:"delivered_at,omitempty"`
	// Payload is the webhook's JSON body, as sent.
	Payload json.RawMessage `json:"payload"`
}

// ParseAlertStatus reads an alert status as --state and ?status= give
// it: pending, sent (or delivered), dead; "" for all. It returns an
// EINVALID error for anything else.
func ParseAlertStatus(s string) (alert.Status, error) {
	switch s {
	case "":
		return "", nil
	case "pending":
		return alert.Pending, nil
	case "sent", "delivered":
		return alert.Delivered, nil
	case "dead":
		return alert.Dead, nil
	}
	return "", keymeter.Errorf(keymeter.EINVALID, "alert state %q: want pending, sent or dead", s)
}

// ListAlerts returns the alerts f selects, oldest first: pending,
// delivered and dead, each with its payload. A customer's token should
// set f.Customer: only that customer's alerts are returned. It returns
// an EINVALID error for a bad status, and Open's errors.
func (s *Service) ListAlerts(ctx context.Context, f AlertFilter) (_ []AlertRecord, err error) {
	status, err := ParseAlertStatus(f.Status)
	if err != nil {
		return nil, err
	}
	st, err := s.open(ctx, Read)
	if err != nil {
		return nil, err
	}
	defer done(st, &err)
	if st.Alerts == nil {
		return nil, nil
	}
	msgs, err := st.Alerts.Messages(ctx, alert.Filter{Status: status, Customer: f.Customer})
	if err != nil {
		return nil, err
	}
	out := make([]AlertRecord, 0, len(msgs))
	for _, m := range msgs {
		r := AlertRecord{Key: m.Key, Rule: m.Rule, Customer: m.Customer, Meter: m.Meter, Period: m.Period, URL: m.URL,
			Status: m.Status, Attempts: m.Attempts, CreatedAt: m.CreatedAt, LastStatus: m.LastStatus, LastError: m.LastError,
			Payload: json.RawMessage(m.Body)}
		if m.Status == alert.Pending {
			next := m.NextAt
			r.NextAt = &next
		}
		if !m.DeliveredAt.IsZero() {
			d := m.DeliveredAt
			r.DeliveredAt = &d
		}
		if !json.Valid(r.Payload) {
			return nil, errors.New("alert " + m.Key + ": the stored payload is not JSON")
		}
		out = append(out, r)
	}
	return out, nil
}

// AlertCounts counts the alert outbox's messages by status (pending,
// delivered, dead), for metrics. It returns Open's errors.
func (s *Service) AlertCounts(ctx context.Context) (_ map[alert.Status]int64, err error) {
	st, err := s.open(ctx, Read)
	if err != nil {
		return nil, err
	}
	defer done(st, &err)
	if st.Alerts == nil {
		return map[alert.Status]int64{alert.Pending: 0, alert.Delivered: 0, alert.Dead: 0}, nil
	}
	return st.Alerts.OutboxCounts(ctx)
}
