package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/billing"
	"github.com/keymeter/keymeter/billing/invoice"
)

const exportUsage = `Usage:
  keymeter export stripe --period MONTH [flags]   usage as Stripe meter events (JSON Lines)
`

func (m *Main) runExport(ctx context.Context, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") && !isHelp(args[0]) {
		fmt.Fprint(m.Stderr, exportUsage)
		return &usageError{msg: "export: no format given (want stripe)"}
	}
	switch args[0] {
	case "stripe":
		return m.runExportStripe(ctx, args[1:])
	case "-h", "-help", "--help", "help":
		fmt.Fprint(m.Stdout, exportUsage)
		return nil
	}
	return &usageError{msg: fmt.Sprintf("export: unknown format %q (want stripe)", args[0])}
}

func (m *Main) runExportStripe(ctx context.Context, args []string) error {
	fs := m.newFlagSet("export stripe", "--period MONTH [flags]",
		"Prints a billing period's usage as Stripe meter events, one JSON object per line,\n"+
			"in the shape of Stripe's create-meter-event request: one event per customer and\n"+
			"priced meter, valued in the meter's unit. A finalized invoice's quantities are\n"+
			"exported as frozen; otherwise the draft's. Each event's identifier depends on\n"+
			"the customer, meter and period only, so sending the file twice charges once.\n"+
			"Customers without a Stripe customer ID are skipped, and named on stderr.")
	var b billingFlags
	b.register(fs)
	period := fs.String("period", "", "billing `month`, e.g. 2025-10 (required)")
	customer := fs.String("customer", "", "only this `customer`")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return &usageError{msg: fmt.Sprintf("export stripe: unexpected argument %q", pos[0])}
	}
	if *period == "" {
		return &usageError{msg: "export stripe: --period is required (e.g. --period 2025-10)"}
	}
	s, err := m.loadBilling(&b)
	if err != nil {
		return err
	}
	db, err := s.openStore(ctx, true)
	if err != nil {
		return err
	}
	defer db.Close()
	targets, err := s.billedFor(*period, *customer)
	if err != nil {
		return err
	}
	var withID []billed
	for _, t := range targets {
		if t.a.StripeCustomerID == "" {
			fmt.Fprintf(m.Stderr, "keymeter: skipped %s: no Stripe customer ID (keymeter customers set %s --stripe-id cus_...)\n", t.a.Customer, t.a.Customer)
			continue
		}
		withID = append(withID, t)
	}
	docs, err := m.invoiceDocs(ctx, s, db, withID, s.cfg.coverageThreshold())
	if err != nil {
		return err
	}
	var events []billing.MeterEvent
	for i, t := range withID {
		d, err := invoice.Decode(docs[i])
		if err != nil {
			return err
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
				return err
			}
			events = append(events, e)
		}
	}
	out, err := billing.EncodeMeterEvents(events)
	if err != nil {
		return fmt.Errorf("encode meter events: %w", err)
	}
	_, err = m.Stdout.Write(out)
	return err
}
