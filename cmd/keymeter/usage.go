package main

import (
	"context"
	"strings"
	"time"

	"github.com/keymeter/keymeter"
)

func (m *Main) runUsage(ctx context.Context, args []string) error {
	fs := m.newFlagSet("usage", "[flags]",
		"Reports requests and bytes over the half-open period [--from, --to), in UTC,\n"+
			"grouped by the --by columns: customer, api_key (the key's fingerprint, or an\n"+
			"API Gateway key ID as apikeyid:ID), path,\n"+
			"method, status, edge_result, edge_location, day, hour, month, source,\n"+
			"unattributed_reason. Unattributed requests have a null customer and key.\n"+
			"Counts and bytes are exact; time_taken statistics are in seconds.")
	var common commonFlags
	common.register(fs, false)
	from := fs.String("from", "", "start of the period, inclusive: `DATE` (2025-10-01), month (2025-10) or RFC 3339 (default: this month)")
	to := fs.String("to", "", "end of the period, exclusive, like --from (default: the end of --from's month)")
	by := fs.String("by", "customer", "comma-separated `columns` to group by; empty for one total")
	format := fs.String("format", formatTable, "output `format`: table, json or csv")
	source := fs.String("source", "", "only events from this `source`: cloudfront, cloudfront-realtime or apigateway")
	customer := fs.String("customer", "", "only this `customer`")
	if _, err := parseQueryFlags(fs, format, args, false); err != nil {
		return err
	}
	q := keymeter.UsageQuery{Customer: *customer}
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
	if *source != "" {
		if q.Source, err = keymeter.ParseSource(*source); err != nil {
			return err
		}
	}
	db, err := m.openReadOnly(ctx, &common)
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.Usage(ctx, q)
	if err != nil {
		return err
	}
	return usageResult(q, rows).write(m.Stdout, *format)
}

// usageResult lays out usage rows as a result table.
func usageResult(q keymeter.UsageQuery, rows []keymeter.UsageRow) *result {
	res := &result{}
	for _, d := range q.By {
		res.cols = append(res.cols, string(d))
	}
	res.cols = append(res.cols, "requests", "bytes_sent", "bytes_received",
		"time_taken_avg", "time_taken_p50", "time_taken_p95", "time_taken_p99")
	for _, r := range rows {
		var out []cell
		for _, g := range r.Group {
			out = append(out, optText(g.Value, g.Null))
		}
		out = append(out, int128Cell(r.Requests), int128Cell(r.BytesSent), int128Cell(r.BytesReceived))
		if t := r.TimeTaken; t.Count > 0 {
			out = append(out, numberCell(meanSeconds(t.Sum, t.Count)), numberCell(seconds(t.P50)),
				numberCell(seconds(t.P95)), numberCell(seconds(t.P99)))
		} else {
			out = append(out, nullCell(), nullCell(), nullCell(), nullCell())
		}
		res.rows = append(res.rows, out)
	}
	return res
}

// period parses --from and --to. Without --from the period is the current
// UTC month; without --to it ends with the month --from is in (or, for a
// --from that is not a month's first instant, one month later).
func period(from, to string, now time.Time) (time.Time, time.Time, error) {
	var f, t time.Time
	var err error
	if from == "" {
		now = now.UTC()
		f = time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	} else if f, err = parseInstant(from, "--from"); err != nil {
		return f, t, err
	}
	if to == "" {
		t = f.AddDate(0, 1, 0)
		if f.Day() == 1 && f.Hour() == 0 && f.Minute() == 0 && f.Second() == 0 && f.Nanosecond() == 0 {
			t = time.Date(f.Year(), f.Month()+1, 1, 0, 0, 0, 0, time.UTC)
		}
	} else if t, err = parseInstant(to, "--to"); err != nil {
		return f, t, err
	}
	if !f.Before(t) {
		return f, t, keymeter.Errorf(keymeter.EINVALID, "--from %s is not before --to %s", f.Format(time.RFC3339), t.Format(time.RFC3339))
	}
	return f, t, nil
}

// parseInstant parses a date (UTC midnight), a month (its first day) or an
// RFC 3339 time.
func parseInstant(s, flagName string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"2006-01-02", "2006-01", time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, keymeter.Errorf(keymeter.EINVALID, "%s %q: want a date (2025-10-01), a month (2025-10) or an RFC 3339 time (2025-10-01T12:00:00Z)", flagName, s)
}
