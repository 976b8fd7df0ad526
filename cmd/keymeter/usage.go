package main

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/report"
	"github.com/keymeter/keymeter/service"
)

func (m *Main) runUsage(ctx context.Context, args []string) error {
	fs := m.newFlagSet("usage", "[flags]",
		"Reports requests and bytes over the half-open period [--from, --to), in UTC,\n"+
			"grouped by the --by columns: customer, api_key (the key's fingerprint, or an\n"+
			"API Gateway key ID as apikeyid:ID), path,\n"+
			"method, status, edge_result, edge_location, day, hour, month, source,\n"+
			"unattributed_reason. Unattributed requests have a null customer and key.\n"+
			"Counts and bytes are exact; time_taken statistics are in seconds.\n\n"+
			"Without --source it counts each request once: the edge join of CloudFront's\n"+
			"standard and real-time logs, and API Gateway beside it (never added up).\n"+
			"Several sources are always shown apart, by a source column. JSON and CSV\n"+
			"rows say up to when their source is complete (complete_until) and whether\n"+
			"they reach past it (provisional); the table says so below it.")
	var common commonFlags
	common.register(fs, false)
	from := fs.String("from", "", "start of the period, inclusive: `DATE` (2025-10-01), month (2025-10) or RFC 3339 (default: this month)")
	to := fs.String("to", "", "end of the period, exclusive, like --from (default: the end of --from's month)")
	by := fs.String("by", "customer", "comma-separated `columns` to group by; empty for one total")
	format := fs.String("format", report.FormatTable, "output `format`: table, json or csv")
	source := fs.String("source", "", "comma-separated `sources`: edge (both CloudFront logs joined), cloudfront, cloudfront-realtime, apigateway (default: edge and apigateway, those with events)")
	customer := fs.String("customer", "", "only this `customer`")
	threshold := fs.String("coverage-threshold", "", "warn when the real-time log has a record of fewer of the standard log's requests than this `percent` (default coverage_threshold, 99%)")
	if _, err := parseQueryFlags(fs, format, args, false); err != nil {
		return err
	}
	q := keymeter.UsageQuery{Customer: *customer}
	var err error
	if q.From, q.To, err = service.Period(*from, *to, m.now()); err != nil {
		return err
	}
	for _, name := range splitList(*by) {
		d, err := keymeter.ParseDimension(name)
		if err != nil {
			return err
		}
		q.By = append(q.By, d)
	}
	if q.Sources, err = parseSources(*source); err != nil {
		return err
	}
	cfg, err := common.load(m.Getenv)
	if err != nil {
		return err
	}
	bp, err := cfg.coverageThresholdFlag(*threshold)
	if err != nil {
		return err
	}
	svc := m.service(cfg)
	rep, err := svc.Usage(ctx, service.UsageRequest{Query: q, CoverageThreshold: bp})
	if err != nil {
		return err
	}
	for _, w := range rep.Warnings {
		fmt.Fprintf(m.Stderr, "keymeter: warning: %s\n", w)
	}
	res := report.Usage(rep)
	if *format == report.FormatJSON {
		return res.Write(m.Stdout, *format)
	}
	// CSV and the table leave the completeness columns out; the table
	// says in a footnote what they would.
	provisional := 0
	for _, r := range rep.Rows {
		if r.Provisional {
			provisional++
		}
	}
	if err := res.DropColumns(report.UsageCompleteness).Write(m.Stdout, *format); err != nil || *format != report.FormatTable {
		return err
	}
	var notes []string
	for _, s := range rep.Query.SourceList() {
		notes = append(notes, service.DescribeWatermark(rep.Watermarks[s], svc.Settle))
	}
	note := "\n" + strings.Join(notes, "\n")
	if provisional > 0 {
		note += fmt.Sprintf("\n%d of %d rows reach past it: provisional, they may still change", provisional, len(rep.Rows))
	}
	_, err = fmt.Fprintln(m.Stdout, note)
	return err
}

// parseSources parses --source: a comma-separated list of sources.
func parseSources(list string) ([]keymeter.Source, error) {
	var out []keymeter.Source
	for _, name := range splitList(list) {
		s, err := keymeter.ParseSource(name)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}
