// Package storetest is the contract every keymeter.Store backend must
// pass: Run(t, newStore) checks exactly-once writes, transactions, object
// records, keys, rejects, usage queries and the billing abilities
// (customers, meter totals, finalized invoices) against expected values
// worked out by hand.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
)

// NewStore returns an empty store for one test; the suite closes it.
type NewStore func(t *testing.T) keymeter.Store

// Run runs the contract suite.
func Run(t *testing.T, newStore NewStore) {
	RunWith(t, newStore, Options{})
}

// Options adjust the suite to a backend that cannot answer some of its
// questions yet.
type Options struct {
	// Unsupported names the cases the backend cannot pass yet, each with
	// why: they are skipped with that reason. A name that is not a case
	// fails the suite, so that the list stays true.
	Unsupported map[string]string
}

// RunWith runs the contract suite with options.
func RunWith(t *testing.T, newStore NewStore, opts Options) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s keymeter.Store)
	}{
		{"WriteAndUsage", testWriteAndUsage},
		{"ExactlyOnce", testExactlyOnce},
		{"DuplicatesWithinABatch", testDuplicatesWithinBatch},
		{"UncommittedIsLost", testUncommittedIsLost},
		{"OneWriter", testOneWriter},
		{"Objects", testObjects},
		{"Keys", testKeys},
		{"UsageDimensions", testUsageDimensions},
		{"UsagePeriodIsHalfOpen", testUsagePeriod},
		{"UsageFilters", testUsageFilters},
		{"Latency", testLatency},
		{"Rejects", testRejects},
		{"InvalidPeriod", testInvalidPeriod},
		{"UsagePeriodForms", testUsagePeriodForms},
		{"Reconcile", testReconcile},
		{"UnattributedByDay", testUnattributedByDay},
		{"Checkpoints", testCheckpoints},
		{"Tokens", testTokens},
	}
	tests = append(tests, billingTests...)
	tests = append(tests, historyTests...)
	tests = append(tests, textTests...)
	tests = append(tests, totalsTests...)
	tests = append(tests, dedupeTests...)
	tests = append(tests, edgeTests...)
	tests = append(tests, filterTests...)
	names := map[string]bool{}
	for _, tt := range tests {
		names[tt.name] = true
	}
	for name := range opts.Unsupported {
		if !names[name] {
			t.Errorf("Options.Unsupported names %q, which is not a case of the suite", name)
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if why, ok := opts.Unsupported[tt.name]; ok {
				t.Skip("unsupported by this backend: " + why)
			}
			s := newStore(t)
			defer s.Close()
			tt.fn(t, s)
		})
	}
	t.Run("Alerts", func(t *testing.T) { runAlerts(t, newStore) })
}

var ctx = context.Background()

// day0 is the start of the month the suite's events fall in.
var day0 = time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC)

// ev describes one test event in plain terms.
type ev struct {
	at       time.Duration // after day0
	id       string        // request ID
	key      string        // fingerprint-to-be ("" = no key)
	path     string
	method   string
	status   int32 // 200 when 0; status000 for 000
	result   string
	location string
	sent     int64
	recv     int64
	ms       int32 // time-taken; -1 for none
	source   keymeter.Source
	identity bool // key is an API Gateway API key ID, not a key
	// noStatus marks a request whose log has no status.
	noStatus bool
	// truncated marks a request whose key header was cut (with no key).
	truncated bool
	dist      string // the distribution's domain; "-" when empty
}

func (e ev) withDefaults() ev {
	if e.path == "" {
		e.path = "/v1/items"
	}
	if e.method == "" {
		e.method = "GET"
	}
	if e.status == 0 {
		e.status = 200
	}
	if e.result == "" {
		e.result = "Miss"
	}
	if e.location == "" {
		e.location = "IAD89-C1"
	}
	if e.source == 0 {
		e.source = keymeter.SourceCloudFront
	}
	return e
}

