package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/keymeter/keymeter/billing"
	"github.com/keymeter/keymeter/service"
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
	cfg, bc, err := m.loadBilling(&b)
	if err != nil {
		return err
	}
	exp, err := m.service(cfg).ExportStripe(ctx, bc, service.ExportRequest{Month: *period, Customer: *customer, CoverageThreshold: cfg.coverageThreshold()})
	if err != nil {
		return err
	}
	for _, c := range exp.Skipped {
		fmt.Fprintf(m.Stderr, "keymeter: skipped %s: no Stripe customer ID (keymeter customers set %s --stripe-id cus_...)\n", c, c)
	}
	for _, w := range exp.Warnings {
		fmt.Fprintf(m.Stderr, "keymeter: warning: %s\n", w)
	}
	out, err := billing.EncodeMeterEvents(exp.Events)
	if err != nil {
		return fmt.Errorf("encode meter events: %w", err)
	}
	_, err = m.Stdout.Write(out)
	return err
}
