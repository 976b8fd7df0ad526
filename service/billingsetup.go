package service

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/billing"
	"github.com/keymeter/keymeter/billing/invoice"
)

// billingSetup is the billing configuration of one operation: the
// caller's, with the store's plan assignments merged in (mergeCustomers).
type billingSetup struct {
	billing *billing.Config
	path    string            // the billing config file
	source  map[string]string // where each customer's assignment comes from: "config" or "store"
}

// newBillingSetup returns the setup of b, a copy: merging the store's
// customers changes the copy only.
func newBillingSetup(b *Billing) *billingSetup {
	c := *b.Config
	c.Customers = slices.Clone(c.Customers)
	s := &billingSetup{billing: &c, path: b.Path, source: map[string]string{}}
	for _, a := range c.Customers {
		s.source[a.Customer] = "config"
	}
	return s
}

// setup returns the setup of b with the store's customers merged in,
// for the operations that rate usage.
func (s *Service) setup(ctx context.Context, b *Billing, st *Stores) (*billingSetup, error) {
	setup := newBillingSetup(b)
	if err := setup.mergeCustomers(ctx, st.Customers); err != nil {
		return nil, err
	}
	return setup, nil
}

// mergeCustomers adds the store's plan assignments to the billing
// config's. A customer in both takes the store's assignment as a whole;
// fields it leaves empty (time zone, periods) take the billing config's
// defaults. Every problem (an unknown plan, a bad time zone) is reported
// at once.
func (s *billingSetup) mergeCustomers(ctx context.Context, db keymeter.CustomerStore) error {
	stored, err := db.ListCustomers(ctx)
	if err != nil {
		return err
	}
	var problems []string
	for _, cp := range stored {
		a, errs := s.assignment(cp)
		if len(errs) > 0 {
			for _, e := range errs {
				problems = append(problems, cp.Customer+": "+e)
			}
			continue
		}
		if i := slices.IndexFunc(s.billing.Customers, func(x billing.Assignment) bool { return x.Customer == cp.Customer }); i >= 0 {
			s.billing.Customers[i] = a
		} else {
			s.billing.Customers = append(s.billing.Customers, a)
		}
		s.source[cp.Customer] = "store"
	}
	slices.SortFunc(s.billing.Customers, func(a, b billing.Assignment) int { return strings.Compare(a.Customer, b.Customer) })
	if len(problems) > 0 {
		return keymeter.Errorf(keymeter.EINVALID, "plan assignments in the store do not fit the billing config %s (fix them with keymeter customers set):\n  %s",
			s.path, strings.Join(problems, "\n  "))
	}
	return nil
}

// assignment checks a stored assignment against the billing config and
// returns it with the config's defaults filled in.
func (s *billingSetup) assignment(cp keymeter.CustomerPlan) (billing.Assignment, []string) {
	a := billing.Assignment{Customer: cp.Customer, Plan: cp.Plan, StripeCustomerID: cp.StripeCustomerID,
		Location: s.billing.Location, Periods: s.billing.Periods}
	var problems []string
	if _, ok := s.billing.Plan(cp.Plan); !ok {
		problems = append(problems, fmt.Sprintf("unknown plan %q (the billing config has %s)", cp.Plan, planNames(s.billing)))
	}
	d, err := billing.ParseDate(cp.Start)
	if err != nil {
		problems = append(problems, "start: "+err.Error())
	}
	a.Start = d
	if cp.TimeZone != "" {
		loc, err := time.LoadLocation(cp.TimeZone)
		if err != nil || cp.TimeZone == "Local" {
			problems = append(problems, fmt.Sprintf("unknown time zone %q (want an IANA name such as UTC or America/New_York)", cp.TimeZone))
		} else {
			a.Location = loc
		}
	}
	switch k := billing.PeriodKind(cp.Periods); k {
	case "":
	case billing.Calendar, billing.Anniversary:
		a.Periods = k
	default:
		problems = append(problems, fmt.Sprintf("unknown period kind %q (want calendar or anniversary)", cp.Periods))
	}
	if cp.StripeCustomerID != "" && (!strings.HasPrefix(cp.StripeCustomerID, "cus_") || len(cp.StripeCustomerID) < 5) {
		problems = append(problems, fmt.Sprintf("%q is not a Stripe customer ID (cus_...)", cp.StripeCustomerID))
	}
	return a, problems
}

