package invoice

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/billing"
)

// Usage is what one meter counted: Events requests, and RawQuantity in
// the meter's measure (requests, or bytes).
type Usage struct {
	Events      keymeter.Int128
	RawQuantity keymeter.Int128
}

// Input is everything an invoice is computed from.
type Input struct {
	Status      Status
	Number      string    // final invoices only
	FinalizedAt time.Time // final invoices only
	Customer    string
	Plan        *billing.Plan
	Period      billing.Period
	// Cutoff is the newest load time counted; Usage holds, by meter name,
	// the events of the period's [ActiveStart, End) loaded by it.
	Cutoff time.Time
	Usage  map[string]Usage
	// Late holds the late events of earlier, finalized periods: one entry
	// per period that has any.
	Late []Late
	// Queries, when set, writes the query that reproduces each usage
	// line's quantity from the store, in the store's own language
	// (Line.Query); nil leaves the lines without one.
	Queries keymeter.QueryTexter
}

// Late is the late usage of one earlier, finalized billing period: what
// became known about the customer's usage in Period between After and
// the Cutoff of the document being built. After is the previous
// invoice's cutoff: the usage of Period known by it is billed already, on
// Period's own invoice or as late lines of the invoices since. Events
// loaded late add to it; events retracted (ingest --reprocess) or moved
// to another customer (keys import --force) take from it, so late usage
// may be negative.
type Late struct {
	Period billing.Period
	// Plan is the plan Period was invoiced under, which its late usage is
	// rated on; nil for the invoice's own plan.
	Plan  *billing.Plan
	After time.Time
	// Events is the change in the number of the customer's events of
	// Period, of the sources its plan meters, whether or not a priced
	// meter's filter counts them.
	Events keymeter.Int128
	Billed map[string]Usage // as known at After
	Late   map[string]Usage // the change from After to Cutoff
}

// Build computes an invoice. The period's lines are billing.Rate's. The
// late usage of each earlier period is rated on that period as the
// difference it makes: the period's lines with everything loaded by
// Cutoff, less the same lines with what was billed so far. Both are
// rounded by billing's one rule, so the late lines are whole minor units
// and every invoice since the period's own adds up to what the period
// costs with all of its events, to the cent.
func Build(in Input) (*Document, error) {
	if in.Plan == nil {
		return nil, keymeter.Errorf(keymeter.EINVALID, "customer %q has no plan", in.Customer)
	}
	cutoff := in.Cutoff.UTC().Truncate(time.Microsecond)
	inv, err := billing.Rate(in.Plan, in.Period, raw(in.Usage), billing.Options{Customer: in.Customer})
	if err != nil {
		return nil, err
	}
	d := &Document{
		Version:                Version,
		Status:                 in.Status,
		Number:                 in.Number,
		Customer:               in.Customer,
		Plan:                   in.Plan.Name,
		Currency:               inv.Currency,
		Period:                 inv.Period,
		Cutoff:                 cutoff,
		Lines:                  []Line{},
		Subtotal:               inv.Subtotal,
		MinimumSpend:           inv.MinimumSpend,
		MinimumSpendAdjustment: inv.MinimumSpendAdjustment,
	}
	if in.Status == Final {
		at := in.FinalizedAt.UTC().Truncate(time.Microsecond)
		d.FinalizedAt = &at
	}
	meters := map[string]*billing.Meter{}
	for i := range in.Plan.Prices {
		meters[in.Plan.Prices[i].Meter.Name] = &in.Plan.Prices[i].Meter
	}
	for _, l := range inv.Lines {
		line := Line{Line: l}
		if m := meters[l.Meter]; l.Kind == billing.LineUsage && m != nil {
			u := in.Usage[l.Meter]
			line.Events, line.RawQuantity = &u.Events, &u.RawQuantity
			q, err := queryText(in.Queries, keymeter.ReproduceQuery{Meter: m.Spec(), Customer: in.Customer,
				From: in.Period.ActiveStart, To: in.Period.End, AsOf: cutoff})
			if err != nil {
				return nil, err
			}
			line.Query = q
		}
		d.Lines = append(d.Lines, line)
	}

	late := slices.Clone(in.Late)
	slices.SortFunc(late, func(a, b Late) int { return a.Period.Start.Compare(b.Period.Start) })
	for _, l := range late {
		plan := in.Plan
		if l.Plan != nil {
			plan = l.Plan
		}
		if plan.Currency != in.Plan.Currency {
			return nil, keymeter.Errorf(keymeter.EINVALID, "customer %q: %s was invoiced in %s, and late usage cannot be billed on an invoice in %s",
				in.Customer, l.Period.Month, plan.Currency.Code, in.Plan.Currency.Code)
		}
		lines, err := lateLines(plan, in.Customer, l, cutoff, in.Queries)
		if err != nil {
			return nil, err
		}
		d.LateEvents = d.LateEvents.Add(l.Events)
		for _, line := range lines {
			d.LateAdjustments = d.LateAdjustments.Add(line.Amount)
		}
		d.Lines = append(d.Lines, lines...)
	}
	d.Total = inv.Total.Add(d.LateAdjustments)
	return d, nil
}

