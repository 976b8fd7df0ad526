package main

import (
	"context"
	"fmt"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/billing/invoice"
	"github.com/keymeter/keymeter/report"
	"github.com/keymeter/keymeter/service"
)

const invoiceUsage = `Usage:
  keymeter invoice [flags]            show invoices: finalized ones as frozen, others as drafts
  keymeter invoice finalize [flags]   freeze invoices: numbered, and never computed again

Run "keymeter invoice -h" or "keymeter invoice finalize -h" for the flags.
`

func (m *Main) runInvoice(ctx context.Context, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "finalize":
			return m.runInvoiceFinalize(ctx, args[1:])
		case "help":
			fmt.Fprint(m.Stdout, invoiceUsage)
			return nil
		}
	}
	fs := m.newFlagSet("invoice", "[flags]",
		"Shows the invoices of a billing period: a finalized invoice exactly as it was\n"+
			"frozen, any other as a draft computed from the events loaded so far. Each\n"+
			"line's quantity is a SQL sum over the events view (see --queries).\n"+
			"--format json prints the canonical JSON: one document with --customer, else\n"+
			"an array; csv prints one row per line, for accounting; html a printable page.")
	var b billingFlags
	b.register(fs)
	period := fs.String("period", "", "billing `month`, e.g. 2025-10 (default: the current month)")
	customer := fs.String("customer", "", "only this `customer`")
	format := fs.String("format", report.FormatTable, "output `format`: table, json, csv or html")
	queries := fs.Bool("queries", false, "table format: show the keymeter sql command that counts each line again")
	threshold := fs.String("coverage-threshold", "", "warn when a meter counts from a real-time log with a record of fewer of the standard log's requests than this `percent` (default coverage_threshold, 99%)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return &usageError{msg: fmt.Sprintf("invoice: unexpected argument %q", pos[0]), hint: invoiceUsage}
	}
	switch *format {
	case report.FormatTable, report.FormatJSON, report.FormatCSV, formatHTML:
	default:
		return keymeter.Errorf(keymeter.EINVALID, "unknown --format %q (want table, json, csv or html)", *format)
	}
	month := *period
	if month == "" {
		month = m.now().UTC().Format("2006-01")
	}
	cfg, bc, err := m.loadBilling(&b)
	if err != nil {
		return err
	}
	bp, err := cfg.coverageThresholdFlag(*threshold)
	if err != nil {
		return err
	}
	set, err := m.service(cfg).Invoices(ctx, bc, service.InvoiceRequest{Month: month, Customer: *customer, CoverageThreshold: bp})
	if err != nil {
		return err
	}
	for _, w := range set.Warnings {
		fmt.Fprintf(m.Stderr, "keymeter: warning: %s\n", w)
	}
	for _, u := range set.Unbilled {
		fmt.Fprintf(m.Stderr, "keymeter: not invoiced: %s had %d requests (%s) in %s but is on no plan (keymeter customers set %s --plan PLAN --start DATE)\n",
			u.Customer, u.Requests, u.Source, month, u.Customer)
	}
	docs := set.Documents
	switch *format {
	case report.FormatJSON:
		_, err = m.Stdout.Write(report.Invoices(docs, *customer != ""))
		return err
	case report.FormatCSV:
		return invoice.WriteCSV(m.Stdout, docs)
	case formatHTML:
		return invoice.WriteHTML(m.Stdout, docs)
	}
	return invoice.WriteText(m.Stdout, docs, *queries)
}

func (m *Main) runInvoiceFinalize(ctx context.Context, args []string) error {
	fs := m.newFlagSet("invoice finalize", "--period MONTH [flags]",
		"Freezes the invoices of a billing period: each gets the next invoice number and\n"+
			"a cutoff (the newest load time in the store), and its canonical JSON is stored.\n"+
			"It renders the same forever; events of the period loaded after the cutoff are\n"+
			"billed as late lines on the customer's next invoice.\n\n"+
			"A period can be finalized once it has ended and the allowed lateness of events\n"+
			"(billing_grace in the config file, default 24h) has passed, unless --force.\n"+
			"A customer's invoices are finalized in period order, without gaps. Without\n"+
			"--customer, every customer on a plan is finalized, and those already final\n"+
			"are skipped.")
	var b billingFlags
	b.register(fs)
	period := fs.String("period", "", "billing `month` to finalize, e.g. 2025-10 (required)")
	customer := fs.String("customer", "", "only this `customer`")
	force := fs.Bool("force", false, "finalize even if the period has not closed (plus the allowed lateness), or its logs are not complete")
	format := fs.String("format", report.FormatTable, "output `format`: table, json or csv")
	threshold := fs.String("coverage-threshold", "", "warn when a meter counts from a real-time log with a record of fewer of the standard log's requests than this `percent` (default coverage_threshold, 99%)")
	if _, err := parseQueryFlags(fs, format, args, false); err != nil {
		return err
	}
	if *period == "" {
		return &usageError{msg: "invoice finalize: --period is required (e.g. --period 2025-10)"}
	}
	cfg, bc, err := m.loadBilling(&b)
	if err != nil {
		return err
	}
	bp, err := cfg.coverageThresholdFlag(*threshold)
	if err != nil {
		return err
	}
	fin, err := m.service(cfg).Finalize(ctx, bc, service.FinalizeRequest{Month: *period, Customer: *customer, Force: *force, CoverageThreshold: bp})
	if fin != nil {
		for _, sk := range fin.Skipped {
			fmt.Fprintf(m.Stderr, "keymeter: skipped %s\n", sk)
		}
		for _, w := range fin.Warnings {
			fmt.Fprintf(m.Stderr, "keymeter: warning: %s\n", w)
		}
	}
	if err != nil {
		return err
	}
	return report.Finalized(fin.Invoices).Write(m.Stdout, *format)
}