func planNames(c *billing.Config) string {
	var names []string
	for _, p := range c.Plans {
		names = append(names, p.Name)
	}
	if len(names) == 0 {
		return "no plans"
	}
	return strings.Join(names, ", ")
}

// billed is one customer billed for one period.
type billed struct {
	a      *billing.Assignment
	plan   *billing.Plan
	period billing.Period
}

// billedFor returns the customers to bill for the period named month:
// only is one customer, or "" for every customer whose plan started
// before the period's end.
func (s *billingSetup) billedFor(month, only string) ([]billed, error) {
	if _, err := time.Parse("2006-01", month); err != nil {
		return nil, keymeter.Errorf(keymeter.EINVALID, "--period %q: want a month such as 2025-10", month)
	}
	var out []billed
	for i := range s.billing.Customers {
		a := &s.billing.Customers[i]
		if only != "" && a.Customer != only {
			continue
		}
		p, err := billing.PeriodFor(a, month)
		if err != nil {
			if only != "" {
				return nil, err
			}
			continue // not on a plan yet in that period
		}
		plan, _ := s.billing.Plan(a.Plan)
		out = append(out, billed{a: a, plan: plan, period: p})
	}
	if len(out) == 0 {
		if only != "" {
			return nil, keymeter.Errorf(keymeter.ENOTFOUND, "customer %q has no plan: keymeter customers set %s --plan PLAN --start DATE, or add it to %s", only, only, s.path)
		}
		return nil, keymeter.Errorf(keymeter.ENOTFOUND, "no customer is on a plan in %s: keymeter customers set CUSTOMER --plan PLAN --start DATE, or add customers to %s", month, s.path)
	}
	return out, nil
}

// meterSpecs returns the store queries of a plan's priced meters.
func meterSpecs(plan *billing.Plan) []keymeter.MeterSpec {
	specs := make([]keymeter.MeterSpec, 0, len(plan.Prices))
	for i := range plan.Prices {
		specs = append(specs, plan.Prices[i].Meter.Spec())
	}
	return specs
}

// allEvents is the meter of every request of the sources a plan's meters
// count (each request of the edge join once), priced or not; of every
// event when the plan meters nothing.
func allEvents(plan *billing.Plan) keymeter.MeterSpec {
	spec := keymeter.MeterSpec{Name: "all", Measure: keymeter.MeasureRequests}
	for i := range plan.Prices {
		if src := plan.Prices[i].Meter.Source; !slices.Contains(spec.Filter.Sources, src) {
			spec.Filter.Sources = append(spec.Filter.Sources, src)
		}
	}
	return spec
}

// meterUsage totals a plan's meters for one customer over event time
// [from, to), as known at asOf.
func meterUsage(ctx context.Context, db keymeter.MeterTotaler, plan *billing.Plan, customer string, from, to, asOf time.Time) (map[string]invoice.Usage, error) {
	rows, err := db.MeterTotals(ctx, keymeter.MeterQuery{From: from, To: to, AsOf: asOf, Customer: customer, Meters: meterSpecs(plan)})
	if err != nil {
		return nil, err
	}
	out := map[string]invoice.Usage{}
	for _, r := range rows {
		out[r.Meter] = invoice.Usage{Events: r.Events, RawQuantity: r.Quantity}
	}
	return out, nil
}

// previousMonth returns the month before "2025-10": "2025-09".
func previousMonth(month string) string {
	t, _ := time.Parse("2006-01", month)
	return t.AddDate(0, -1, 0).Format("2006-01")
}

