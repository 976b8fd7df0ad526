package main

import (
	"context"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/report"
	"github.com/keymeter/keymeter/service"
)

func (m *Main) runCosts(ctx context.Context, args []string) error {
	fs := m.newFlagSet("costs", "[flags]",
		"Estimates what serving a billing period's traffic cost on AWS, with the rates of\n"+
			"the billing config's costs section (AWS list prices in USD by default), and\n"+
			"shows it against revenue (the period's invoices: final, or drafts) and the\n"+
			"margin. Without --by, one row prices the whole month's traffic at once, as\n"+
			"AWS bills it. With --by customer, each customer's traffic over its own billing\n"+
			"period is priced on its own (with tiered rates the rows then add up to more),\n"+
			"and traffic no plan pays for (no key, or a customer on no plan) has its rows.")
	var b billingFlags
	b.register(fs)
	period := fs.String("period", "", "billing `month`, e.g. 2025-10 (default: the current month)")
	by := fs.String("by", "", "`customer` for one row per customer; empty for the account")
	runs := fs.Int64("function-runs", 0, "CloudFront Functions run per request (`N`: 1 with one viewer function)")
	format := fs.String("format", report.FormatTable, "output `format`: table, json or csv")
	if _, err := parseQueryFlags(fs, format, args, false); err != nil {
		return err
	}
	if *by != "" && *by != "customer" {
		return keymeter.Errorf(keymeter.EINVALID, "--by %q: costs are grouped by customer or not at all", *by)
	}
	if *runs < 0 {
		return keymeter.Errorf(keymeter.EINVALID, "--function-runs must not be negative")
	}
	month := *period
	if month == "" {
		month = m.now().UTC().Format("2006-01")
	}
	cfg, bc, err := m.loadBilling(&b)
	if err != nil {
		return err
	}
	costs, err := m.service(cfg).Costs(ctx, bc, service.CostRequest{Month: month, ByCustomer: *by == "customer", FunctionRuns: *runs})
	if err != nil {
		return err
	}
	return report.Costs(costs, *by == "customer").Write(m.Stdout, *format)
}
