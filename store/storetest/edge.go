package storetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
)

// edgeTests check the edge join (keymeter.SourceEdge): one request per
// request ID among CloudFront's standard and real-time logs, in either
// order of arrival, once, with as-of questions and retractions
// respected, and the same answers from the rollups and from the events.
var edgeTests = []struct {
	name string
	fn   func(t *testing.T, s keymeter.Store)
}{
	{"EdgeJoinBothOrders", testEdgeBothOrders},
	{"EdgeJoinLateRecord", testEdgeLate},
	{"EdgeJoinReingest", testEdgeReingest},
	{"EdgeJoinRetraction", testEdgeRetraction},
	{"EdgeJoinCoverage", testEdgeCoverage},
	{"EdgeJoinSidebySide", testEdgeSideBySide},
	{"EdgeJoinRandom", testEdgeRandom},
}

// edgeCase is one day's worth of requests in both logs, starting at
// offset after day0, with IDs prefixed by p:
//
//	a  standard line without a key, real-time record with k1 (a header key)
//	b  standard line with k2 (a query key), real-time record with k1: the standard line wins
//	c  standard line without a key, no real-time record (sampled out)
//	d  real-time record with k1, no standard line: provisional
//	e  standard line without a key, real-time record whose key was cut
//	f  standard line with k2, real-time record whose key was cut: recovered
//	g  standard line without a key at 7h; a real-time record with its ID
//	   and k1 31 hours later, beyond the join window: another request
//
// The real-time records carry bytes one more than the standard lines, so
// that it shows which record measures a request.
func edgeCase(p string, offset time.Duration) (std, rt []ev) {
	h := time.Hour
	at := func(d time.Duration) time.Duration { return offset + d }
	d1 := "d111111abcdef8.cloudfront.net"
	std = []ev{
		{at: at(1 * h), id: p + "a", sent: 100, dist: d1},
		{at: at(2 * h), id: p + "b", key: "k2", sent: 200, dist: d1},
		{at: at(3 * h), id: p + "c", sent: 400, dist: d1},
		{at: at(5 * h), id: p + "e", sent: 1600, dist: d1},
		{at: at(6 * h), id: p + "f", key: "k2", sent: 3200, dist: d1},
		{at: at(7 * h), id: p + "g", sent: 6400, dist: d1},
	}
	r := keymeter.SourceCloudFrontRealtime
	rt = []ev{
		{at: at(1*h + time.Millisecond), id: p + "a", key: "k1", sent: 101, source: r, dist: d1},
		{at: at(2*h + time.Millisecond), id: p + "b", key: "k1", sent: 201, source: r, dist: d1},
		{at: at(4 * h), id: p + "d", key: "k1", sent: 800, source: r, dist: d1},
		{at: at(5*h + time.Millisecond), id: p + "e", truncated: true, sent: 1601, source: r, dist: d1},
		{at: at(6*h + time.Millisecond), id: p + "f", truncated: true, sent: 3201, source: r, dist: d1},
		{at: at(38 * h), id: p + "g", key: "k1", sent: 12800, source: r, dist: d1},
	}
	return std, rt
}

// edgeUsage runs an edge usage query twice, over whole days (answered
// from the rollups) and over the same events by a period that is not
// (answered from the events), and checks that both agree.
func edgeUsage(t *testing.T, s keymeter.Store, from, to time.Time, by ...keymeter.Dimension) []string {
	t.Helper()
	q := keymeter.UsageQuery{From: from, To: to, By: by, Source: keymeter.SourceEdge}
	days := usage(t, s, q)
	q.From = from.Add(-time.Microsecond)
	if got := usage(t, s, q); fmt.Sprint(got) != fmt.Sprint(days) {
		t.Errorf("edge usage by %v: the rollups and the events disagree:\n rollups %q\n events  %q", by, days, got)
	}
	return days
}

func edgeKeys(t *testing.T, s keymeter.Store) {
	t.Helper()
	importKeys(t, s, keymeter.KeyImport{Added: 2}, assign("k1", "acme", 0), assign("k2", "globex", 0))
}

var edgeBytes = []keymeter.MeterSpec{{Name: "egress", Measure: keymeter.MeasureBytesSent, Filter: keymeter.EventFilter{Sources: []keymeter.Source{keymeter.SourceEdge}}}}

