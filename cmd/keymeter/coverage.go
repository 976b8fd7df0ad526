package main

import (
	"context"
	"fmt"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/report"
	"github.com/keymeter/keymeter/service"
)

func (m *Main) runCoverage(ctx context.Context, args []string) error {
	fs := m.newFlagSet("coverage", "[flags]",
		"Compares CloudFront's real-time log with its standard log over the half-open\n"+
			"period [--from, --to), per distribution and UTC day: the standard log's\n"+
			"requests (standard_requests), those with a real-time record too\n"+
			"(with_realtime), real-time records still without their standard line\n"+
			"(realtime_only: the edge join counts them once, provisionally), keys lost to\n"+
			"the 800-byte cut of cs-headers (key_truncated) and of those, the ones the\n"+
			"standard line's query string still has (key_recovered), and with_realtime\n"+
			"as a percentage of standard_requests (realtime_percent), an estimate of\n"+
			"the real-time log's sampling rate.")
	var common commonFlags
	common.register(fs, false)
	from := fs.String("from", "", "start of the period, inclusive: `DATE` (2025-10-01), month (2025-10) or RFC 3339 (default: this month)")
	to := fs.String("to", "", "end of the period, exclusive, like --from (default: the end of --from's month)")
	format := fs.String("format", report.FormatTable, "output `format`: table, json or csv")
	if _, err := parseQueryFlags(fs, format, args, false); err != nil {
		return err
	}
	var q keymeter.CoverageQuery
	var err error
	if q.From, q.To, err = service.Period(*from, *to, m.now()); err != nil {
		return err
	}
	cfg, err := common.load(m.Getenv)
	if err != nil {
		return err
	}
	rep, err := m.service(cfg).Coverage(ctx, q)
	if err != nil {
		return err
	}
	if err := report.Coverage(rep).Write(m.Stdout, *format); err != nil || *format != report.FormatTable {
		return err
	}
	all := rep.Total
	pct := "no standard lines to compare with"
	if bp, ok := all.RealtimeBasisPoints(); ok {
		pct = keymeter.FormatBasisPoints(bp) + "% of them with a real-time record"
	}
	_, err = fmt.Fprintf(m.Stdout, "\nall: %d standard-log requests, %s; %d real-time records without a standard line; %d keys cut, %d of them recovered\n",
		all.Standard, pct, all.RealtimeOnly, all.KeyTruncated, all.KeyRecovered)
	return err
}