// lateLines rates one earlier period's late usage.
func lateLines(plan *billing.Plan, customer string, l Late, cutoff time.Time, queries keymeter.QueryTexter) ([]Line, error) {
	all := map[string]Usage{}
	for name, u := range l.Billed {
		all[name] = u
	}
	for name, u := range l.Late {
		a := all[name]
		all[name] = Usage{a.Events.Add(u.Events), a.RawQuantity.Add(u.RawQuantity)}
		if all[name].Events.Sign() < 0 || all[name].RawQuantity.Sign() < 0 {
			return nil, keymeter.Errorf(keymeter.EINVALID, "meter %q: late usage takes more than was billed", name)
		}
	}
	before, err := billing.Rate(plan, l.Period, raw(l.Billed), billing.Options{Customer: customer})
	if err != nil {
		return nil, err
	}
	after, err := billing.Rate(plan, l.Period, raw(all), billing.Options{Customer: customer})
	if err != nil {
		return nil, err
	}
	var lines []Line
	for i := range plan.Prices {
		m := &plan.Prices[i].Meter
		u, ok := l.Late[m.Name]
		if !ok || u.Events.IsZero() && u.RawQuantity.IsZero() {
			continue
		}
		was, now := usageLine(before, m.Name), usageLine(after, m.Name)
		query, err := queryText(queries, keymeter.ReproduceQuery{Meter: m.Spec(), Customer: customer,
			From: l.Period.ActiveStart, To: l.Period.End, AsOf: cutoff, Since: l.After.UTC().Truncate(time.Microsecond)})
		if err != nil {
			return nil, err
		}
		line := Line{
			Line: billing.Line{
				Kind:        LineLateUsage,
				Meter:       m.Name,
				Description: fmt.Sprintf("%s: late events of %s", description(m), l.Period.Month),
				Model:       now.Model,
				Unit:        now.Unit,
				Quantity:    m.Quantity(u.RawQuantity),
				Included:    now.Included.Sub(was.Included),
				Billable:    now.Billable.Sub(was.Billable),
				Amount:      now.Amount.Sub(was.Amount),
			},
			Period:      l.Period.Month,
			Events:      &u.Events,
			RawQuantity: &u.RawQuantity,
			Query:       query,
		}
		if now.ExactAmount != nil && was.ExactAmount != nil {
			exact := now.ExactAmount.Sub(*was.ExactAmount).Reduce()
			line.ExactAmount = &exact
		}
		if was.UnitPrice != nil && now.UnitPrice != nil && was.UnitPrice.Equal(*now.UnitPrice) {
			p := *now.UnitPrice
			line.UnitPrice = &p
		}
		lines = append(lines, line)
	}
	if diff := after.MinimumSpendAdjustment.Sub(before.MinimumSpendAdjustment); !diff.IsZero() {
		one := billing.DecimalFromInt(1)
		lines = append(lines, Line{
			Line: billing.Line{
				Kind:        LineLateMinimumSpend,
				Description: "minimum spend of " + l.Period.Month + ", after its late events",
				Quantity:    one,
				Billable:    one,
				ExactAmount: &diff,
				Amount:      diff,
			},
			Period: l.Period.Month,
		})
	}
	return lines, nil
}

// usageLine returns the usage line of a meter, or a zero line.
func usageLine(inv *billing.Invoice, meter string) billing.Line {
	for _, l := range inv.Lines {
		if l.Kind == billing.LineUsage && l.Meter == meter {
			return l
		}
	}
	return billing.Line{}
}

func description(m *billing.Meter) string {
	if strings.TrimSpace(m.Description) != "" {
		return m.Description
	}
	return m.Name
}

// raw returns the raw quantities of usage, by meter name.
func raw(usage map[string]Usage) map[string]keymeter.Int128 {
	out := make(map[string]keymeter.Int128, len(usage))
	for name, u := range usage {
		out[name] = u.RawQuantity
	}
	return out
}

// queryText returns the text of q by t, "" without t.
func queryText(t keymeter.QueryTexter, q keymeter.ReproduceQuery) (string, error) {
	if t == nil {
		return "", nil
	}
	s, err := t.QueryText(q)
	if err != nil {
		return "", fmt.Errorf("the query of meter %s: %w", q.Meter.Name, err)
	}
	return s, nil
}
