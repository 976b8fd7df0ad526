package service

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/billing"
	"github.com/keymeter/keymeter/billing/invoice"
)

// InvoiceRequest asks for the invoices of a billing period.
type InvoiceRequest struct {
	Month    string // the billing period, "2025-10"
	Customer string // one customer; "" for every customer on a plan
	// CoverageThreshold, in basis points, is the share of the standard
	// log's requests the real-time log must have a record of below which
	// a draft whose meters count from real-time records carries a
	// warning; negative: no check.
	CoverageThreshold int64
}

// InvoiceSet is the invoices of a billing period.
type InvoiceSet struct {
	// Documents holds each invoice's canonical JSON, in customer order: a
	// finalized invoice's stored bytes, a draft computed now for the
	// others.
	Documents [][]byte
	// Warnings are the drafts' warnings (also in their documents).
	Warnings []string
	// Unbilled lists, when every customer was asked for, the customers
	// with requests in the period's calendar month (UTC) who are on no
	// plan, so that nobody is forgotten silently.
	Unbilled []Unbilled
}

// Unbilled is a customer with requests of a source in a month who is on
// no plan.
type Unbilled struct {
	Customer string
	Source   string
	Requests keymeter.Int128
}

// Invoices returns the invoices of a billing period: finalized ones as
// they were frozen, others as drafts from the events loaded so far. It
// returns an EINVALID error for a month it cannot read, ENOTFOUND when no
// customer (or not the one asked for) is on a plan in it, and Open's
// errors.
func (s *Service) Invoices(ctx context.Context, b *Billing, req InvoiceRequest) (_ *InvoiceSet, err error) {
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
	docs, warnings, err := s.invoiceDocs(ctx, setup, st, targets, req.CoverageThreshold)
	if err != nil {
		return nil, err
	}
	out := &InvoiceSet{Documents: docs, Warnings: warnings}
	if req.Customer == "" {
		if out.Unbilled, err = unbilled(ctx, st.Usage, setup, req.Month); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// invoiceDocs returns the canonical JSON of each target's invoice: the
// stored bytes of a finalized one, a draft computed now for the others.
// A draft whose meters count from a real-time log below the coverage
// threshold (in basis points; negative: no check) carries warnings,
// which are returned too.
func (s *Service) invoiceDocs(ctx context.Context, setup *billingSetup, st *Stores, targets []billed, threshold int64) ([][]byte, []string, error) {
	cutoff, err := st.Meters.LoadWatermark(ctx)
	if err != nil {
		return nil, nil, err
	}
	if cutoff.IsZero() {
		cutoff = s.now()
	}
	var docs [][]byte
	var warnings []string
	covs := map[[2]time.Time]coverageSum{}
	for _, t := range targets {
		finals, err := st.Invoices.Invoices(ctx, keymeter.InvoiceFilter{Customer: t.a.Customer})
		if err != nil {
			return nil, nil, err
		}
		if f := finalFor(finals, t.period.Month); f != nil {
			docs = append(docs, f.Document)
			continue
		}
		d, err := setup.document(ctx, st.Meters, t, cutoff, finals, invoice.Input{Status: invoice.Draft, Queries: st.Queries})
		if err != nil {
			return nil, nil, err
		}
		if threshold >= 0 {
			if d.Warnings, err = setup.meterWarnings(ctx, completeness{st.Usage, st.Meters}, t, cutoff, DocumentUsage(d), threshold, covs); err != nil {
				return nil, nil, err
			}
			warnings = append(warnings, d.Warnings...)
		}
		b, err := d.Encode()
		if err != nil {
			return nil, nil, err
		}
		docs = append(docs, b)
	}
	return docs, warnings, nil
}

// DocumentUsage returns what a document's usage lines counted, by meter.
func DocumentUsage(d *invoice.Document) map[string]invoice.Usage {
	out := map[string]invoice.Usage{}
	for _, l := range d.Lines {
		if l.Kind == billing.LineUsage && l.Events != nil && l.RawQuantity != nil {
			out[l.Meter] = invoice.Usage{Events: *l.Events, RawQuantity: *l.RawQuantity}
		}
	}
	return out
}

func finalFor(finals []keymeter.FinalInvoice, month string) *keymeter.FinalInvoice {
	for i := range finals {
		if finals[i].Month == month {
			return &finals[i]
		}
	}
	return nil
}

// unbilled returns the customers that had events in the month (UTC) but
// are on no plan.
func unbilled(ctx context.Context, db UsageReader, s *billingSetup, month string) ([]Unbilled, error) {
	from, err := time.Parse("2006-01", month)
	if err != nil {
		return nil, keymeter.Errorf(keymeter.EINVALID, "--period %q: want a month such as 2025-10", month)
	}
	to := from.AddDate(0, 1, 0)
	present, err := db.SourcesIn(ctx, from, to)
	if err != nil {
		return nil, err
	}
	rows, err := db.Usage(ctx, keymeter.UsageQuery{From: from, To: to, Sources: keymeter.DefaultSources(present),
		By: []keymeter.Dimension{keymeter.DimCustomer, keymeter.DimSource}})
	if err != nil {
		return nil, err
	}
	var out []Unbilled
	for _, r := range rows {
		c := r.Group[0]
		if c.Null {
			continue
		}
		if _, ok := s.billing.Customer(c.Value); !ok {
			out = append(out, Unbilled{Customer: c.Value, Source: r.Group[1].Value, Requests: r.Requests})
		}
	}
	return out, nil
}

// FinalizeRequest asks to freeze the invoices of a billing period.
type FinalizeRequest struct {
	Month    string // the billing period, "2025-10"
	Customer string // one customer; "" for every customer on a plan
	// Force finalizes even before the period has closed (its end plus
	// Service.Grace), or while its logs are not complete.
	Force bool
	// CoverageThreshold is as in InvoiceRequest.
	CoverageThreshold int64
}

// Finalized is what Finalize froze.
type Finalized struct {
	Invoices []FinalizedInvoice
	// Skipped names the customers whose invoice was final already, and
	// its number.
	Skipped []string
	// Warnings say what --force let through, and what a real-time log
	// below the coverage threshold probably under-bills.
	Warnings []string
}

// FinalizedInvoice is a frozen invoice and its document.
type FinalizedInvoice struct {
	keymeter.FinalInvoice
	Document *invoice.Document
}

// Finalize freezes the invoices of a billing period: each gets the next
// invoice number and a cutoff (the newest change the store knows of,
// never before the customer's previous cutoff), and its canonical JSON
// and plan are stored; events of the period that arrive later are
// billed as late lines on the customer's next invoice. A customer's
// invoices are finalized in period order, without gaps, and a period
// only once it has closed and its logs are complete, unless Force.
//
// It returns an ECONFLICT error when an invoice cannot be finalized
// (nothing is then), when the one customer asked for is final already,
// or when every invoice of the period is; with the last one, and when
// the store refuses the invoices, the result is returned too, for its
// Skipped and Warnings. It returns billedFor's and Open's errors.
func (s *Service) Finalize(ctx context.Context, b *Billing, req FinalizeRequest) (_ *Finalized, err error) {
	st, err := s.open(ctx, Write)
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
	progress, err := st.Usage.Progress(ctx)
	if err != nil {
		return nil, err
	}
	settle := s.settle()
	covs := map[[2]time.Time]coverageSum{}
	out := &Finalized{}
	now := s.now().UTC().Truncate(time.Microsecond)
	grace := s.Grace
	watermark, err := st.Meters.LoadWatermark(ctx)
	if err != nil {
		return nil, err
	}
	seq, err := st.Invoices.LastInvoiceSeq(ctx)
	if err != nil {
		return nil, err
	}

	var problems []string
	var frozen []keymeter.FinalInvoice
	for _, t := range targets {
		c := t.a.Customer
		finals, err := st.Invoices.Invoices(ctx, keymeter.InvoiceFilter{Customer: c})
		if err != nil {
			return nil, err
		}
		if f := finalFor(finals, t.period.Month); f != nil {
			if req.Customer != "" {
				return nil, keymeter.Errorf(keymeter.ECONFLICT, "the %s invoice of %s is already final (%s, finalized %s); it cannot change: late events go on the next invoice",
					t.period.Month, c, f.Number, f.FinalizedAt.Format(time.RFC3339))
			}
			out.Skipped = append(out.Skipped, fmt.Sprintf("%s (already final: %s)", c, f.Number))
			continue
		}
		if problem := orderProblem(finals, t.period.Month); problem != "" {
			problems = append(problems, c+": "+problem)
			continue
		}
		if closes := t.period.End.Add(grace); now.Before(closes) && !req.Force {
			problems = append(problems, fmt.Sprintf("%s: period %s ends %s and events may arrive %s late: it can be finalized from %s (or use --force)",
				c, t.period.Month, t.period.End.Format(time.RFC3339), grace, closes.Format(time.RFC3339)))
			continue
		}
		if why := incomplete(progress, t, settle); why != "" {
			if !req.Force {
				problems = append(problems, fmt.Sprintf("%s: %s; finalize once they have arrived (or use --force)", c, why))
				continue
			}
			out.Warnings = append(out.Warnings, fmt.Sprintf("--force: %s: %s", c, why))
		}
		cutoff := watermark
		if cutoff.IsZero() {
			cutoff = now
		}
		if len(finals) > 0 && finals[len(finals)-1].Cutoff.After(cutoff) {
			cutoff = finals[len(finals)-1].Cutoff // cutoffs never go back
		}
		seq++
		number := invoiceNumber(seq)
		d, err := setup.document(ctx, st.Meters, t, cutoff, finals, invoice.Input{Status: invoice.Final, Number: number, FinalizedAt: now, Queries: st.Queries})
		if err != nil {
			return nil, err
		}
		if req.CoverageThreshold >= 0 {
			ws, err := setup.meterWarnings(ctx, completeness{st.Usage, st.Meters}, t, cutoff, DocumentUsage(d), req.CoverageThreshold, covs)
			if err != nil {
				return nil, err
			}
			out.Warnings = append(out.Warnings, ws...)
		}
		doc, err := d.Encode()
		if err != nil {
			return nil, err
		}
		plan, err := billing.MarshalPlan(t.plan)
		if err != nil {
			return nil, err
		}
		frozen = append(frozen, keymeter.FinalInvoice{Customer: c, Month: t.period.Month, Seq: seq, Number: number,
			Cutoff: d.Cutoff, FinalizedAt: now, Document: doc, PlanSnapshot: plan})
	}
	if len(problems) > 0 {
		return nil, keymeter.Errorf(keymeter.ECONFLICT, "nothing was finalized:\n  %s", strings.Join(problems, "\n  "))
	}
	if len(frozen) == 0 {
		return out, keymeter.Errorf(keymeter.ECONFLICT, "every invoice of %s is already final", req.Month)
	}
	if err := st.Invoices.FinalizeInvoices(ctx, frozen); err != nil {
		return out, err
	}
	for _, f := range frozen {
		d, err := invoice.Decode(f.Document)
		if err != nil {
			return nil, err
		}
		out.Invoices = append(out.Invoices, FinalizedInvoice{FinalInvoice: f, Document: d})
	}
	return out, nil
}

// orderProblem says why a customer's invoice for month cannot be
// finalized yet: invoices are finalized in period order, without gaps,
// so that every late event is billed exactly once.
func orderProblem(finals []keymeter.FinalInvoice, month string) string {
	if len(finals) == 0 {
		return ""
	}
	last := finals[len(finals)-1]
	if last.Month > month {
		return fmt.Sprintf("its %s invoice is already final, and invoices are finalized in period order", last.Month)
	}
	if prev := previousMonth(month); last.Month != prev {
		return fmt.Sprintf("finalize %s first: its last final invoice is for %s, and invoices are finalized without gaps", prev, last.Month)
	}
	return ""
}

// invoiceNumber is the printed form of an invoice sequence number.
func invoiceNumber(seq int64) string {
	return fmt.Sprintf("KM-%06d", seq)
}
