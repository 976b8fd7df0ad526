package loggen

import "sort"

// Requests in both CloudFront logs: NextEdge makes a request that has a
// standard line (AppendLine) and, unless the real-time log's sampling
// dropped it (Record.Realtime), a real-time record (AppendRealtime) with
// the same x-edge-request-id. EdgeTruth says what joining the logs must
// give, and the coverage of the real-time log, for the records that have
// arrived.

// NextEdge fills r with the next request in both forms.
func (g *Gen) NextEdge(r *Record) {
	g.next(r, true)
	r.Realtime = !(g.cfg.MissingPercent > 0 && g.rng.IntN(100) < g.cfg.MissingPercent)
}

// EdgeMonth makes n requests in both forms, in time order.
func (g *Gen) EdgeMonth(n int) []Record {
	recs := make([]Record, n)
	for i := range recs {
		g.NextEdge(&recs[i])
	}
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Time.Before(recs[j].Time) })
	return recs
}

// StandardKey returns the key the request's standard line shows: the
// query string's, or nil.
func (r *Record) StandardKey() *Key {
	if r.QueryKey {
		return r.Sent
	}
	return nil
}

// RealtimeKey returns the key the request's real-time record shows: the
// key header's when CloudFront's cut kept it, else the query string's
// when the real-time configuration logs the query (query), else nil.
func (r *Record) RealtimeKey(query bool) *Key {
	switch {
	case r.KeyHeader && !r.Truncated:
		return r.Sent
	case query && r.QueryKey:
		return r.Sent
	}
	return nil
}

// RealtimeCut reports whether the request's real-time record is
// unattributed because the cut dropped its key header (key_truncated).
func (r *Record) RealtimeCut(query bool) bool {
	return r.Truncated && r.RealtimeKey(query) == nil
}

// Arrived says which records of a request have been ingested.
type Arrived struct {
	Standard, Realtime bool
}

// Totals are exact request and byte counts.
type Totals struct {
	Requests, BytesSent, BytesRecv int64
}

// CoverageKey is a distribution and a UTC day (2006-01-02).
type CoverageKey struct {
	Distribution, Day string
}

// Coverage is what keymeter coverage reports for one distribution and
// day.
type Coverage struct {
	Standard, WithRealtime, RealtimeOnly, KeyTruncated, KeyRecovered int64
}

// EdgeTruth returns what joining the logs gives for the records that
// have arrived (a real-time record arrives only when it is delivered,
// Record.Realtime), with a real-time configuration that logs the query
// string or not: per customer ("" for unattributed requests and keys
// nobody owns), each request once, measured by its standard line (or its
// real-time record, which logs the same bytes, until the standard line
// arrives) and attributed wherever either record shows the whole key; and
// the coverage per distribution and day.
func EdgeTruth(recs []Record, arrived func(*Record) Arrived, query bool) (map[string]Totals, map[CoverageKey]Coverage) {
	per := map[string]Totals{}
	cov := map[CoverageKey]Coverage{}
	for i := range recs {
		r := &recs[i]
		a := arrived(r)
		a.Realtime = a.Realtime && r.Realtime
		if !a.Standard && !a.Realtime {
			continue
		}
		var key *Key
		if a.Standard {
			key = r.StandardKey()
		}
		if key == nil && a.Realtime {
			key = r.RealtimeKey(query)
		}
		name := ""
		if key != nil {
			name = key.Customer
		}
		t := per[name]
		per[name] = Totals{t.Requests + 1, t.BytesSent + r.BytesSent, t.BytesRecv + r.BytesRecv}
		k := CoverageKey{r.distribution(), r.Time.Format("2006-01-02")}
		c := cov[k]
		switch {
		case a.Standard && a.Realtime:
			c.Standard++
			c.WithRealtime++
		case a.Standard:
			c.Standard++
		default:
			c.RealtimeOnly++
		}
		if a.Realtime && r.RealtimeCut(query) {
			c.KeyTruncated++
			if a.Standard && r.StandardKey() != nil {
				c.KeyRecovered++
			}
		}
		cov[k] = c
	}
	return per, cov
}
