package main

import (
	"context"
	"fmt"
	"slices"
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
	format := fs.String("format", formatTable, "output `format`: table, json or csv")
	source := fs.String("source", "", "comma-separated `sources`: edge (both CloudFront logs joined), cloudfront, cloudfront-realtime, apigateway (default: edge and apigateway, those with events)")
	customer := fs.String("customer", "", "only this `customer`")
	threshold := fs.String("coverage-threshold", "", "warn when the real-time log has a record of fewer of the standard log's requests than this `percent` (default coverage_threshold, 99%)")
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
	if q.Sources, err = parseSources(*source); err != nil {
		return err
	}
	cfg, err := common.load(m.Getenv)
	if err != nil {
		return err
	}
	bp := cfg.coverageThreshold()
	if *threshold != "" {
		if bp, err = keymeter.ParsePercent(*threshold); err != nil {
			return keymeter.Errorf(keymeter.EINVALID, "--coverage-threshold %v", err)
		}
	}
	db, err := cfg.openStore(ctx, true)
	if err != nil {
		return err
	}
	defer db.Close()
	if len(q.Sources) == 0 {
		present, err := db.SourcesIn(ctx, q.From, q.To)
		if err != nil {
			return err
		}
		q.Sources = keymeter.DefaultSources(present)
	}
	if len(q.Sources) > 1 && !slices.Contains(q.By, keymeter.DimSource) {
		// Edge and origin, or two logs of the same requests, are never
		// added into one number.
		q.By = append([]keymeter.Dimension{keymeter.DimSource}, q.By...)
	}
	rows, err := db.Usage(ctx, q)
	if err != nil {
		return err
	}
	settle := cfg.settle()
	marks, err := watermarks(ctx, db, q.SourceList(), q.From, q.To, settle)
	if err != nil {
		return err
	}
	warnings, err := coverageWarnings(ctx, db, q, rows, slices.Index(q.By, keymeter.DimSource), bp)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		fmt.Fprintf(m.Stderr, "keymeter: warning: %s\n", w)
	}
	res := usageResult(q, rows, marks)
	if *format == formatJSON {
		return res.write(m.Stdout, *format)
	}
	// CSV and the table leave the completeness columns out; the table
	// says in a footnote what they would.
	provisional := 0
	for _, r := range res.rows {
		if r[len(r)-1].json == true {
			provisional++
		}
	}
	res.cols = res.cols[:len(res.cols)-2]
	for i := range res.rows {
		res.rows[i] = res.rows[i][:len(res.rows[i])-2]
	}
	if err := res.write(m.Stdout, *format); err != nil || *format != formatTable {
		return err
	}
	var notes []string
	for _, s := range q.SourceList() {
		notes = append(notes, describeWatermark(marks[s], settle))
	}
	note := "\n" + strings.Join(notes, "\n")
	if provisional > 0 {
		note += fmt.Sprintf("\n%d of %d rows reach past it: provisional, they may still change", provisional, len(res.rows))
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

// usageResult lays out usage rows as a result table, each row with the
// watermark of its source and whether it reaches past it.
func usageResult(q keymeter.UsageQuery, rows []keymeter.UsageRow, marks map[keymeter.Source]keymeter.Watermark) *result {
	res := &result{}
	for _, d := range q.By {
		res.cols = append(res.cols, string(d))
	}
	res.cols = append(res.cols, "requests", "bytes_sent", "bytes_received",
		"time_taken_avg", "time_taken_p50", "time_taken_p95", "time_taken_p99", "complete_until", "provisional")
	sourceCol := slices.Index(q.By, keymeter.DimSource)
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
		src := keymeter.SourceUnknown
		if sourceCol >= 0 {
			src, _ = keymeter.ParseSource(r.Group[sourceCol].Value)
		} else if l := q.SourceList(); len(l) == 1 {
			src = l[0]
		}
		w, ok := marks[src]
		if ok && w.Known {
			out = append(out, textCell(w.Until.UTC().Format(time.RFC3339Nano)))
		} else {
			out = append(out, nullCell())
		}
		out = append(out, boolCell(!ok || w.Provisional(rowEnd(q, r))))
		res.rows = append(res.rows, out)
	}
	return res
}

// rowEnd returns the end of the time a usage row counts: its day, hour or
// month when grouped by one, within the period.
func rowEnd(q keymeter.UsageQuery, r keymeter.UsageRow) time.Time {
	end := q.To
	for i, d := range q.By {
		g := r.Group[i]
		if g.Null {
			continue
		}
		var t time.Time
		var err error
		switch d {
		case keymeter.DimDay:
			t, err = time.Parse("2006-01-02", g.Value)
			t = t.AddDate(0, 0, 1)
		case keymeter.DimHour:
			t, err = time.Parse(time.RFC3339, g.Value)
			t = t.Add(time.Hour)
		case keymeter.DimMonth:
			t, err = time.Parse("2006-01", g.Value)
			t = t.AddDate(0, 1, 0)
		default:
			continue
		}
		if err == nil && t.Before(end) {
			end = t
		}
	}
	return end
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