// testEdgeBothOrders writes the same requests standard logs first,
// real-time logs first, and both in one transaction: the edge join
// counts each request once, measured by its standard line, attributed
// wherever either record shows the key.
func testEdgeBothOrders(t *testing.T, s keymeter.Store) {
	edgeKeys(t, s)
	days := []time.Duration{0, 5 * 24 * time.Hour, 10 * 24 * time.Hour}
	for i, off := range days {
		std, rt := edgeCase(fmt.Sprintf("o%d-", i), off)
		switch i {
		case 0:
			write(t, s, "std-0", std...)
			write(t, s, "rt-0", rt...)
		case 1:
			write(t, s, "rt-1", rt...)
			write(t, s, "std-1", std...)
		case 2:
			write(t, s, "both-2", append(rt, std...)...)
		}
	}
	for i, off := range days {
		from := day0.Add(off)
		to := from.AddDate(0, 0, 2)
		expect(t, fmt.Sprintf("order %d: edge by customer", i), edgeUsage(t, s, from, to, keymeter.DimCustomer),
			[]string{"acme: 3 13700 0", "globex: 2 3400 0", "<null>: 3 8400 0"})
		expect(t, fmt.Sprintf("order %d: edge by day and reason", i), edgeUsage(t, s, from, to, keymeter.DimDay, keymeter.DimReason), []string{
			day0.Add(off).Format("2006-01-02") + "|key_truncated: 1 1600 0",
			day0.Add(off).Format("2006-01-02") + "|no_key: 2 6800 0",
			day0.Add(off).Format("2006-01-02") + "|<null>: 4 4300 0",
			day0.Add(off).AddDate(0, 0, 1).Format("2006-01-02") + "|<null>: 1 12800 0",
		})
	}
	// Each log alone is unchanged by the join.
	expect(t, "standard log alone", usage(t, s, keymeter.UsageQuery{Source: keymeter.SourceCloudFront, By: []keymeter.Dimension{keymeter.DimCustomer}}),
		[]string{"globex: 6 10200 0", "<null>: 12 25500 0"})
	expect(t, "real-time log alone", usage(t, s, keymeter.UsageQuery{Source: keymeter.SourceCloudFrontRealtime, By: []keymeter.Dimension{keymeter.DimCustomer}}),
		[]string{"acme: 12 41706 0", "<null>: 6 14406 0"})
	expect(t, "the edge over the month", edgeUsage(t, s, day0, day0.AddDate(0, 1, 0), keymeter.DimSource), []string{"edge: 24 76500 0"})
	b := billingStore(t, s)
	expect(t, "edge meter", totals(t, b, keymeter.MeterQuery{Meters: edgeBytes}), []string{"acme egress: 9 41100", "globex egress: 6 10200"})
	at, err := b.LoadWatermark(ctx)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "edge meter as of now", totals(t, b, keymeter.MeterQuery{AsOf: at, Meters: edgeBytes}), []string{"acme egress: 9 41100", "globex egress: 6 10200"})
	// keys list counts each request once too: k1's 12 real-time records
	// are 9 requests (b's belongs to k2), k2's are its standard lines.
	k1, k2 := testKey("k1").Hint, testKey("k2").Hint
	expect(t, "keys", listKeys(t, s), []string{"acme " + k1 + " [-, -) 9 278h", "globex " + k2 + " [-, -) 6 246h"})
}

// testEdgeLate: a real-time record that arrives after its standard line
// attributes the stored request, and a standard line that arrives after
// its real-time record replaces it, the request counted once throughout;
// as of before the arrival, the store answers as it did then.
func testEdgeLate(t *testing.T, s keymeter.Store) {
	edgeKeys(t, s)
	b := billingStore(t, s)
	h := time.Hour
	r := keymeter.SourceCloudFrontRealtime
	write(t, s, "std", ev{at: 1 * h, id: "x", sent: 100})
	write(t, s, "rt", ev{at: 3*h + time.Millisecond, id: "y", key: "k1", sent: 301, source: r})
	before, _ := b.LoadWatermark(ctx)
	time.Sleep(2 * time.Millisecond)
	month := func(by ...keymeter.Dimension) []string {
		return edgeUsage(t, s, day0, day0.AddDate(0, 1, 0), by...)
	}
	expect(t, "before", month(keymeter.DimCustomer), []string{"acme: 1 301 0", "<null>: 1 100 0"})
	// A day later: x's real-time record, y's standard line.
	write(t, s, "rt-late", ev{at: 1*h + time.Millisecond, id: "x", key: "k1", sent: 101, source: r})
	write(t, s, "std-late", ev{at: 3 * h, id: "y", sent: 300})
	expect(t, "after", month(keymeter.DimCustomer), []string{"acme: 2 400 0"})
	expect(t, "as of before", totals(t, b, keymeter.MeterQuery{AsOf: before, Meters: edgeBytes}), []string{"acme egress: 1 301"})
	expect(t, "now", totals(t, b, keymeter.MeterQuery{Meters: edgeBytes}), []string{"acme egress: 2 400"})
}

