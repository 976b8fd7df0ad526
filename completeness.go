package keymeter

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// This file holds how complete the stored data is believed to be: the
// watermarks of each source (up to when its logs have all arrived) and
// the coverage of CloudFront's real-time log against its standard log.

// SourceProgress is what a store holds of one source for one
// distribution: the times of its first and newest stored events. The
// distribution is the CloudFront distribution's domain (cs(Host) in
// standard logs, x-host-header in real-time logs) or the API Gateway
// API's ID; "" when the log does not say.
type SourceProgress struct {
	Source        Source
	Distribution  string
	First, Newest time.Time
}

// ProgressReader is the optional ability of a store to report its
// SourceProgress.
type ProgressReader interface {
	// Progress returns one entry per stored source and distribution,
	// ordered by source then distribution.
	Progress(ctx context.Context) ([]SourceProgress, error)
	// SourcesIn returns the stored sources with events in [from, to),
	// in order. A store may count whole UTC hours.
	SourcesIn(ctx context.Context, from, to time.Time) ([]Source, error)
}

// Default settling delays: how long after the newest request a log has
// delivered its older requests are believed to have all arrived.
// CloudFront delivers standard logs within hours and sometimes up to a
// day late; real-time logs within seconds (Firehose buffers up to 15
// minutes); API Gateway access logs through CloudWatch Logs within
// minutes.
const (
	DefaultSettleStandard   = 24 * time.Hour
	DefaultSettleRealtime   = 15 * time.Minute
	DefaultSettleAPIGateway = time.Hour
)

// Settle holds the settling delay of each stored source.
type Settle map[Source]time.Duration

// DefaultSettle returns the default settling delays.
func DefaultSettle() Settle {
	return Settle{SourceCloudFront: DefaultSettleStandard, SourceCloudFrontRealtime: DefaultSettleRealtime, SourceAPIGateway: DefaultSettleAPIGateway}
}

// Delay returns the settling delay of a stored source: its own, else
// the default.
func (s Settle) Delay(src Source) time.Duration {
	if d, ok := s[src]; ok {
		return d
	}
	return DefaultSettle()[src]
}

// DistributionWatermark is the watermark of one source and distribution.
type DistributionWatermark struct {
	Source       Source
	Distribution string
	Until        time.Time
}

// Watermark is the time up to which a source's data of a period is
// believed complete.
type Watermark struct {
	Source Source
	// Until: requests before it have all arrived; those from it on may
	// still arrive (they are provisional). Zero when the source has no
	// events at all (Known is then false).
	Until time.Time
	Known bool
	// Distributions are the watermarks of the current distributions it
	// is the earliest of.
	Distributions []DistributionWatermark
}

// WatermarkOf applies the watermark rule to a source over the period
// [from, to):
//
//   - A log's watermark for one distribution is the time of its newest
//     stored request less the log's settling delay: a log delivers
//     requests late, but not later than the delay, so once it has
//     delivered a request of time t, every request before t − delay has
//     arrived. (CloudFront names standard log files after the hour of
//     their requests, so the newest request also dates the newest hour
//     delivered.)
//   - A log's watermark is the earliest over its current distributions:
//     those whose newest request is at most the delay older than the
//     log's newest. A distribution silent for longer while another
//     delivers is idle (or retired), not late: had it had requests, they
//     would have arrived.
//   - A source's watermark is its log's; the edge join's is the earlier
//     of its two logs', counting only the logs active in the period
//     (with a request before to and one at or after from − delay), or
//     both when neither is: its counts are final only once both logs
//     have arrived.
func WatermarkOf(progress []SourceProgress, src Source, from, to time.Time, settle Settle) Watermark {
	w := Watermark{Source: src}
	logs := []Source{src}
	if src == SourceEdge {
		logs = []Source{SourceCloudFront, SourceCloudFrontRealtime}
	}
	type logMark struct {
		until  time.Time
		active bool
		dists  []DistributionWatermark
	}
	var marks []logMark
	for _, l := range logs {
		d := settle.Delay(l)
		var first, newest time.Time
		seen := false
		for _, p := range progress {
			if p.Source != l {
				continue
			}
			if !seen || p.First.Before(first) {
				first = p.First
			}
			if !seen || p.Newest.After(newest) {
				newest = p.Newest
			}
			seen = true
		}
		if !seen {
			continue
		}
		m := logMark{active: first.Before(to) && !newest.Before(from.Add(-d))}
		for _, p := range progress {
			if p.Source != l || p.Newest.Before(newest.Add(-d)) {
				continue // idle
			}
			until := p.Newest.Add(-d)
			if len(m.dists) == 0 || until.Before(m.until) {
				m.until = until
			}
			m.dists = append(m.dists, DistributionWatermark{l, p.Distribution, until})
		}
		marks = append(marks, m)
	}
	anyActive := false
	for _, m := range marks {
		anyActive = anyActive || m.active
	}
	for _, m := range marks {
		if anyActive && !m.active {
			continue
		}
		if !w.Known || m.until.Before(w.Until) {
			w.Until, w.Known = m.until, true
		}
		w.Distributions = append(w.Distributions, m.dists...)
	}
	return w
}

