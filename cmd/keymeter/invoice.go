package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/billing"
	"github.com/keymeter/keymeter/billing/invoice"
)

// Invoice output formats besides table, json and csv.
const formatHTML = "html"

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
	format := fs.String("format", formatTable, "output `format`: table, json, csv or html")
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
	case formatTable, formatJSON, formatCSV, formatHTML:
	default:
		return keymeter.Errorf(keymeter.EINVALID, "unknown --format %q (want table, json, csv or html)", *format)
	}
	month := *period
	if month == "" {
		month = m.now().UTC().Format("2006-01")
	}
	s, err := m.loadBilling(&b)
	if err != nil {
		return err
	}
	bp, err := s.coverageThreshold(*threshold)
	if err != nil {
		return err
	}
	db, err := s.openStore(ctx, true)
	if err != nil {
		return err
	}
	defer db.Close()
	targets, err := s.billedFor(month, *customer)
	if err != nil {
		return err
	}
	docs, err := m.invoiceDocs(ctx, s, db, targets, bp)
	if err != nil {
		return err
	}
	if *customer == "" {
		m.noteUnbilled(ctx, db, s, month)
	}
	switch *format {
	case formatJSON:
		_, err = m.Stdout.Write(jsonDocs(docs, *customer != ""))
		return err
	case formatCSV:
		return invoice.WriteCSV(m.Stdout, docs)
	case formatHTML:
		return invoice.WriteHTML(m.Stdout, docs)
	}
	return invoice.WriteText(m.Stdout, docs, *queries)
}

// invoiceDocs returns the canonical JSON of each target's invoice: the
// stored bytes of a finalized one, a draft computed now for the others.
// A draft whose meters count from a real-time log below the coverage
// threshold (in basis points; negative: no check) carries warnings,
// also printed on stderr.
func (m *Main) invoiceDocs(ctx context.Context, s *billingSetup, db billingDB, targets []billed, threshold int64) ([][]byte, error) {
	cutoff, err := db.LoadWatermark(ctx)
	if err != nil {
		return nil, err
	}
	if cutoff.IsZero() {
		cutoff = m.now()
	}
	var docs [][]byte
	covs := map[[2]time.Time]coverageSum{}
	for _, t := range targets {
		finals, err := db.Invoices(ctx, keymeter.InvoiceFilter{Customer: t.a.Customer})
		if err != nil {
			return nil, err
		}
		if f := finalFor(finals, t.period.Month); f != nil {
			docs = append(docs, f.Document)
			continue
		}
		d, err := s.document(ctx, db, t, cutoff, finals, invoice.Input{Status: invoice.Draft})
		if err != nil {
			return nil, err
		}
		if threshold >= 0 {
			if d.Warnings, err = s.meterWarnings(ctx, db, t, cutoff, documentUsage(d), threshold, covs); err != nil {
				return nil, err
			}
			for _, w := range d.Warnings {
				fmt.Fprintf(m.Stderr, "keymeter: warning: %s\n", w)
			}
		}
		b, err := d.Encode()
		if err != nil {
			return nil, err
		}
		docs = append(docs, b)
	}
	return docs, nil
}