// testEdgeReingest: writing either log again changes nothing.
func testEdgeReingest(t *testing.T, s keymeter.Store) {
	edgeKeys(t, s)
	std, rt := edgeCase("r-", 0)
	write(t, s, "std", std...)
	write(t, s, "rt", rt...)
	want := []string{"acme: 3 13700 0", "globex: 2 3400 0", "<null>: 3 8400 0"}
	for _, again := range [][]ev{rt, std, append(std, rt...)} {
		if res := write(t, s, "again", again...); res.Stored != 0 {
			t.Errorf("writing the same records again stored %d", res.Stored)
		}
		expect(t, "after writing again", edgeUsage(t, s, day0, day0.AddDate(0, 1, 0), keymeter.DimCustomer), want)
	}
}

// testEdgeRetraction: reprocessing the real-time log replaces its
// records in the join, as of the reprocessing on; before it the store
// answers as it did.
func testEdgeRetraction(t *testing.T, s keymeter.Store) {
	edgeKeys(t, s)
	b := billingStore(t, s)
	std, rt := edgeCase("t-", 0)
	write(t, s, "std", std...)
	write(t, s, "rt", rt...)
	before, _ := b.LoadWatermark(ctx)
	time.Sleep(2 * time.Millisecond)
	// The real-time log read again: a's key is k2 now, d's record is gone.
	var again []ev
	for _, e := range rt {
		switch e.id {
		case "t-a":
			e.key = "k2"
		case "t-d":
			continue
		}
		again = append(again, e)
	}
	if ret := rewrite(t, s, "rt", true, again...); ret.Events != int64(len(rt)) {
		t.Errorf("retracted %d events, want %d", ret.Events, len(rt))
	}
	month := day0.AddDate(0, 1, 0)
	expect(t, "after reprocessing", edgeUsage(t, s, day0, month, keymeter.DimCustomer), []string{"acme: 1 12800 0", "globex: 3 3500 0", "<null>: 3 8400 0"})
	expect(t, "now", totals(t, b, keymeter.MeterQuery{Meters: edgeBytes}), []string{"acme egress: 1 12800", "globex egress: 3 3500"})
	expect(t, "as of before", totals(t, b, keymeter.MeterQuery{AsOf: before, Meters: edgeBytes}), []string{"acme egress: 3 13700", "globex egress: 2 3400"})
	// The standard log read again without c and with e's key.
	var stdAgain []ev
	for _, e := range std {
		switch e.id {
		case "t-c":
			continue
		case "t-e":
			e.key = "k1"
		}
		stdAgain = append(stdAgain, e)
	}
	rewrite(t, s, "std", true, stdAgain...)
	expect(t, "after reprocessing both", edgeUsage(t, s, day0, month, keymeter.DimCustomer), []string{"acme: 2 14400 0", "globex: 3 3500 0", "<null>: 1 6400 0"})
	expect(t, "still as of before", totals(t, b, keymeter.MeterQuery{AsOf: before, Meters: edgeBytes}), []string{"acme egress: 3 13700", "globex egress: 2 3400"})
}

