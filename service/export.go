package service

import (
	"context"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/billing"
	"github.com/keymeter/keymeter/billing/invoice"
)

// ExportRequest asks for a billing period's usage as Stripe meter events.
type ExportRequest struct {
	Month    string // the billing period, "2025-10"
	Customer string // one customer; "" for every customer on a plan
	// CoverageThreshold is as in InvoiceRequest.
	CoverageThreshold int64
}

// StripeExport is a billing period's usage as Stripe meter events.
type StripeExport struct {
	// Events holds one event per customer and priced meter, valued in
	// the meter's unit: a finalized invoice's quantities as frozen,
	// otherwise the draft's.
	Events []billing.MeterEvent
	// Skipped are the customers without a Stripe customer ID.
	Skipped []string
	// Warnings are the drafts' (see InvoiceSet).
	Warnings []string
}

// ExportStripe returns a billing period's usage as Stripe meter events,
// each identified by the customer, meter and period only, so that
// sending them twice charges once. It returns Invoices' errors.
func (s *Service) ExportStripe(ctx context.Context, b *Billing, req ExportRequest) (_ *StripeExport, err error) {
	st, err := s.open(ctx, Read)
	if err != nil {
		return nil, err
	}
	defer done(st, &err)
	setup, err := s.setup(ctx, b, st)
	if err != nil {
		return nil, err
	}
	targets, err := setup.billedFor(req.Month, req.Customer)
	if err != nil {
		return nil, err
	}
	out := &StripeExport{}
	var withID []billed
	for _, t := range targets {
		if t.a.StripeCustomerID == "" {
			out.Skipped = append(out.Skipped, t.a.Customer)
			continue
		}
		withID = append(withID, t)
	}
	docs, warnings, err := s.invoiceDocs(ctx, setup, st, withID, req.CoverageThreshold)
	if err != nil {
		return nil, err
	}
	out.Warnings = warnings
	for i, t := range withID {
		d, err := invoice.Decode(docs[i])
		if err != nil {
			return nil, err
		}
		used := map[string]keymeter.Int128{}
		for _, l := range d.Lines {
			if l.Kind == billing.LineUsage && l.RawQuantity != nil {
				used[l.Meter] = *l.RawQuantity
			}
		}
		for j := range t.plan.Prices {
			mtr := &t.plan.Prices[j].Meter
			e, err := billing.NewMeterEvent(t.a, mtr, d.Period, used[mtr.Name])
			if err != nil {
				return nil, err
			}
			out.Events = append(out.Events, e)
		}
	}
	return out, nil
}
