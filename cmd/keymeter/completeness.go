package main

import (
	"context"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/keymeter/keymeter"
)

// This file holds what usage and invoices say about how complete their
// numbers are: watermarks (keymeter.WatermarkOf) and the coverage of the
// real-time log (keymeter.CoverageReporter).

// completenessDB is what the completeness checks read.
type completenessDB interface {
	keymeter.ProgressReader
	keymeter.CoverageReporter
	keymeter.MeterTotaler
}

// watermarks returns the watermark of each source over [from, to).
func watermarks(ctx context.Context, db keymeter.ProgressReader, sources []keymeter.Source, from, to time.Time, settle keymeter.Settle) (map[keymeter.Source]keymeter.Watermark, error) {
	progress, err := db.Progress(ctx)
	if err != nil {
		return nil, err
	}
	out := map[keymeter.Source]keymeter.Watermark{}
	for _, s := range sources {
		out[s] = keymeter.WatermarkOf(progress, s, from, to, settle)
	}
	return out, nil
}

// describeWatermark says up to when a source is complete and why: its
// distributions' watermarks, the earliest first.
func describeWatermark(w keymeter.Watermark, settle keymeter.Settle) string {
	if !w.Known {
		return w.Source.String() + ": no events yet"
	}
	dists := slices.Clone(w.Distributions)
	slices.SortStableFunc(dists, func(a, b keymeter.DistributionWatermark) int { return a.Until.Compare(b.Until) })
	var parts []string
	for _, d := range dists {
		name := d.Distribution
		if name == "" {
			name = "(no distribution)"
		}
		parts = append(parts, fmt.Sprintf("%s %s: newest request %s, settling %s", d.Source, name,
			formatTime(d.Until.Add(settle.Delay(d.Source))), settle.Delay(d.Source)))
		if len(parts) == 3 && len(dists) > 3 {
			parts = append(parts, fmt.Sprintf("%d more", len(dists)-3))
			break
		}
	}
	return fmt.Sprintf("%s: complete until %s (%s)", w.Source, formatTime(w.Until), strings.Join(parts, "; "))
}

// formatTime writes a time in RFC 3339, in UTC, to the second.
func formatTime(t time.Time) string {
	return t.UTC().Truncate(time.Second).Format(time.RFC3339)
}

// coverageSum is the coverage of the real-time log over a period: the
// standard log's requests, and those of them with a real-time record.
type coverageSum struct {
	standard, withRealtime int64
}

// periodCoverage adds up the coverage of every distribution over [from, to).
func periodCoverage(ctx context.Context, db keymeter.CoverageReporter, from, to time.Time) (coverageSum, error) {
	rows, err := db.Coverage(ctx, keymeter.CoverageQuery{From: from, To: to})
	if err != nil {
		return coverageSum{}, err
	}
	var c coverageSum
	for _, r := range rows {
		c.standard += r.Standard
		c.withRealtime += r.WithRealtime
	}
	return c, nil
}

// below reports whether the coverage is measured (the period has
// standard lines) and below the threshold, in basis points.
func (c coverageSum) below(threshold int64) bool {
	bp, ok := keymeter.BasisPoints(c.withRealtime, c.standard)
	return ok && bp < threshold
}

// percent writes the coverage as a percentage: "93.12%".
func (c coverageSum) percent() string {
	bp, _ := keymeter.BasisPoints(c.withRealtime, c.standard)
	return keymeter.FormatBasisPoints(bp) + "%"
}

// shortfall estimates what a quantity counted from real-time records
// misses: q · (standard − with) / with, rounded down, assuming the
// records missing are like those present. ok is false when the real-time
// log has none of the standard log's requests, and nothing can be said.
func (c coverageSum) shortfall(q keymeter.Int128) (keymeter.Int128, bool) {
	if c.withRealtime <= 0 {
		return keymeter.Int128{}, false
	}
	n := q.Big()
	n.Mul(n, big.NewInt(c.standard-c.withRealtime))
	n.Quo(n, big.NewInt(c.withRealtime))
	v, err := keymeter.Int128FromBig(n)
	return v, err == nil
}

// realtimeKeyed is the SQL condition of edge events attributed by their
// real-time record: those a sampled real-time log attributes less often.
const realtimeKeyed = "key_source = 'cloudfront-realtime'"

// coverageWarnings says, for the sources shown by usage, what a real-time
// log below the coverage threshold leaves out: the real-time log's own
// counts are short, and the edge join leaves unattributed the requests
// whose key was only in a header of a missing record. It estimates by
// how much, per customer for the edge join. rows are the usage rows and
// sourceCol the index of their source column (-1 when there is none and
// the query has one source).
func coverageWarnings(ctx context.Context, db completenessDB, q keymeter.UsageQuery, rows []keymeter.UsageRow, sourceCol int, threshold int64) ([]string, error) {
	sources := q.SourceList()
	if !slices.Contains(sources, keymeter.SourceEdge) && !slices.Contains(sources, keymeter.SourceCloudFrontRealtime) {
		return nil, nil
	}
	cov, err := periodCoverage(ctx, db, q.From, q.To)
	if err != nil || !cov.below(threshold) {
		return nil, err
	}
	period := fmt.Sprintf("[%s, %s)", formatTime(q.From), formatTime(q.To))
	head := fmt.Sprintf("the real-time log has a record of %s of the standard log's requests in %s, below the %s%% threshold",
		cov.percent(), period, keymeter.FormatBasisPoints(threshold))
	var out []string
	if slices.Contains(sources, keymeter.SourceCloudFrontRealtime) {
		var total keymeter.Int128
		for _, r := range rows {
			if sourceCol < 0 || r.Group[sourceCol].Value == keymeter.SourceCloudFrontRealtime.String() {
				total = total.Add(r.Requests)
			}
		}
		if n, ok := cov.shortfall(total); ok {
			out = append(out, fmt.Sprintf("%s: its %s requests are about %s short (the edge join counts every request of the standard log)", head, total, n))
		} else {
			out = append(out, head+": it has none of them")
		}
	}
	if slices.Contains(sources, keymeter.SourceEdge) {
		totals, err := db.MeterTotals(ctx, keymeter.MeterQuery{From: q.From, To: q.To, Customer: q.Customer, Meters: []keymeter.MeterSpec{{
			Name: "keyed", Measure: keymeter.MeasureRequests, Where: "source = 'edge' AND " + realtimeKeyed, Source: keymeter.SourceEdge}}})
		if err != nil {
			return nil, err
		}
		var per []string
		for _, t := range totals {
			if n, ok := cov.shortfall(t.Quantity); ok && n.Sign() > 0 {
				per = append(per, fmt.Sprintf("%s about %s", t.Customer, n))
			}
		}
		if len(per) > 0 {
			out = append(out, fmt.Sprintf("%s: requests whose key is only in a header are attributed by their real-time record, so the edge join leaves about this many more unattributed, under-billed: %s",
				head, strings.Join(per, ", ")))
		}
	}
	return out, nil
}