// testEdgeCoverage: per distribution and day, the standard log's
// requests, those with a real-time record, the real-time records without
// a standard line, and the keys lost to the cut and recovered from the
// query string.
func testEdgeCoverage(t *testing.T, s keymeter.Store) {
	cr, ok := s.(keymeter.CoverageReporter)
	if !ok {
		t.Skipf("%T does not report coverage", s)
	}
	std, rt := edgeCase("c-", 0)
	write(t, s, "std", std...)
	write(t, s, "rt", rt...)
	write(t, s, "other", ev{at: 2 * time.Hour, id: "z", sent: 1, dist: "d2.cloudfront.net"}, ev{at: 2 * time.Hour, id: "n", sent: 1})
	rows, err := cr.Coverage(ctx, keymeter.CoverageQuery{From: day0, To: day0.AddDate(0, 1, 0)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		d := r.Distribution.Value
		if r.Distribution.Null {
			d = "<null>"
		}
		got = append(got, fmt.Sprintf("%s %s: %d %d %d %d %d", d, r.Day, r.Standard, r.WithRealtime, r.RealtimeOnly, r.KeyTruncated, r.KeyRecovered))
	}
	expect(t, "coverage", got, []string{
		"d111111abcdef8.cloudfront.net 2025-10-01: 6 4 1 2 1",
		"d111111abcdef8.cloudfront.net 2025-10-02: 0 0 1 0 0",
		"d2.cloudfront.net 2025-10-01: 1 0 0 0 0",
		"<null> 2025-10-01: 1 0 0 0 0",
	})
	if _, err := cr.Coverage(ctx, keymeter.CoverageQuery{From: day0, To: day0}); keymeter.ErrorCode(err) != keymeter.EINVALID {
		t.Errorf("an empty period: %v, want EINVALID", err)
	}
}

// testEdgeSideBySide: the edge join and API Gateway counted in one
// query stay apart by source, and the default sources never add both
// CloudFront logs.
func testEdgeSideBySide(t *testing.T, s keymeter.Store) {
	edgeKeys(t, s)
	std, rt := edgeCase("s-", 0)
	write(t, s, "std", std...)
	write(t, s, "rt", rt...)
	write(t, s, "origin", ev{at: time.Hour, id: "s-a", sent: 90, source: keymeter.SourceAPIGateway})
	pr, ok := s.(keymeter.ProgressReader)
	if !ok {
		t.Skipf("%T does not report its sources", s)
	}
	present, err := pr.SourcesIn(ctx, day0, day0.AddDate(0, 1, 0))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(present) != "[cloudfront cloudfront-realtime apigateway]" {
		t.Errorf("sources with events: %v", present)
	}
	q := keymeter.UsageQuery{Sources: keymeter.DefaultSources(present), By: []keymeter.Dimension{keymeter.DimSource}}
	expect(t, "default sources", usage(t, s, q), []string{"apigateway: 1 90 0", "edge: 8 25500 0"})
	q.From, q.To = day0.Add(time.Microsecond), day0.AddDate(0, 1, 0)
	expect(t, "default sources, from the events", usage(t, s, q), []string{"apigateway: 1 90 0", "edge: 8 25500 0"})
	progress, err := pr.Progress(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range progress {
		got = append(got, fmt.Sprintf("%s %q %s %s", p.Source, p.Distribution, p.First.Format(time.RFC3339Nano), p.Newest.Format(time.RFC3339Nano)))
	}
	expect(t, "progress", got, []string{
		`cloudfront "d111111abcdef8.cloudfront.net" 2025-10-01T01:00:00Z 2025-10-01T07:00:00Z`,
		`cloudfront-realtime "d111111abcdef8.cloudfront.net" 2025-10-01T01:00:00.001Z 2025-10-02T14:00:00Z`,
		`apigateway "" 2025-10-01T01:00:00Z 2025-10-01T01:00:00Z`,
	})
}

// testEdgeRandom writes random requests of both logs in random
// transactions, replaces some of them as ingest --reprocess does, and
// compares the edge join after every step with a model of its rule
// written here, from the rollups and from the events.
func testEdgeRandom(t *testing.T, s keymeter.Store) {
	edgeKeys(t, s)
	rng := rand.New(rand.NewPCG(7, 11))
	h := time.Hour
	keys := []string{"", "k1", "k2", "k3"} // k3 has no owner
	var all []ev
	for i := range 120 {
		id := fmt.Sprintf("q%d", i)
		at := time.Duration(rng.IntN(20*24)) * h
		if rng.IntN(5) > 0 {
			all = append(all, ev{at: at + time.Duration(rng.IntN(3600))*time.Second, id: id, key: keys[rng.IntN(4)], sent: int64(1 + rng.IntN(1000)), ms: int32(rng.IntN(300))})
		}
		if rng.IntN(4) > 0 {
			e := ev{at: at + time.Duration(rng.IntN(7200))*time.Second, id: id, key: keys[rng.IntN(4)], sent: int64(1 + rng.IntN(1000)), ms: int32(rng.IntN(300)), source: keymeter.SourceCloudFrontRealtime}
			e.truncated = e.key == "" && rng.IntN(2) == 0
			all = append(all, e)
		}
		if rng.IntN(8) == 0 { // the same ID again, beyond the window: another request
			all = append(all, ev{at: at + time.Duration(28+rng.IntN(30))*h, id: id, key: keys[rng.IntN(4)], sent: 7, source: keymeter.Source(1 + rng.IntN(2))})
		}
	}
	rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	objects := map[string][]ev{}
	var names []string
	for len(all) > 0 {
		n := min(len(all), 1+rng.IntN(40))
		name := fmt.Sprintf("obj%d", len(names))
		objects[name], all = all[:n], all[n:]
		names = append(names, name)
		write(t, s, name, objects[name]...)
		checkEdgeModel(t, s, objects, "after writing "+name)
	}
	for i := range 6 {
		name := names[rng.IntN(len(names))]
		var again []ev
		for _, e := range objects[name] {
			switch rng.IntN(4) {
			case 0:
				continue // gone from the new read
			case 1:
				e.key = keys[rng.IntN(4)]
				e.truncated = e.key == "" && e.source == keymeter.SourceCloudFrontRealtime && rng.IntN(2) == 0
			}
			again = append(again, e)
		}
		objects[name] = again
		rewrite(t, s, name, true, again...)
		checkEdgeModel(t, s, objects, fmt.Sprintf("after reprocessing %s (%d)", name, i))
	}
}

// checkEdgeModel compares the store's edge usage by day, customer and
// reason with the model's.
func checkEdgeModel(t *testing.T, s keymeter.Store, objects map[string][]ev, stage string) {
	t.Helper()
	owners := map[string]string{"k1": "acme", "k2": "globex"}
	var std, rt []ev
	for _, evs := range objects {
		for _, e := range evs {
			if e.source == keymeter.SourceCloudFrontRealtime {
				rt = append(rt, e)
			} else {
				std = append(std, e)
			}
		}
	}
	hour := func(e ev) int64 { return int64(e.at / time.Hour) }
	near := func(a, b ev) bool { return a.id == b.id && max(hour(a)-hour(b), hour(b)-hour(a)) <= 24 }
	type group struct{ day, customer, reason string }
	type sum struct{ n, sent int64 }
	want := map[group]sum{}
	add := func(e ev, key, reason string) {
		g := group{day0.Add(e.at).Format("2006-01-02"), "<null>", "<null>"}
		if key != "" {
			if c, ok := owners[key]; ok {
				g.customer = c
			}
		} else {
			g.reason = reason
		}
		v := want[g]
		want[g] = sum{v.n + 1, v.sent + e.sent}
	}
	for _, e := range std {
		key, reason := e.key, "no_key"
		var first *ev
		cut := false
		for i, r := range rt {
			if !near(e, r) {
				continue
			}
			cut = cut || r.truncated
			if r.key != "" && (first == nil || r.at < first.at) {
				first = &rt[i]
			}
		}
		if key == "" && first != nil {
			key = first.key
		}
		if key == "" && cut {
			reason = "key_truncated"
		}
		add(e, key, reason)
	}
	for _, r := range rt {
		alone := true
		for _, e := range std {
			alone = alone && !near(e, r)
		}
		if alone {
			reason := "no_key"
			if r.truncated {
				reason = "key_truncated"
			}
			add(r, r.key, reason)
		}
	}
	var rows []string
	for g, v := range want {
		rows = append(rows, fmt.Sprintf("%s|%s|%s: %d %d 0", g.day, g.customer, g.reason, v.n, v.sent))
	}
	slices.SortFunc(rows, func(a, b string) int {
		// Nulls last within each column, as stores order them.
		return strings.Compare(strings.ReplaceAll(a, "<null>", "\xff"), strings.ReplaceAll(b, "<null>", "\xff"))
	})
	got := edgeUsage(t, s, day0, day0.AddDate(0, 2, 0), keymeter.DimDay, keymeter.DimCustomer, keymeter.DimReason)
	expect(t, stage, got, rows)
}
