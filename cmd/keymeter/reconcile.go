package main

import (
	"context"
	"fmt"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/report"
	"github.com/keymeter/keymeter/service"
)

func (m *Main) runReconcile(ctx context.Context, args []string) error {
	fs := m.newFlagSet("reconcile", "[flags]",
		"Lays the edge (CloudFront) and the origin (API Gateway) side by side over the\n"+
			"half-open period [--from, --to), in UTC, per customer and day by default:\n"+
			"edge requests, those answered at the edge (edge_hits: Hit, RefreshHit,\n"+
			"Redirect), edge errors (LimitExceeded, CapacityExceeded, and Error with status\n"+
			"000 or 5xx), origin requests, and the difference none of these explains:\n"+
			"unexplained = edge_requests - edge_hits - edge_errors - origin_requests.\n"+
			"Rows whose |unexplained| exceeds --threshold are flagged. Customers link the two\n"+
			"sides: import a customer's api_key and api_key_id on one row of keys import.")
	var common commonFlags
	common.register(fs, false)
	from := fs.String("from", "", "start of the period, inclusive: `DATE` (2025-10-01), month (2025-10) or RFC 3339 (default: this month)")
	to := fs.String("to", "", "end of the period, exclusive, like --from (default: the end of --from's month)")
	by := fs.String("by", "customer,day", "comma-separated `columns` to group by: customer, day, hour, month; empty for one total")
	threshold := fs.String("threshold", "0", "flag rows whose |unexplained| exceeds this many requests (`N`), or this percentage of the edge requests (N%)")
	edge := fs.String("edge-source", "edge", "the edge `source`: edge (both CloudFront logs joined, each request once), cloudfront or cloudfront-realtime (one log alone)")
	flaggedOnly := fs.Bool("flagged", false, "list only the flagged rows")
	format := fs.String("format", report.FormatTable, "output `format`: table, json or csv")
	if _, err := parseQueryFlags(fs, format, args, false); err != nil {
		return err
	}
	q := keymeter.ReconcileQuery{}
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
	th, err := keymeter.ParseThreshold(*threshold)
	if err != nil {
		return err
	}
	switch *edge {
	case "auto", "": // the name of the default before the edge join
		q.Edge = keymeter.SourceEdge
	case keymeter.SourceEdge.String(), keymeter.SourceCloudFront.String(), keymeter.SourceCloudFrontRealtime.String():
		q.Edge, _ = keymeter.ParseSource(*edge)
	default:
		return keymeter.Errorf(keymeter.EINVALID, "--edge-source %q: want edge, cloudfront or cloudfront-realtime", *edge)
	}
	cfg, err := common.load(m.Getenv)
	if err != nil {
		return err
	}
	rec, err := m.service(cfg).Reconcile(ctx, service.ReconcileRequest{Query: q, Threshold: th, FlaggedOnly: *flaggedOnly})
	if err != nil {
		return err
	}
	if err := report.Reconcile(rec).Write(m.Stdout, *format); err != nil {
		return err
	}
	fmt.Fprintf(m.Stderr, "edge source %s, origin source %s: %d of %d rows flagged (|unexplained| > %s)\n",
		rec.Edge, rec.Origin, rec.Flagged, rec.Total, rec.Threshold)
	return nil
}