// testKey returns the fingerprint the suite uses for a key name.
func testKey(name string) keymeter.KeyFingerprint {
	return keymeter.NewFingerprinter([]byte("storetest secret")).Fingerprint([]byte("key-" + name + "-0123456789abcdef"))
}

func hash(s string) uint64 {
	// FNV-1a: any stable 64-bit hash will do for test dictionaries.
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// batch encodes events into one batch per source, the way ingest does.
func batches(obj string, events ...ev) []*keymeter.Batch {
	bySource := map[keymeter.Source]*keymeter.Batch{}
	var order []keymeter.Source
	for _, e := range events {
		e = e.withDefaults()
		b := bySource[e.source]
		if b == nil {
			b = &keymeter.Batch{Source: e.source, Object: &keymeter.Object{URI: obj}}
			bySource[e.source] = b
			order = append(order, e.source)
		}
		l := keymeter.LayoutOf(e.source)
		if len(l.Dims) == 0 {
			l = keymeter.LayoutOf(keymeter.SourceCloudFront)
		}
		dimsValues := make([]string, len(l.Dims))
		for i, f := range l.Dims {
			dimsValues[i] = "-"
			switch f {
			case keymeter.FieldEdgeLocation:
				dimsValues[i] = e.location
			case keymeter.FieldMethod:
				dimsValues[i] = e.method
			case keymeter.FieldEdgeResult:
				dimsValues[i] = e.result
			case keymeter.FieldDistributionDomain:
				if e.dist != "" {
					dimsValues[i] = e.dist
				}
			}
		}
		dims := hash(fmt.Sprint(e.source, dimsValues))
		path := hash(fmt.Sprint(e.source, e.path))
		client := hash(fmt.Sprint(e.source, "client"))
		b.Dict = append(b.Dict,
			keymeter.DictEntry{Kind: keymeter.DictDims, Source: e.source, ID: dims, Values: dimsValues},
			keymeter.DictEntry{Kind: keymeter.DictPath, Source: e.source, ID: path, Values: []string{e.path, e.path}},
			keymeter.DictEntry{Kind: keymeter.DictClient, Source: e.source, ID: client, Values: []string{"test-agent", "-"}},
		)
		row := keymeter.Row{
			Time: day0.Add(e.at).UnixMicro(), ID: [2]uint64{hash(e.id), hash(e.id + "/2")},
			Dims: dims, Path: path, Client: client, Status: max(e.status, 0), BytesSent: e.sent, BytesRecv: e.recv,
			TimeTaken: e.ms, TTFB: -1, ClientPort: -1, FLEEncrypt: -1, ContentLen: -1, RangeStart: -1, RangeEnd: -1,
		}
		if e.noStatus {
			row.Status = -1
		}
		if e.key != "" {
			fp := testKey(e.key)
			if e.identity {
				fp = keymeter.OriginIdentity(keymeter.IdentityAPIKeyID, []byte(e.key))
			}
			row.KeyID = fp.ID
			b.Keys = append(b.Keys, fp)
		} else if e.truncated {
			row.Attribution = keymeter.KeyTruncated
		} else {
			row.Attribution = keymeter.NoKey
		}
		b.Rest = append(b.Rest, e.id+"\t192.0.2.1\t-\t-\t-"...)
		row.RestEnd = uint32(len(b.Rest))
		b.Rows = append(b.Rows, row)
	}
	out := make([]*keymeter.Batch, 0, len(order))
	for _, s := range order {
		out = append(out, bySource[s])
	}
	return out
}

// write writes events in one transaction and returns the totals.
func write(t *testing.T, s keymeter.Store, obj string, events ...ev) keymeter.WriteResult {
	t.Helper()
	w, err := s.NewWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var total keymeter.WriteResult
	for _, b := range batches(obj, events...) {
		res, err := w.Write(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		total.Stored += res.Stored
		total.Duplicates += res.Duplicates
		for i, n := range res.ByAttribution {
			total.ByAttribution[i] += n
		}
		for k, n := range res.UnattributedByDay {
			if total.UnattributedByDay == nil {
				total.UnattributedByDay = map[keymeter.DayAttribution]int{}
			}
			total.UnattributedByDay[k] += n
		}
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return total
}

// usage runs a usage query for October 2025 and renders each row as
// "group|group: requests sent received".
func usage(t *testing.T, s keymeter.Store, q keymeter.UsageQuery) []string {
	t.Helper()
	if q.From.IsZero() {
		q.From, q.To = day0, day0.AddDate(0, 1, 0)
	}
	rows, err := s.Usage(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rows {
		g := ""
		for i, v := range r.Group {
			if i > 0 {
				g += "|"
			}
			if v.Null {
				g += "<null>"
			} else {
				g += v.Value
			}
		}
		out = append(out, fmt.Sprintf("%s: %d %d %d", g, r.Requests, r.BytesSent, r.BytesReceived))
	}
	return out
}

func expect(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}

func testWriteAndUsage(t *testing.T, s keymeter.Store) {
	res := write(t, s, "obj1",
		ev{at: time.Hour, id: "a", key: "k1", sent: 100, recv: 10, ms: 5},
		ev{at: 2 * time.Hour, id: "b", key: "k1", sent: 200, recv: 20, ms: 7},
		ev{at: 3 * time.Hour, id: "c", key: "k2", sent: 400, recv: 40, ms: 9},
		ev{at: 4 * time.Hour, id: "d", sent: 800, recv: 80, ms: -1},
	)
	if res.Stored != 4 || res.Duplicates != 0 || res.ByAttribution != [keymeter.NumAttributions]int{3, 1, 0} {
		t.Errorf("write result %+v", res)
	}
	expect(t, "usage by api_key", usage(t, s, keymeter.UsageQuery{By: []keymeter.Dimension{keymeter.DimAPIKey}}), sortedNullsLast(
		testKey("k1").Fingerprint+": 2 300 30",
		testKey("k2").Fingerprint+": 1 400 40",
		"<null>: 1 800 80",
	))
	expect(t, "total", usage(t, s, keymeter.UsageQuery{}), []string{": 4 1500 150"})
}

// sortedNullsLast sorts expected rows the way stores must return them.
func sortedNullsLast(rows ...string) []string {
	slices.SortFunc(rows, func(a, b string) int {
		an, bn := len(a) > 6 && a[:6] == "<null>", len(b) > 6 && b[:6] == "<null>"
		switch {
		case an && !bn:
			return 1
		case bn && !an:
			return -1
		case a < b:
			return -1
		case a > b:
			return 1
		}
		return 0
	})
	return rows
}

func testExactlyOnce(t *testing.T, s keymeter.Store) {
	events := []ev{
		{at: time.Hour, id: "a", key: "k1", sent: 100},
		{at: 26 * time.Hour, id: "b", key: "k1", sent: 200},
		{at: 50 * time.Hour, id: "c", sent: 400},
	}
	write(t, s, "obj1", events...)
	// The same events again, from another object, in another session.
	res := write(t, s, "obj2", events...)
	if res.Stored != 0 || res.Duplicates != 3 {
		t.Errorf("second write: %+v, want 0 stored, 3 duplicates", res)
	}
	// A mix of old and new.
	res = write(t, s, "obj3", ev{at: time.Hour, id: "a", key: "k1", sent: 100}, ev{at: time.Hour, id: "e", key: "k1", sent: 1})
	if res.Stored != 1 || res.Duplicates != 1 {
		t.Errorf("third write: %+v, want 1 stored, 1 duplicate", res)
	}
	expect(t, "totals", usage(t, s, keymeter.UsageQuery{}), []string{": 4 701 0"})
	// The same ID from another source is another event.
	res = write(t, s, "obj4", ev{at: time.Hour, id: "a", key: "k1", sent: 100, source: keymeter.SourceAPIGateway})
	if res.Stored != 1 {
		t.Errorf("same ID from another source: %+v, want stored", res)
	}
}

func testDuplicatesWithinBatch(t *testing.T, s keymeter.Store) {
	res := write(t, s, "obj1",
		ev{at: time.Hour, id: "a", sent: 1}, ev{at: time.Hour, id: "a", sent: 1}, ev{at: time.Hour, id: "b", sent: 1},
	)
	if res.Stored != 2 || res.Duplicates != 1 {
		t.Errorf("%+v, want 2 stored, 1 duplicate", res)
	}
}

func testUncommittedIsLost(t *testing.T, s keymeter.Store) {
	w, err := s.NewWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range batches("obj1", ev{at: time.Hour, id: "a", sent: 1}) {
		if _, err := w.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.FinishObject(ctx, keymeter.ObjectRecord{Object: keymeter.Object{URI: "obj1", Digest: "sha256:1"}, Status: keymeter.ObjectComplete}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	expect(t, "usage after rollback", usage(t, s, keymeter.UsageQuery{}), []string{": 0 0 0"})
	if rec, err := s.FindObject(ctx, keymeter.Object{Digest: "sha256:1"}); err != nil || rec != nil {
		t.Errorf("object after rollback: %+v, %v", rec, err)
	}
	// The rolled-back event is not remembered as stored either.
	if res := write(t, s, "obj1", ev{at: time.Hour, id: "a", sent: 1}); res.Stored != 1 {
		t.Errorf("rewrite after rollback: %+v", res)
	}
}

func testOneWriter(t *testing.T, s keymeter.Store) {
	w, err := s.NewWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.NewWriter(ctx); keymeter.ErrorCode(err) != keymeter.ECONFLICT {
		t.Errorf("second writer: %v, want a conflict", err)
	}
	w.Close()
	w2, err := s.NewWriter(ctx)
	if err != nil {
		t.Fatalf("writer after close: %v", err)
	}
	w2.Close()
}

func testObjects(t *testing.T, s keymeter.Store) {
	mod := time.Date(2025, 10, 2, 3, 4, 5, 0, time.UTC)
	obj := keymeter.Object{URI: "/logs/a.gz", Size: 1234, ModTime: mod, Digest: "sha256:abc"}
	if rec, err := s.FindObject(ctx, obj); err != nil || rec != nil {
		t.Fatalf("before: %+v, %v", rec, err)
	}
	w, err := s.NewWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	rec := keymeter.ObjectRecord{Object: obj, Status: keymeter.ObjectPartial, Error: "truncated", Lines: 10, Events: 7, Duplicates: 2, Rejected: 1}
	if err := w.FinishObject(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if got, err := s.FindObject(ctx, obj); err != nil || got != nil {
		t.Errorf("visible before commit: %+v, %v", got, err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for _, q := range []keymeter.Object{
		{URI: "/elsewhere/b.gz", Digest: "sha256:abc"}, // same content, other name
		{URI: "/logs/a.gz", Size: 1234, ModTime: mod},  // same file, not hashed
		{URI: "/logs/a.gz", Size: 1234, ModTime: mod, ETag: ""},
	} {
		got, err := s.FindObject(ctx, q)
		if err != nil || got == nil {
			t.Fatalf("FindObject(%+v): %+v, %v", q, got, err)
		}
		if got.URI != obj.URI || got.Status != keymeter.ObjectPartial || got.Error != "truncated" || got.Lines != 10 ||
			got.Events != 7 || got.Duplicates != 2 || got.Rejected != 1 || !got.ModTime.Equal(mod) || got.IngestedAt.IsZero() {
			t.Errorf("FindObject(%+v) = %+v", q, got)
		}
	}
	for _, q := range []keymeter.Object{
		{URI: "/logs/a.gz", Size: 1235, ModTime: mod},
		{URI: "/logs/a.gz", Size: 1234, ModTime: mod.Add(time.Second)},
		{URI: "/logs/a.gz", Size: 1234, ModTime: mod, ETag: "etag"},
		{URI: "/logs/a.gz", Digest: "sha256:other"},
	} {
		if got, err := s.FindObject(ctx, q); err != nil || got != nil {
			t.Errorf("FindObject(%+v) = %+v, %v; want none", q, got, err)
		}
	}
}

func testKeys(t *testing.T, s keymeter.Store) {
	k1, k2, k3 := testKey("k1"), testKey("k2"), testKey("k3")
	res, err := s.ImportKeys(ctx, []keymeter.KeyAssignment{{KeyFingerprint: k1, Customer: "acme"}, {KeyFingerprint: k2, Customer: "acme"}})
	if err != nil || res != (keymeter.KeyImport{Added: 2}) {
		t.Fatalf("first import: %+v, %v", res, err)
	}
	// k3 is seen in a log before anyone owns it.
	write(t, s, "obj1", ev{at: time.Hour, id: "a", key: "k3"}, ev{at: 2 * time.Hour, id: "b", key: "k1"}, ev{at: 3 * time.Hour, id: "c", key: "k1"})
	res, err = s.ImportKeys(ctx, []keymeter.KeyAssignment{
		{KeyFingerprint: k1, Customer: "acme"}, {KeyFingerprint: k2, Customer: "globex"}, {KeyFingerprint: k3, Customer: "initech"},
	})
	if err != nil || res != (keymeter.KeyImport{Assigned: 1, Moved: 1, Unchanged: 1}) {
		t.Fatalf("second import: %+v, %v", res, err)
	}
	keys, err := s.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range keys {
		got = append(got, fmt.Sprintf("%s %s %s %d", k.Customer, k.Fingerprint, k.Hint, k.Requests))
		if k.ID != map[string]uint64{k1.Fingerprint: k1.ID, k2.Fingerprint: k2.ID, k3.Fingerprint: k3.ID}[k.Fingerprint] {
			t.Errorf("key %s has ID %d", k.Fingerprint, k.ID)
		}
	}
	expect(t, "keys", got, []string{
		"acme " + k1.Fingerprint + " " + k1.Hint + " 2",
		"globex " + k2.Fingerprint + " " + k2.Hint + " 0",
		"initech " + k3.Fingerprint + " " + k3.Hint + " 1",
	})
	expect(t, "usage by customer", usage(t, s, keymeter.UsageQuery{By: []keymeter.Dimension{keymeter.DimCustomer}}),
		[]string{"acme: 2 0 0", "initech: 1 0 0"})
}

func testUsageDimensions(t *testing.T, s keymeter.Store) {
	write(t, s, "obj1",
		ev{at: time.Hour, id: "a", path: "/a", method: "GET", status: 200, result: "Hit", location: "IAD89-C1", sent: 1},
		ev{at: 25 * time.Hour, id: "b", path: "/a", method: "POST", status: 404, result: "Miss", location: "FRA56-P5", sent: 2},
		ev{at: 25*time.Hour + time.Minute, id: "c", path: "/b", method: "GET", status: 200, result: "Miss", location: "FRA56-P5", sent: 4},
	)
	by := func(d ...keymeter.Dimension) keymeter.UsageQuery { return keymeter.UsageQuery{By: d} }
	expect(t, "path", usage(t, s, by(keymeter.DimPath)), []string{"/a: 2 3 0", "/b: 1 4 0"})
	expect(t, "method", usage(t, s, by(keymeter.DimMethod)), []string{"GET: 2 5 0", "POST: 1 2 0"})
	expect(t, "status", usage(t, s, by(keymeter.DimStatus)), []string{"200: 2 5 0", "404: 1 2 0"})
	expect(t, "edge_result", usage(t, s, by(keymeter.DimEdgeResult)), []string{"Hit: 1 1 0", "Miss: 2 6 0"})
	expect(t, "edge_location", usage(t, s, by(keymeter.DimEdgeLocation)), []string{"FRA56-P5: 2 6 0", "IAD89-C1: 1 1 0"})
	expect(t, "day", usage(t, s, by(keymeter.DimDay)), []string{"2025-10-01: 1 1 0", "2025-10-02: 2 6 0"})
	expect(t, "hour", usage(t, s, by(keymeter.DimHour)), []string{"2025-10-01T01:00:00Z: 1 1 0", "2025-10-02T01:00:00Z: 2 6 0"})
	expect(t, "month", usage(t, s, by(keymeter.DimMonth)), []string{"2025-10: 3 7 0"})
	expect(t, "source", usage(t, s, by(keymeter.DimSource)), []string{"cloudfront: 3 7 0"})
	expect(t, "reason", usage(t, s, by(keymeter.DimReason)), []string{"no_key: 3 7 0"})
	expect(t, "two columns", usage(t, s, by(keymeter.DimDay, keymeter.DimMethod)),
		[]string{"2025-10-01|GET: 1 1 0", "2025-10-02|GET: 1 4 0", "2025-10-02|POST: 1 2 0"})
}

func testUsagePeriod(t *testing.T, s keymeter.Store) {
	write(t, s, "obj1",
		ev{at: -time.Microsecond, id: "before", sent: 1},
		ev{at: 0, id: "first", sent: 2},
		ev{at: 31*24*time.Hour - time.Microsecond, id: "last", sent: 4},
		ev{at: 31 * 24 * time.Hour, id: "after", sent: 8},
	)
	expect(t, "October", usage(t, s, keymeter.UsageQuery{}), []string{": 2 6 0"})
	expect(t, "from the last microsecond", usage(t, s, keymeter.UsageQuery{From: day0.Add(31*24*time.Hour - time.Microsecond), To: day0.AddDate(0, 2, 0)}), []string{": 2 12 0"})
}

func testUsageFilters(t *testing.T, s keymeter.Store) {
	if _, err := s.ImportKeys(ctx, []keymeter.KeyAssignment{{KeyFingerprint: testKey("k1"), Customer: "acme"}}); err != nil {
		t.Fatal(err)
	}
	write(t, s, "obj1",
		ev{at: time.Hour, id: "a", key: "k1", sent: 1},
		ev{at: time.Hour, id: "b", key: "k2", sent: 2},
		ev{at: time.Hour, id: "c", key: "k1", sent: 4, source: keymeter.SourceAPIGateway},
	)
	expect(t, "customer", usage(t, s, keymeter.UsageQuery{Customer: "acme"}), []string{": 2 5 0"})
	expect(t, "source", usage(t, s, keymeter.UsageQuery{Source: keymeter.SourceCloudFront}), []string{": 2 3 0"})
	expect(t, "both", usage(t, s, keymeter.UsageQuery{Source: keymeter.SourceAPIGateway, Customer: "acme", By: []keymeter.Dimension{keymeter.DimCustomer}}), []string{"acme: 1 4 0"})
}

func testLatency(t *testing.T, s keymeter.Store) {
	var events []ev
	// 100 requests taking 1..100 ms, and one with no time-taken.
	for i := 1; i <= 100; i++ {
		events = append(events, ev{at: time.Duration(i) * time.Minute, id: fmt.Sprint(i), ms: int32(i)})
	}
	events = append(events, ev{at: time.Hour, id: "none", ms: -1})
	write(t, s, "obj1", events...)
	rows, err := s.Usage(ctx, keymeter.UsageQuery{From: day0, To: day0.AddDate(0, 1, 0)})
	if err != nil || len(rows) != 1 {
		t.Fatalf("%v, %v", rows, err)
	}
	l := rows[0].TimeTaken
	if rows[0].Requests != keymeter.NewInt128(101) || l.Count != 100 || l.Sum != keymeter.NewInt128(5050) || l.P50 != 50 || l.P95 != 95 || l.P99 != 99 {
		t.Errorf("latency %+v of %d requests; want count 100, sum 5050, p50 50, p95 95, p99 99", l, rows[0].Requests)
	}
}

func testRejects(t *testing.T, s keymeter.Store) {
	w, err := s.NewWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	at := time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC)
	err = w.Reject(ctx, []keymeter.Reject{
		{Source: keymeter.SourceCloudFront, Object: "/a.gz", Line: 3, Field: "sc-bytes", Reason: "not a valid number", Text: "x\ty", At: at},
		{Source: keymeter.SourceCloudFront, Object: "/b.gz", Line: 7, Reason: "truncated", Text: "z", At: at.Add(time.Second)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	all, err := s.Rejects(ctx, keymeter.RejectFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].Object != "/b.gz" || all[1].Field != "sc-bytes" || all[1].Text != "x\ty" || all[1].Line != 3 || !all[1].At.Equal(at) {
		t.Errorf("rejects %+v", all)
	}
	one, err := s.Rejects(ctx, keymeter.RejectFilter{Limit: 1})
	if err != nil || len(one) != 1 || one[0].Object != "/b.gz" {
		t.Errorf("limit 1: %+v, %v", one, err)
	}
	a, err := s.Rejects(ctx, keymeter.RejectFilter{Object: "/a.gz"})
	if err != nil || len(a) != 1 || a[0].Line != 3 {
		t.Errorf("object filter: %+v, %v", a, err)
	}
}

func testInvalidPeriod(t *testing.T, s keymeter.Store) {
	_, err := s.Usage(ctx, keymeter.UsageQuery{From: day0, To: day0})
	var e *keymeter.Error
	if !errors.As(err, &e) || e.Code != keymeter.EINVALID {
		t.Errorf("empty period: %v, want an EINVALID error", err)
	}
}

// testUsagePeriodForms asks the same questions with periods written in
// whole days and in microseconds around them: a store may answer the
// first from rollups and must give the same answers, percentiles
// included.
func testUsagePeriodForms(t *testing.T, s keymeter.Store) {
	if _, err := s.ImportKeys(ctx, []keymeter.KeyAssignment{{KeyFingerprint: testKey("k1"), Customer: "acme"}, {KeyFingerprint: testKey("k2"), Customer: "acme"}}); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 11))
	var events []ev
	for i := range 3000 {
		e := ev{at: time.Duration(rng.Int64N(int64(5 * 24 * time.Hour))), id: fmt.Sprint("e", i), sent: rng.Int64N(10000), recv: rng.Int64N(500)}
		switch rng.IntN(4) {
		case 0:
			e.key = "k1"
		case 1:
			e.key = "k2"
		case 2:
			e.key = "k3"
		}
		e.ms = int32(rng.IntN(5000))
		if rng.IntN(10) == 0 {
			e.ms = int32(rng.IntN(64))
		}
		if rng.IntN(20) == 0 {
			e.ms = -1
		}
		if rng.IntN(3) == 0 {
			e.source = keymeter.SourceAPIGateway
		}
		events = append(events, e)
	}
	// Two runs, so that rollups are merged across transactions.
	write(t, s, "obj1", events[:1700]...)
	write(t, s, "obj2", events[1500:]...)
	D := keymeter.DimCustomer
	for _, by := range [][]keymeter.Dimension{
		nil, {D}, {keymeter.DimAPIKey}, {keymeter.DimDay}, {keymeter.DimMonth}, {keymeter.DimSource}, {keymeter.DimReason},
		{D, keymeter.DimDay}, {keymeter.DimSource, keymeter.DimAPIKey, keymeter.DimDay},
	} {
		for _, q := range []keymeter.UsageQuery{{By: by}, {By: by, Source: keymeter.SourceAPIGateway}, {By: by, Customer: "acme"}} {
			days := q
			days.From, days.To = day0, day0.AddDate(0, 0, 10)
			micros := days
			micros.From = days.From.Add(-time.Microsecond)
			a, err := s.Usage(ctx, days)
			if err != nil {
				t.Fatal(err)
			}
			b, err := s.Usage(ctx, micros)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(a) != fmt.Sprint(b) {
				t.Errorf("usage by %v (source %v, customer %q) depends on how the period is written:\n days   %v\n micros %v", by, q.Source, q.Customer, a, b)
			}
			if len(by) == 0 && q.Source == 0 && q.Customer == "" && (len(a) != 1 || a[0].Requests != keymeter.NewInt128(3000)) {
				t.Errorf("total %v, want 3000 requests", a)
			}
		}
	}
}
