package service

import (
	"context"
	"fmt"
	"math/big"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/billing/invoice"
)

// DraftProjection is a customer's invoice of the current billing period,
// and the same invoice projected to the period's end.
type DraftProjection struct {
	// Document is the current period's invoice: a draft computed now, or
	// the final invoice when the period is finalized already.
	Document *invoice.Document
	// Projected is the draft rated on its usage scaled linearly to the
	// whole period (usage so far × period length / time elapsed, each
	// quantity rounded half up to a whole raw unit); nil when there is
	// nothing to project: the invoice is final, or the period has just
	// begun or has ended.
	Projected *invoice.Document
	// Basis says how the projection was made, for people.
	Basis string
}

// ProjectDraft returns customer's invoice of the billing period that
// holds the service's now, and its projection to the period's end. It
// returns Invoices' errors (ENOTFOUND for a customer on no plan).
func (s *Service) ProjectDraft(ctx context.Context, b *Billing, customer string) (_ *DraftProjection, err error) {
	now := s.now().UTC()
	st, err := s.open(ctx, Read)
	if err != nil {
		return nil, err
	}
	defer done(st, &err)
	setup, err := s.setup(ctx, b, st)
	if err != nil {
		return nil, err
	}
	targets, err := setup.billedFor(now.Format("2006-01"), customer)
	if err != nil {
		return nil, err
	}
	if len(targets) != 1 {
		return nil, keymeter.Errorf(keymeter.ENOTFOUND, "customer %q has no invoice for %s", customer, now.Format("2006-01"))
	}
	docs, _, err := s.invoiceDocs(ctx, setup, st, targets, -1)
	if err != nil {
		return nil, err
	}
	d, err := invoice.Decode(docs[0])
	if err != nil {
		return nil, err
	}
	out := &DraftProjection{Document: d}
	p := targets[0].period
	elapsed, whole := now.Sub(p.ActiveStart), p.End.Sub(p.ActiveStart)
	if d.Status != invoice.Draft || elapsed < time.Hour || !now.Before(p.End) {
		return out, nil
	}
	usage := map[string]invoice.Usage{}
	for meter, u := range DocumentUsage(d) {
		if usage[meter], err = scaleUsage(u, int64(whole/time.Second), int64(elapsed/time.Second)); err != nil {
			return nil, err
		}
	}
	proj, err := invoice.Build(invoice.Input{Status: invoice.Draft, Customer: d.Customer, Plan: targets[0].plan, Period: p, Cutoff: d.Cutoff, Usage: usage})
	if err != nil {
		return nil, err
	}
	out.Projected = proj
	out.Basis = fmt.Sprintf("usage of the %s so far × %s/%s", roundDays(elapsed), roundDays(whole), roundDays(elapsed))
	return out, nil
}

// scaleUsage returns u × num / den, rounded half up.
func scaleUsage(u invoice.Usage, num, den int64) (invoice.Usage, error) {
	scale := func(v keymeter.Int128) (keymeter.Int128, error) {
		x := new(big.Int).Mul(v.Big(), big.NewInt(num))
		x.Add(x, big.NewInt(den/2))
		x.Quo(x, big.NewInt(den))
		return keymeter.Int128FromBig(x)
	}
	var out invoice.Usage
	var err error
	if out.Events, err = scale(u.Events); err != nil {
		return out, err
	}
	out.RawQuantity, err = scale(u.RawQuantity)
	return out, err
}

// roundDays says a duration in days, to a tenth of a day.
func roundDays(d time.Duration) string {
	tenths := (d + 72*time.Minute) / (144 * time.Minute)
	if tenths%10 == 0 {
		return fmt.Sprintf("%d days", tenths/10)
	}
	return fmt.Sprintf("%d.%d days", tenths/10, tenths%10)
}
