package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/billing"
	"github.com/keymeter/keymeter/billing/invoice"
	"github.com/keymeter/keymeter/ingest"
)

// keymeter ingest --reprocess replaces what earlier reads of its inputs
// stored, in one transaction. A replacement that changes what a finalized
// invoice counts is refused unless --force: forced, the difference is
// billed on the customer's next invoice, like late events.

// finalCheck is one finalized invoice to check: what it counted with.
type finalCheck struct {
	f        keymeter.FinalInvoice
	customer string
	from, to time.Time
	meters   []keymeter.MeterSpec
}

// reprocessCheck returns the check of a reprocessing run, nil when no
// invoice is final. loadBilling loads the billing config, which is
// needed for invoices finalized before keymeter kept their plans. A
// forced run's check adds what it changed to warnings.
func reprocessCheck(ctx context.Context, st *Stores, loadBilling func() (*Billing, error), force bool, warnings *[]string) (func(context.Context, keymeter.Preparer, *ingest.Summary) error, error) {
	db := st.Meters
	finals, err := st.Invoices.Invoices(ctx, keymeter.InvoiceFilter{})
	if err != nil || len(finals) == 0 {
		return nil, err
	}
	var setup *billingSetup
	var checks []finalCheck
	for _, f := range finals {
		d, err := invoice.Decode(f.Document)
		if err != nil {
			return nil, fmt.Errorf("invoice %s: %w", f.Number, err)
		}
		if f.PlanSnapshot == nil && setup == nil {
			var b *Billing
			if loadBilling == nil {
				err = errors.New("none was given")
			} else {
				b, err = loadBilling()
			}
			if err != nil {
				return nil, fmt.Errorf("invoice %s was finalized without a plan snapshot, so checking what reprocessing changes needs the billing config: %w", f.Number, err)
			}
			setup = newBillingSetup(b)
		}
		var plan *billing.Plan
		if setup != nil {
			plan, err = setup.invoicedPlan(f, d)
		} else {
			plan, err = billing.UnmarshalPlan(f.PlanSnapshot)
		}
		if err != nil {
			return nil, fmt.Errorf("invoice %s: %w", f.Number, err)
		}
		checks = append(checks, finalCheck{f: f, customer: f.Customer, from: d.Period.ActiveStart, to: d.Period.End, meters: meterSpecs(plan)})
	}
	return func(ctx context.Context, tx keymeter.Preparer, sum *ingest.Summary) error {
		if sum.Changed[0].IsZero() {
			return nil
		}
		var changed []string
		for _, c := range checks {
			if !c.from.Before(sum.Changed[1].Add(time.Microsecond)) || !sum.Changed[0].Before(c.to) {
				continue // the run changes no event of its period
			}
			q := keymeter.MeterQuery{From: c.from, To: c.to, Customer: c.customer, Meters: c.meters}
			before, err := db.MeterTotals(ctx, q)
			if err != nil {
				return err
			}
			after, err := tx.MeterTotals(ctx, q)
			if err != nil {
				return err
			}
			if diff := totalsDiff(before, after); diff != "" {
				changed = append(changed, fmt.Sprintf("%s (%s %s): %s", c.f.Number, c.customer, c.f.Month, diff))
			}
		}
		if len(changed) == 0 {
			return nil
		}
		if !force {
			return keymeter.Errorf(keymeter.ECONFLICT, "reprocessing would change finalized invoices; nothing was replaced (--force replaces, and bills the difference on the customers' next invoices):\n  %s",
				strings.Join(changed, "\n  "))
		}
		*warnings = append(*warnings, fmt.Sprintf("--force: reprocessing changed finalized invoices; the difference is billed on the customers' next invoices:\n  %s",
			strings.Join(changed, "\n  ")))
		return nil
	}, nil
}

// totalsDiff describes how meter totals changed, "" when they did not.
func totalsDiff(before, after []keymeter.MeterTotal) string {
	type key struct{ customer, meter string }
	was := map[key]keymeter.MeterTotal{}
	for _, t := range before {
		was[key{t.Customer, t.Meter}] = t
	}
	now := map[key]keymeter.MeterTotal{}
	var order []key
	for _, t := range after {
		now[key{t.Customer, t.Meter}] = t
		order = append(order, key{t.Customer, t.Meter})
	}
	for _, t := range before {
		if _, ok := now[key{t.Customer, t.Meter}]; !ok {
			order = append(order, key{t.Customer, t.Meter})
		}
	}
	var parts []string
	for _, k := range order {
		a, b := was[k], now[k]
		if a.Events != b.Events || a.Quantity != b.Quantity {
			parts = append(parts, fmt.Sprintf("%s %d → %d events (quantity %d → %d)", k.meter, a.Events, b.Events, a.Quantity, b.Quantity))
		}
	}
	return strings.Join(parts, ", ")
}
