package main

import (
	"context"
	"fmt"
	"time"

	"github.com/keymeter/keymeter"
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
	format := fs.String("format", formatTable, "output `format`: table, json or csv")
	if _, err := parseQueryFlags(fs, format, args, false); err != nil {
		return err
	}
	q := keymeter.ReconcileQuery{}
	var err error
	if q.From, q.To, err = period(*from, *to, time.Now()); err != nil {
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
	db, err := m.openReadOnly(ctx, &common)
	if err != nil {
		return err
	}
	defer db.Close()
	rec, err := db.Reconcile(ctx, q)
	if err != nil {
		return err
	}
	res := &result{}
	for _, d := range q.By {
		res.cols = append(res.cols, string(d))
	}
	res.cols = append(res.cols, "edge_requests", "edge_hits", "edge_errors", "origin_requests", "unexplained", "flagged")
	flagged := 0
	for i := range rec.Rows {
		r := &rec.Rows[i]
		exceeds := th.Exceeds(r)
		if exceeds {
			flagged++
		} else if *flaggedOnly {
			continue
		}
		var row []cell
		for _, g := range r.Group {
			row = append(row, optText(g.Value, g.Null))
		}
		row = append(row, intCell(r.EdgeRequests), intCell(r.EdgeHits), intCell(r.EdgeErrors), intCell(r.OriginRequests),
			intCell(r.Unexplained()), cell{text: fmt.Sprint(exceeds), json: exceeds})
		res.rows = append(res.rows, row)
	}
	if err := res.write(m.Stdout, *format); err != nil {
		return err
	}
	fmt.Fprintf(m.Stderr, "edge source %s, origin source %s: %d of %d rows flagged (|unexplained| > %s)\n",
		rec.Edge, rec.Origin, flagged, len(rec.Rows), th)
	return nil
}