// document computes a customer's invoice for b.period from the store:
// the usage known at cutoff and, when the previous period's invoice is
// final, the late usage of every finalized period: what changed about it
// between that invoice's cutoff and this one (events loaded late, events
// retracted, events moved to or from the customer), rated on the plan the
// period was invoiced under. finals are the customer's finalized
// invoices.
func (s *billingSetup) document(ctx context.Context, db keymeter.MeterTotaler, b billed, cutoff time.Time, finals []keymeter.FinalInvoice, in invoice.Input) (*invoice.Document, error) {
	usage, err := meterUsage(ctx, db, b.plan, b.a.Customer, b.period.ActiveStart, b.period.End, cutoff)
	if err != nil {
		return nil, err
	}
	in.Customer, in.Plan, in.Period, in.Cutoff, in.Usage = b.a.Customer, b.plan, b.period, cutoff, usage
	prev := slices.IndexFunc(finals, func(f keymeter.FinalInvoice) bool { return f.Month == previousMonth(b.period.Month) })
	if prev < 0 {
		return invoice.Build(in)
	}
	after := finals[prev].Cutoff
	for _, f := range finals {
		if f.Month >= b.period.Month {
			continue
		}
		d, err := invoice.Decode(f.Document)
		if err != nil {
			return nil, fmt.Errorf("invoice %s: %w", f.Number, err)
		}
		plan, err := s.invoicedPlan(f, d)
		if err != nil {
			return nil, err
		}
		from, to := d.Period.ActiveStart, d.Period.End
		// Any change at all? Counted over every event of the sources the
		// plan meters, priced or not.
		all := []keymeter.MeterSpec{allEvents(plan)}
		var events [2]keymeter.Int128
		for i, at := range []time.Time{after, cutoff} {
			rows, err := db.MeterTotals(ctx, keymeter.MeterQuery{From: from, To: to, AsOf: at, Customer: b.a.Customer, Meters: all})
			if err != nil {
				return nil, err
			}
			if len(rows) > 0 {
				events[i] = rows[0].Events
			}
		}
		billedUsage, err := meterUsage(ctx, db, plan, b.a.Customer, from, to, after)
		if err != nil {
			return nil, err
		}
		known, err := meterUsage(ctx, db, plan, b.a.Customer, from, to, cutoff)
		if err != nil {
			return nil, err
		}
		late := map[string]invoice.Usage{}
		changed := events[1].Cmp(events[0]) != 0
		for _, p := range plan.Prices {
			k, was := known[p.Meter.Name], billedUsage[p.Meter.Name]
			u := invoice.Usage{Events: k.Events.Sub(was.Events), RawQuantity: k.RawQuantity.Sub(was.RawQuantity)}
			if u != (invoice.Usage{}) {
				late[p.Meter.Name] = u
				changed = true
			}
		}
		if !changed {
			continue
		}
		in.Late = append(in.Late, invoice.Late{Period: d.Period, Plan: plan, After: after, Events: events[1].Sub(events[0]), Billed: billedUsage, Late: late})
	}
	return invoice.Build(in)
}

// invoicedPlan returns the plan a finalized invoice was rated on: its
// snapshot, or, for an invoice finalized before keymeter kept snapshots,
// the billing config's plan of the same name.
func (s *billingSetup) invoicedPlan(f keymeter.FinalInvoice, d *invoice.Document) (*billing.Plan, error) {
	if f.PlanSnapshot != nil {
		p, err := billing.UnmarshalPlan(f.PlanSnapshot)
		if err != nil {
			return nil, fmt.Errorf("invoice %s: %w", f.Number, err)
		}
		return p, nil
	}
	p, ok := s.billing.Plan(d.Plan)
	if !ok {
		return nil, keymeter.Errorf(keymeter.EINVALID, "invoice %s was rated on plan %q, which the billing config %s no longer has: its late events cannot be rated (add the plan back)",
			f.Number, d.Plan, s.path)
	}
	return p, nil
}
