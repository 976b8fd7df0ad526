package storetest

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
)

// filterTests check that a store's MeterTotals selects exactly the
// events keymeter.EventFilter.Matches accepts and sums what
// keymeter.Measure.Of gives, for every field of the filter, NULLs
// included: the semantics a backend turns into its own query.
var filterTests = []struct {
	name string
	fn   func(t *testing.T, s keymeter.Store)
}{
	{"EventFilter", testEventFilter},
}

// filterEvent is one event of the filter test with the fields the
// filter looks at, as the Go reference sees them.
type filterEvent struct {
	ev     ev
	fields keymeter.EventFields
}

// filterEvents returns every combination of a few interesting field
// values, fields not logged included, each with bytes drawn at random
// so that two different sets of events have different sums.
func filterEvents() []filterEvent {
	rng := rand.New(rand.NewPCG(11, 12))
	var out []filterEvent
	sources := []keymeter.Source{keymeter.SourceCloudFront, keymeter.SourceCloudFrontRealtime, keymeter.SourceAPIGateway}
	for _, src := range sources {
		for _, path := range []string{"/v1/users", "/v1/health", "/v2/x", "/v1", "/a_b%c\\z", "/aXb%c\\z", "/100%"} {
			for _, method := range []string{"-", "GET", "POST", "DELETE"} {
				for _, status := range []int32{-1, 0, 200, 404, 429, 500, 599} {
					for _, result := range []string{"-", "Hit", "Miss", "Error", "LimitExceeded"} {
						if src == keymeter.SourceAPIGateway && result != "-" {
							continue // API Gateway logs have no edge result
						}
						e := ev{
							at: timeOf(len(out)), id: fmt.Sprintf("f%d", len(out)), key: "k1", source: src,
							path: path, method: method, status: status, noStatus: status < 0, result: result,
							sent: rng.Int64N(1 << 40), recv: rng.Int64N(1 << 40),
						}
						if status == 0 {
							e.status = status000
						}
						f := keymeter.EventFields{Source: src, Path: path, Method: method, Status: int(status), EdgeResult: result,
							BytesSent: e.sent, BytesReceived: e.recv}
						if method == "-" {
							f.Method = ""
						}
						if result == "-" {
							f.EdgeResult = ""
						}
						out = append(out, filterEvent{e, f})
					}
				}
			}
		}
	}
	return out
}

// timeOf spreads the events a second apart.
func timeOf(i int) time.Duration { return time.Duration(i) * time.Second }

