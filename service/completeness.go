package service

import (
	"context"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/billing"
	"github.com/keymeter/keymeter/billing/invoice"
)

// This file holds what usage and invoices say about how complete their
// numbers are: watermarks (keymeter.WatermarkOf) and the coverage of the
// real-time log (keymeter.CoverageReporter).

// completenessDB is what the completeness checks read.
type completenessDB interface {
	keymeter.ProgressReader
	keymeter.UsageQuerier
	keymeter.MeterTotaler
}

// completeness reads a store's usage and meters for the completeness
// checks.
type completeness struct {
	UsageReader
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

// DescribeWatermark says up to when a source is complete and why: its
// distributions' watermarks, the earliest first (the first three, and
// how many more).
func DescribeWatermark(w keymeter.Watermark, settle keymeter.Settle) string {
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
			formatTime(d.Until.Add(settle.Delay(d.Source))), formatDuration(settle.Delay(d.Source))))
		if len(parts) == 3 && len(dists) > 3 {
			parts = append(parts, fmt.Sprintf("%d more", len(dists)-3))
			break
		}
	}
	return fmt.Sprintf("%s: complete until %s (%s)", w.Source, formatTime(w.Until), strings.Join(parts, "; "))
}

// formatDuration writes a duration without its zero minutes and
// seconds: 24h, 15m, 1h30m.
func formatDuration(d time.Duration) string {
	s := d.String()
	if s != "0s" {
		s = strings.TrimSuffix(s, "0s")
		if strings.HasSuffix(s, "h0m") {
			s = strings.TrimSuffix(s, "0m")
		}
	}
	return s
}

// formatTime writes a time in RFC 3339, in UTC, to the second.
func formatTime(t time.Time) string {
	return t.UTC().Truncate(time.Second).Format(time.RFC3339)
}

// coverageSum is the coverage of the real-time log over a period: the
// standard log's requests, and those of them with a real-time record.
type coverageSum struct {
	standard, withRealtime, realtime int64
}

// periodCoverage returns the coverage of every distribution over [from,
// to) from three usage totals, which the daily rollups answer at once:
// the edge join counts each standard line and each real-time record
// without one, so the requests with both records are standard +
// real-time − edge. (keymeter coverage counts the same per distribution
// and day, with a scan of the period.)
func periodCoverage(ctx context.Context, db completenessDB, from, to time.Time) (coverageSum, error) {
	present, err := db.SourcesIn(ctx, from, to)
	if err != nil || !slices.Contains(present, keymeter.SourceCloudFront) || !slices.Contains(present, keymeter.SourceCloudFrontRealtime) {
		return coverageSum{}, err // not both logs: nothing to compare
	}
	var n [3]int64
	for i, src := range []keymeter.Source{keymeter.SourceCloudFront, keymeter.SourceCloudFrontRealtime, keymeter.SourceEdge} {
		rows, err := db.Usage(ctx, keymeter.UsageQuery{From: from, To: to, Source: src})
		if err != nil {
			return coverageSum{}, err
		}
		if len(rows) == 1 {
			n[i], _ = rows[0].Requests.Int64()
		}
	}
	return coverageSum{standard: n[0], withRealtime: n[0] + n[1] - n[2], realtime: n[1]}, nil
}

// below reports whether the coverage is measured (the period has
// standard lines and real-time records: without a real-time log there is
// nothing it misses) and below the threshold, in basis points.
func (c coverageSum) below(threshold int64) bool {
	bp, ok := keymeter.BasisPoints(c.withRealtime, c.standard)
	return ok && c.realtime > 0 && bp < threshold
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

// realtimeKeyed selects the edge events attributed by their
// real-time record: those a sampled real-time log attributes less often.
var realtimeKeyed = []keymeter.Source{keymeter.SourceCloudFrontRealtime}

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
			Name: "keyed", Measure: keymeter.MeasureRequests, Filter: keymeter.EventFilter{
				Sources: []keymeter.Source{keymeter.SourceEdge}, Include: keymeter.EventMatch{KeySource: realtimeKeyed}}}}})
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