func containsSource(list []Source, s Source) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Provisional reports whether data ending at end (exclusive) may still
// change: it reaches past the watermark, or the source has no data.
func (w Watermark) Provisional(end time.Time) bool {
	return !w.Known || end.After(w.Until)
}

// CoverageQuery asks for the coverage of CloudFront's real-time log over
// the half-open period [From, To).
type CoverageQuery struct {
	From, To time.Time
}

// CoverageRow is the coverage of one distribution on one UTC day. A
// request counts on the day and distribution of its standard line, or of
// its real-time record when it has no standard line.
type CoverageRow struct {
	// Distribution is the distribution's domain; Null when the logs do
	// not carry it.
	Distribution GroupValue
	Day          string // 2006-01-02
	// Standard counts the requests of the standard log, WithRealtime
	// those of them that have a real-time record too, and RealtimeOnly
	// the real-time records still without a standard line (counted once,
	// provisionally, by the edge join).
	Standard, WithRealtime, RealtimeOnly int64
	// KeyTruncated counts the requests whose real-time record lost its
	// key header to CloudFront's 800-byte cut of cs-headers (and showed
	// no key in its query string either), and KeyRecovered those of them
	// whose standard line has the key in its query string.
	KeyTruncated, KeyRecovered int64
}

// RealtimeBasisPoints returns WithRealtime / Standard in hundredths of a
// percent, rounded down: the share of the standard log's requests the
// real-time log has, an estimate of its sampling rate. ok is false when
// there is no standard line to compare with.
func (r *CoverageRow) RealtimeBasisPoints() (bp int64, ok bool) {
	return BasisPoints(r.WithRealtime, r.Standard)
}

// BasisPoints returns n / of in hundredths of a percent, rounded down;
// ok is false when of is not positive.
func BasisPoints(n, of int64) (int64, bool) {
	if of <= 0 {
		return 0, false
	}
	// n ≤ of in every use; 10000·n fits in int64 for any count of requests.
	return n * 10000 / of, true
}

// FormatBasisPoints writes hundredths of a percent as a decimal
// percentage with two decimals: 9312 is "93.12".
func FormatBasisPoints(bp int64) string {
	s := strconv.FormatInt(bp/100, 10)
	f := strconv.FormatInt(100+bp%100, 10)[1:]
	return s + "." + f
}

// ParsePercent parses a percentage with at most two decimals ("99",
// "99.5%") into basis points, between 0 and 100%.
func ParsePercent(s string) (int64, error) {
	t, err := ParseThreshold(strings.TrimSuffix(strings.TrimSpace(s), "%") + "%")
	if err != nil || t.BasisPoints > 10000 {
		return 0, Errorf(EINVALID, "%q: want a percentage between 0 and 100 with at most two decimals (99 or 99.5%%)", s)
	}
	return t.BasisPoints, nil
}

// CoverageReporter is the optional ability of a store to report the
// coverage of CloudFront's real-time log.
type CoverageReporter interface {
	// Coverage returns one row per distribution and UTC day with
	// CloudFront events in the period, ordered by distribution (nulls
	// last) then day. It returns an EINVALID error for an empty period.
	Coverage(ctx context.Context, q CoverageQuery) ([]CoverageRow, error)
}