func testEventFilter(t *testing.T, s keymeter.Store) {
	b := billingStore(t, s)
	importKeys(t, s, keymeter.KeyImport{Added: 1}, assign("k1", "acme", 0))
	evs := filterEvents()
	all := make([]ev, len(evs))
	for i := range evs {
		all[i] = evs[i].ev
	}
	write(t, s, "filter", all...)
	// Every request of the standard and real-time logs is a request of
	// the edge join of its own (each has a request ID of its own), keyed
	// by its log's record.
	var withEdge []filterEvent
	for _, e := range evs {
		withEdge = append(withEdge, e)
		if e.fields.Source.IsCloudFront() {
			f := e.fields
			f.Source, f.KeySource = keymeter.SourceEdge, e.fields.Source
			withEdge = append(withEdge, filterEvent{e.ev, f})
		}
	}

	cf, rt, api, edge := keymeter.SourceCloudFront, keymeter.SourceCloudFrontRealtime, keymeter.SourceAPIGateway, keymeter.SourceEdge
	status := func(rs ...int) []keymeter.StatusRange {
		var out []keymeter.StatusRange
		for i := 0; i < len(rs); i += 2 {
			out = append(out, keymeter.StatusRange{Min: rs[i], Max: rs[i+1]})
		}
		return out
	}
	type match = keymeter.EventMatch
	cases := []struct {
		name   string
		filter keymeter.EventFilter
	}{
		{"every log", keymeter.EventFilter{}},
		{"one source", keymeter.EventFilter{Sources: []keymeter.Source{rt}}},
		{"two sources", keymeter.EventFilter{Sources: []keymeter.Source{cf, api}}},
		{"include a status class", keymeter.EventFilter{Include: match{Status: status(500, 599)}}},
		{"include codes, 000 among them", keymeter.EventFilter{Include: match{Status: status(0, 0, 404, 404)}}},
		{"exclude a status class and a code", keymeter.EventFilter{Exclude: match{Status: status(500, 599, 429, 429)}}},
		{"include edge results", keymeter.EventFilter{Include: match{EdgeResult: []string{"Error", "Hit"}}}},
		{"exclude edge results", keymeter.EventFilter{Exclude: match{EdgeResult: []string{"Error", "LimitExceeded"}}}},
		{"include path patterns", keymeter.EventFilter{Include: match{Path: []string{"/v1/*", "/v?/x"}}}},
		{"LIKE metacharacters are literal", keymeter.EventFilter{Include: match{Path: []string{"/a_b%c\\*", "/100%"}}}},
		{"exclude a path pattern", keymeter.EventFilter{Exclude: match{Path: []string{"*/health"}}}},
		{"include methods", keymeter.EventFilter{Include: match{Method: []string{"GET", "POST"}}}},
		{"exclude a method", keymeter.EventFilter{Exclude: match{Method: []string{"DELETE"}}}},
		{"include a key source of logs", keymeter.EventFilter{Include: match{KeySource: []keymeter.Source{rt}}}},
		{"exclude a key source of logs", keymeter.EventFilter{Sources: []keymeter.Source{cf}, Exclude: match{KeySource: []keymeter.Source{cf}}}},
		{"include paths and methods", keymeter.EventFilter{Sources: []keymeter.Source{api}, Include: match{
			Path: []string{"/v1/*", "/v2/?"}, Method: []string{"GET", "POST"}}}},
		{"include status and results, exclude path, method and status", keymeter.EventFilter{Sources: []keymeter.Source{rt},
			Include: match{Status: status(0, 0, 200, 299), EdgeResult: []string{"Hit", "Miss"}},
			Exclude: match{Path: []string{"*/health"}, Method: []string{"DELETE"}, Status: status(429, 429)}}},
		{"the example meter", keymeter.EventFilter{Sources: []keymeter.Source{cf},
			Include: match{Path: []string{"/v1/*", "/v2/*"}, Method: []string{"GET", "POST"}},
			Exclude: match{Status: status(500, 599, 429, 429), EdgeResult: []string{"Error", "LimitExceeded"}, Path: []string{"/v1/health"}}}},
	}
	edgeCases := []struct {
		name   string
		filter keymeter.EventFilter
	}{
		{"the edge join", keymeter.EventFilter{Sources: []keymeter.Source{edge}}},
		{"the edge join and a log", keymeter.EventFilter{Sources: []keymeter.Source{edge, api}, Exclude: match{Status: status(500, 599)}}},
		{"include a key source", keymeter.EventFilter{Sources: []keymeter.Source{edge}, Include: match{KeySource: []keymeter.Source{rt}}}},
		{"exclude a key source", keymeter.EventFilter{Sources: []keymeter.Source{edge, cf}, Exclude: match{KeySource: []keymeter.Source{rt}},
			Include: match{Method: []string{"GET"}}}},
	}
	measures := keymeter.Measures()
	run := func(what string, cs []struct {
		name   string
		filter keymeter.EventFilter
	}, model []filterEvent) {
		t.Helper()
		var specs []keymeter.MeterSpec
		var want []string
		for i, c := range cs {
			n := 0
			for _, m := range measures {
				var events, sum int64
				for j := range model {
					if c.filter.Matches(&model[j].fields) {
						events++
						sum += m.Of(&model[j].fields)
					}
				}
				n = int(events)
				name := fmt.Sprintf("%02d %s", i, m)
				specs = append(specs, keymeter.MeterSpec{Name: name, Measure: m, Filter: c.filter})
				if events > 0 {
					want = append(want, fmt.Sprintf("acme %s: %d %d", name, events, sum))
				}
			}
			if n == 0 && !strings.Contains(c.name, "key source of logs") || n == len(model) && c.name != "every log" {
				t.Errorf("%s: the reference selects %d of %d events: a useless test case", c.name, n, len(model))
			}
		}
		got := totals(t, b, keymeter.MeterQuery{Meters: specs})
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			for i, c := range cs {
				prefix := fmt.Sprintf("acme %02d ", i)
				if g, w := pick(got, prefix), pick(want, prefix); g != w {
					t.Errorf("%s, %s: the store counts\n%s\nthe reference\n%s", what, c.name, g, w)
				}
			}
		}
	}
	run("logs only", cases, evs)
	// The same filters beside meters of the edge join, whose rows are in
	// the relation the store reads then.
	run("with the edge join", append(cases, edgeCases...), withEdge)
}

// pick returns the lines that start with prefix.
func pick(lines []string, prefix string) string {
	var out []string
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