// documentUsage returns what a document's usage lines counted, by meter.
func documentUsage(d *invoice.Document) map[string]invoice.Usage {
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

// jsonDocs returns one document as it is, or several as a JSON array.
func jsonDocs(docs [][]byte, one bool) []byte {
	if one && len(docs) == 1 {
		return docs[0]
	}
	var b bytes.Buffer
	b.WriteString("[")
	for i, d := range docs {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n")
		b.Write(bytes.TrimRight(d, "\n"))
	}
	b.WriteString("\n]\n")
	return b.Bytes()
}

// noteUnbilled says on stderr which customers had events in the month
// (UTC) but are on no plan, so that nobody is forgotten silently.
func (m *Main) noteUnbilled(ctx context.Context, db billingDB, s *billingSetup, month string) {
	from, err := time.Parse("2006-01", month)
	if err != nil {
		return
	}
	to := from.AddDate(0, 1, 0)
	present, err := db.SourcesIn(ctx, from, to)
	if err != nil {
		return
	}
	rows, err := db.Usage(ctx, keymeter.UsageQuery{From: from, To: to, Sources: keymeter.DefaultSources(present),
		By: []keymeter.Dimension{keymeter.DimCustomer, keymeter.DimSource}})
	if err != nil {
		return
	}
	for _, r := range rows {
		c := r.Group[0]
		if c.Null {
			continue
		}
		if _, ok := s.billing.Customer(c.Value); !ok {
			fmt.Fprintf(m.Stderr, "keymeter: not invoiced: %s had %d requests (%s) in %s but is on no plan (keymeter customers set %s --plan PLAN --start DATE)\n",
				c.Value, r.Requests, r.Group[1].Value, month, c.Value)
		}
	}
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
	format := fs.String("format", formatTable, "output `format`: table, json or csv")
	threshold := fs.String("coverage-threshold", "", "warn when a meter counts from a real-time log with a record of fewer of the standard log's requests than this `percent` (default coverage_threshold, 99%)")
	if _, err := parseQueryFlags(fs, format, args, false); err != nil {
		return err
	}
	if *period == "" {
		return &usageError{msg: "invoice finalize: --period is required (e.g. --period 2025-10)"}
	}
	s, err := m.loadBilling(&b)
	if err != nil {
		return err
	}
	bp, err := s.coverageThreshold(*threshold)
	if err != nil {
		return err
	}
	db, err := s.openStore(ctx, false)
	if err != nil {
		return err
	}
	defer db.Close()
	targets, err := s.billedFor(*period, *customer)
	if err != nil {
		return err
	}
	progress, err := db.Progress(ctx)
	if err != nil {
		return err
	}
	settle := s.cfg.settle()
	covs := map[[2]time.Time]coverageSum{}
	var warnings []string
	now := m.now().UTC().Truncate(time.Microsecond)
	grace := s.cfg.grace()
	watermark, err := db.LoadWatermark(ctx)
	if err != nil {
		return err
	}
	seq, err := db.LastInvoiceSeq(ctx)
	if err != nil {
		return err
	}

	var problems []string
	var skipped []string
	var frozen []keymeter.FinalInvoice
	for _, t := range targets {
		c := t.a.Customer
		finals, err := db.Invoices(ctx, keymeter.InvoiceFilter{Customer: c})
		if err != nil {
			return err
		}
		if f := finalFor(finals, t.period.Month); f != nil {
			if *customer != "" {
				return keymeter.Errorf(keymeter.ECONFLICT, "the %s invoice of %s is already final (%s, finalized %s); it cannot change: late events go on the next invoice",
					t.period.Month, c, f.Number, f.FinalizedAt.Format(time.RFC3339))
			}
			skipped = append(skipped, fmt.Sprintf("%s (already final: %s)", c, f.Number))
			continue
		}
		if problem := orderProblem(finals, t.period.Month); problem != "" {
			problems = append(problems, c+": "+problem)
			continue
		}
		if closes := t.period.End.Add(grace); now.Before(closes) && !*force {
			problems = append(problems, fmt.Sprintf("%s: period %s ends %s and events may arrive %s late: it can be finalized from %s (or use --force)",
				c, t.period.Month, t.period.End.Format(time.RFC3339), grace, closes.Format(time.RFC3339)))
			continue
		}
		if why := incomplete(progress, t, settle); why != "" {
			if !*force {
				problems = append(problems, fmt.Sprintf("%s: %s; finalize once they have arrived (or use --force)", c, why))
				continue
			}
			warnings = append(warnings, fmt.Sprintf("--force: %s: %s", c, why))
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
		d, err := s.document(ctx, db, t, cutoff, finals, invoice.Input{Status: invoice.Final, Number: number, FinalizedAt: now})
		if err != nil {
			return err
		}
		if bp >= 0 {
			ws, err := s.meterWarnings(ctx, db, t, cutoff, documentUsage(d), bp, covs)
			if err != nil {
				return err
			}
			warnings = append(warnings, ws...)
		}
		doc, err := d.Encode()
		if err != nil {
			return err
		}
		plan, err := billing.MarshalPlan(t.plan)
		if err != nil {
			return err
		}
		frozen = append(frozen, keymeter.FinalInvoice{Customer: c, Month: t.period.Month, Seq: seq, Number: number,
			Cutoff: d.Cutoff, FinalizedAt: now, Document: doc, PlanSnapshot: plan})
	}
	if len(problems) > 0 {
		return keymeter.Errorf(keymeter.ECONFLICT, "nothing was finalized:\n  %s", strings.Join(problems, "\n  "))
	}
	for _, sk := range skipped {
		fmt.Fprintf(m.Stderr, "keymeter: skipped %s\n", sk)
	}
	for _, w := range warnings {
		fmt.Fprintf(m.Stderr, "keymeter: warning: %s\n", w)
	}
	if len(frozen) == 0 {
		return keymeter.Errorf(keymeter.ECONFLICT, "every invoice of %s is already final", *period)
	}
	if err := db.FinalizeInvoices(ctx, frozen); err != nil {
		return err
	}
	res := &result{cols: []string{"customer", "period", "number", "total", "currency", "cutoff", "late_events"}}
	for _, f := range frozen {
		d, err := invoice.Decode(f.Document)
		if err != nil {
			return err
		}
		res.rows = append(res.rows, []cell{textCell(f.Customer), textCell(f.Month), textCell(f.Number),
			numberCell(d.Currency.Format(d.Total)), textCell(d.Currency.Code), textCell(f.Cutoff.Format(time.RFC3339Nano)), int128Cell(d.LateEvents)})
	}
	return res.write(m.Stdout, *format)
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
