package service

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/billing/invoice"
)

// Key ownership changes over time and never rewrites what was invoiced:
// an assignment takes effect from a time of the requests on, and the
// requests before it keep the owner they had. This file decides that
// time for assignments that do not give one, and finds the finalized
// invoices an assignment would change.

// pendingAssignment is one key assignment of a key file.
type pendingAssignment struct {
	keymeter.KeyAssignment
	explicit bool   // From was given (the row's from, or --from)
	line     int    // the key file's line
	column   string // the column that named the key
}

// finalPeriod is a finalized invoice and the event time it counted.
type finalPeriod struct {
	number, customer, month string
	from, to                time.Time
}

// assignmentPlan is what importing a key file will do.
type assignmentPlan struct {
	assign    []pendingAssignment
	defaulted map[time.Time]int // keys given a default time, by that time
	conflicts []conflict
}

// conflict is an assignment that changes finalized invoices.
type conflict struct {
	a        pendingAssignment
	invoices []finalPeriod
}

// planAssignments fills in the From of assignments without one: the end
// of the latest finalized billing period of the customers the assignment
// concerns (its customer and every earlier owner of the key), or the
// beginning of time when none has one, which changes no finalized
// invoice. It then finds the assignments that change finalized invoices:
// those whose customer, or the key's owner they replace, has a finalized
// period overlapping a time from From on at which the key changes owner.
func planAssignments(ctx context.Context, db interface {
	keymeter.KeyStore
	keymeter.InvoiceStore
}, assign []pendingAssignment) (*assignmentPlan, error) {
	stored, err := db.Invoices(ctx, keymeter.InvoiceFilter{})
	if err != nil {
		return nil, err
	}
	finals := map[string][]finalPeriod{}
	for _, f := range stored {
		d, err := invoice.Decode(f.Document)
		if err != nil {
			return nil, fmt.Errorf("invoice %s: %w", f.Number, err)
		}
		finals[f.Customer] = append(finals[f.Customer], finalPeriod{number: f.Number, customer: f.Customer, month: f.Month,
			from: d.Period.ActiveStart, to: d.Period.End})
	}
	spans := map[uint64][]keymeter.OwnerSpan{}
	if len(finals) > 0 {
		all, err := db.OwnerSpans(ctx)
		if err != nil {
			return nil, err
		}
		for _, s := range all {
			spans[s.KeyID] = append(spans[s.KeyID], s)
		}
	}
	p := &assignmentPlan{assign: assign, defaulted: map[time.Time]int{}}
	for i := range assign {
		a := &assign[i]
		ks := spans[a.ID]
		if !a.explicit {
			a.From = time.Time{}
			customers := []string{a.Customer}
			for _, s := range ks {
				customers = append(customers, s.Customer)
			}
			for _, c := range customers {
				for _, f := range finals[c] {
					if f.to.After(a.From) {
						a.From = f.to
					}
				}
			}
			if !a.From.IsZero() {
				p.defaulted[a.From]++
			}
		}
		if changed := changedFinals(*a, ks, finals); len(changed) > 0 {
			p.conflicts = append(p.conflicts, conflict{a: *a, invoices: changed})
		}
	}
	return p, nil
}

// changedFinals returns the finalized invoices an assignment changes:
// from a.From on, wherever the key's owner (as spans says) is not
// a.Customer, the requests move to a.Customer, which changes the
// invoices of both that overlap such a time.
func changedFinals(a pendingAssignment, spans []keymeter.OwnerSpan, finals map[string][]finalPeriod) []finalPeriod {
	// The stretches of time from a.From on and their owners ("" for none).
	type stretch struct {
		from, to time.Time // zero to: open-ended
		owner    string
	}
	var changes []stretch
	at := a.From
	open := false // the time from at on is covered by no span yet
	for _, s := range spans {
		if !s.Until.IsZero() && !s.Until.After(at) {
			continue
		}
		from := s.From
		if from.Before(at) {
			from = at
		}
		if from.After(at) {
			changes = append(changes, stretch{at, from, ""})
		}
		if s.Customer != a.Customer {
			changes = append(changes, stretch{from, s.Until, s.Customer})
		}
		if s.Until.IsZero() {
			open = true
			break
		}
		at = s.Until
	}
	if !open {
		changes = append(changes, stretch{at, time.Time{}, ""})
	}
	var out []finalPeriod
	for _, ch := range changes {
		for _, c := range []string{a.Customer, ch.owner} {
			for _, f := range finals[c] {
				overlaps := f.to.After(ch.from) && (ch.to.IsZero() || f.from.Before(ch.to))
				if c != "" && overlaps && !slices.Contains(out, f) {
					out = append(out, f)
				}
			}
		}
	}
	slices.SortFunc(out, func(x, y finalPeriod) int { return strings.Compare(x.number, y.number) })
	return out
}

// describeConflicts lists the assignments that change finalized invoices,
// by line (never by key), the first ten of them.
func (p *assignmentPlan) describeConflicts(then string) string {
	var b strings.Builder
	what := "assignments"
	if len(p.conflicts) == 1 {
		what = "assignment"
	}
	fmt.Fprintf(&b, "%d %s would change finalized invoices (%s):", len(p.conflicts), what, then)
	for i, c := range p.conflicts {
		if i == 10 {
			fmt.Fprintf(&b, "\n  ... and %d more", len(p.conflicts)-10)
			break
		}
		var invs []string
		for _, f := range c.invoices {
			invs = append(invs, fmt.Sprintf("%s (%s %s)", f.number, f.customer, f.month))
		}
		from := "the beginning of time"
		if !c.a.From.IsZero() {
			from = c.a.From.Format(time.RFC3339Nano)
		}
		what := c.a.column
		if c.a.Hint != "" {
			what += " …" + c.a.Hint
		}
		fmt.Fprintf(&b, "\n  line %d (%s): to %s from %s changes %s", c.a.line, what, c.a.Customer, from, strings.Join(invs, ", "))
	}
	return b.String()
}

// effective says when the assignments given a default time take effect.
func (p *assignmentPlan) effective() []string {
	var times []time.Time
	for t := range p.defaulted {
		times = append(times, t)
	}
	slices.SortFunc(times, time.Time.Compare)
	var out []string
	for _, t := range times {
		out = append(out, fmt.Sprintf("%d of them from %s, after the last finalized billing period of their customers (use --from or a from column for another time)",
			p.defaulted[t], t.Format(time.RFC3339Nano)))
	}
	return out
}