// meterWarnings says, for each of a draft's priced meters that counts
// from real-time records (cloudfront-realtime, or the edge join's
// requests attributed by their real-time record) while the real-time
// log's coverage of the period is below threshold, by how much the
// customer is probably under-billed: the quantity the missing records
// would add, and what it would cost. covs caches coverage per period.
func (s *billingSetup) meterWarnings(ctx context.Context, db completenessDB, t billed, cutoff time.Time, usage map[string]invoice.Usage,
	threshold int64, covs map[[2]time.Time]coverageSum) ([]string, error) {
	var out []string
	more := map[string]keymeter.Int128{}
	var notes []string
	for i := range t.plan.Prices {
		m := &t.plan.Prices[i].Meter
		if m.Source != keymeter.SourceCloudFrontRealtime && m.Source != keymeter.SourceEdge {
			continue
		}
		key := [2]time.Time{t.period.ActiveStart, t.period.End}
		cov, ok := covs[key]
		if !ok {
			var err error
			if cov, err = periodCoverage(ctx, db, t.period.ActiveStart, t.period.End); err != nil {
				return nil, err
			}
			covs[key] = cov
		}
		if !cov.below(threshold) {
			continue
		}
		base := usage[m.Name].RawQuantity
		what := "the real-time records it counts"
		if m.Source == keymeter.SourceEdge {
			spec := m.Spec()
			spec.Filter.Include.KeySource = realtimeKeyed
			rows, err := db.MeterTotals(ctx, keymeter.MeterQuery{From: t.period.ActiveStart, To: t.period.End, AsOf: cutoff, Customer: t.a.Customer,
				Meters: []keymeter.MeterSpec{spec}})
			if err != nil {
				return nil, err
			}
			base = keymeter.Int128{}
			if len(rows) > 0 {
				base = rows[0].Quantity
			}
			what = "the requests it attributes by their real-time record (keys sent only in a header)"
		}
		short, ok := cov.shortfall(base)
		if !ok {
			out = append(out, fmt.Sprintf("meter %s counts from real-time records, and the real-time log has none of the standard log's requests of the period: %s is under-billed by an unknown amount", m.Name, t.a.Customer))
			continue
		}
		if short.Sign() == 0 {
			continue
		}
		more[m.Name] = short
		notes = append(notes, fmt.Sprintf("meter %s: about %s %s more (%s of %s)", m.Name, short, m.Measure, what, base))
	}
	if len(more) == 0 {
		return out, nil
	}
	raw := map[string]keymeter.Int128{}
	for name, u := range usage {
		raw[name] = u.RawQuantity
	}
	now, err := billing.Rate(t.plan, t.period, raw, billing.Options{Customer: t.a.Customer})
	if err != nil {
		return nil, err
	}
	for name, n := range more {
		raw[name] = raw[name].Add(n)
	}
	full, err := billing.Rate(t.plan, t.period, raw, billing.Options{Customer: t.a.Customer})
	if err != nil {
		return nil, err
	}
	cov := covs[[2]time.Time{t.period.ActiveStart, t.period.End}]
	out = append(out, fmt.Sprintf("the real-time log has a record of only %s of the standard log's requests of %s (threshold %s%%): %s is probably under-billed by about %s %s; %s",
		cov.percent(), t.period.Month, keymeter.FormatBasisPoints(threshold), t.a.Customer,
		t.plan.Currency.Format(full.Total.Sub(now.Total)), t.plan.Currency.Code, strings.Join(notes, "; ")))
	return out, nil
}

// incomplete says which sources a customer's priced meters count from
// are not complete up to the end of its period, "" when all are (or have
// no events at all: there is nothing to wait for).
func incomplete(progress []keymeter.SourceProgress, t billed, settle keymeter.Settle) string {
	var problems []string
	seen := map[keymeter.Source]bool{}
	for i := range t.plan.Prices {
		src := t.plan.Prices[i].Meter.Source
		if seen[src] {
			continue
		}
		seen[src] = true
		w := keymeter.WatermarkOf(progress, src, t.period.ActiveStart, t.period.End, settle)
		if w.Known && w.Provisional(t.period.End) {
			problems = append(problems, DescribeWatermark(w, settle))
		}
	}
	if len(problems) == 0 {
		return ""
	}
	return fmt.Sprintf("its logs are not complete up to the period's end %s, so requests of the period may still arrive: %s",
		formatTime(t.period.End), strings.Join(problems, "; "))
}
