package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
)

// historyTests check that what a store knew stays answerable: key
// ownership over time, and questions asked as of an earlier time.
var historyTests = []struct {
	name string
	fn   func(t *testing.T, s keymeter.Store)
}{
	{"KeyOwnershipOverTime", testKeyOwnership},
	{"KeyOwnershipRollupsAgree", testKeyOwnershipRollups},
	{"KeyOwnershipAsOf", testKeyOwnershipAsOf},
	{"Reprocess", testReprocess},
	{"Prepare", testPrepare},
	{"RereadRejects", testRereadRejects},
}

func importKeys(t *testing.T, s keymeter.Store, want keymeter.KeyImport, keys ...keymeter.KeyAssignment) {
	t.Helper()
	res, err := s.ImportKeys(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	if res != want {
		t.Errorf("import %v: %+v, want %+v", keys, res, want)
	}
}

func assign(key, customer string, from time.Duration) keymeter.KeyAssignment {
	a := keymeter.KeyAssignment{KeyFingerprint: testKey(key), Customer: customer}
	if from != 0 {
		a.From = day0.Add(from)
	}
	return a
}

func listKeys(t *testing.T, s keymeter.Store) []string {
	t.Helper()
	keys, err := s.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range keys {
		out = append(out, fmt.Sprintf("%s %s [%s, %s) %d %s", k.Customer, k.Hint, stamp(k.From), stamp(k.Until), k.Requests, stamp(k.LastSeen)))
	}
	return out
}

// stamp writes a time as hours after day0, "-" for the zero time.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return fmt.Sprintf("%gh", t.Sub(day0).Hours())
}

// testKeyOwnership: an assignment takes effect from its time on, events
// keep the owner of their time, a later assignment overrides earlier ones
// from its time on, and keys are listed per owner span.
func testKeyOwnership(t *testing.T, s keymeter.Store) {
	h := time.Hour
	importKeys(t, s, keymeter.KeyImport{Added: 1}, assign("k1", "acme", 0))
	write(t, s, "obj1",
		ev{at: 1 * h, id: "a", key: "k1", sent: 1}, ev{at: 30 * h, id: "b", key: "k1", sent: 2},
		ev{at: 40 * h, id: "c", key: "k1", sent: 4}, ev{at: 60 * h, id: "d", key: "k1", sent: 8},
		ev{at: 2 * h, id: "e", key: "k3", sent: 16}, ev{at: 50 * h, id: "f", key: "k3", sent: 32})
	hint := testKey("k1").Hint
	// k1 moves to globex from 12:00 on day 1; k3, seen before, goes to initech from day 2.
	importKeys(t, s, keymeter.KeyImport{Moved: 1, Assigned: 1}, assign("k1", "globex", 36*h), assign("k3", "initech", 48*h))
	byCustomer := keymeter.UsageQuery{By: []keymeter.Dimension{keymeter.DimCustomer}}
	expect(t, "usage by customer", usage(t, s, byCustomer), []string{"acme: 2 3 0", "globex: 2 12 0", "initech: 1 32 0", "<null>: 1 16 0"})
	expect(t, "usage of acme", usage(t, s, keymeter.UsageQuery{Customer: "acme"}), []string{": 2 3 0"})
	expect(t, "usage by day and customer", usage(t, s, keymeter.UsageQuery{By: []keymeter.Dimension{keymeter.DimDay, keymeter.DimCustomer}}), []string{
		"2025-10-01|acme: 1 1 0", "2025-10-01|<null>: 1 16 0", "2025-10-02|acme: 1 2 0", "2025-10-02|globex: 1 4 0",
		"2025-10-03|globex: 1 8 0", "2025-10-03|initech: 1 32 0",
	})
	h3 := testKey("k3").Hint
	expect(t, "keys", listKeys(t, s), []string{
		"acme " + hint + " [-, 36h) 2 30h",
		"globex " + hint + " [36h, -) 2 60h",
		"initech " + h3 + " [48h, -) 1 50h",
		" " + h3 + " [-, 48h) 1 2h",
	})

	// From day 2 on, k1 is acme's again; day 1 stays globex's.
	importKeys(t, s, keymeter.KeyImport{Moved: 1}, assign("k1", "acme", 48*h))
	importKeys(t, s, keymeter.KeyImport{Unchanged: 2}, assign("k1", "acme", 50*h), assign("k3", "initech", 48*h))
	expect(t, "usage by customer after moving back", usage(t, s, byCustomer), []string{"acme: 3 11 0", "globex: 1 4 0", "initech: 1 32 0", "<null>: 1 16 0"})
	spans, err := s.OwnerSpans(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, sp := range spans {
		if sp.KeyID == testKey("k1").ID {
			got = append(got, fmt.Sprintf("%s [%s, %s)", sp.Customer, stamp(sp.From), stamp(sp.Until)))
		}
	}
	expect(t, "spans of k1", got, []string{"acme [-, 36h)", "globex [36h, 48h)", "acme [48h, -)"})
	// An assignment from the beginning of time overrides them all.
	importKeys(t, s, keymeter.KeyImport{Moved: 1}, assign("k1", "initech", 0))
	expect(t, "usage by customer after an assignment from the beginning", usage(t, s, byCustomer), []string{"initech: 5 47 0", "<null>: 1 16 0"})
}

// testKeyOwnershipRollups asks the same questions in whole days (which a
// store may answer from daily rollups) and in microseconds around them,
// with owners changing at midnight and inside days.
func testKeyOwnershipRollups(t *testing.T, s keymeter.Store) {
	h := time.Hour
	importKeys(t, s, keymeter.KeyImport{Added: 2}, assign("k1", "acme", 0), assign("k2", "globex", 0))
	var events []ev
	for i := range 200 {
		key := []string{"k1", "k2", ""}[i%3]
		events = append(events, ev{at: time.Duration(i) * 29 * time.Minute, id: fmt.Sprint("e", i), key: key, sent: int64(i), ms: int32(i * 7)})
	}
	write(t, s, "obj1", events...)
	importKeys(t, s, keymeter.KeyImport{Moved: 2}, assign("k1", "globex", 24*h), assign("k2", "acme", 49*h+30*time.Minute))
	for _, q := range []keymeter.UsageQuery{
		{By: []keymeter.Dimension{keymeter.DimCustomer}},
		{By: []keymeter.Dimension{keymeter.DimCustomer, keymeter.DimDay}},
		{By: []keymeter.Dimension{keymeter.DimDay}, Customer: "acme"},
		{By: []keymeter.Dimension{keymeter.DimAPIKey, keymeter.DimCustomer}},
	} {
		days := q
		days.From, days.To = day0, day0.AddDate(0, 0, 5)
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
			t.Errorf("usage by %v (customer %q) depends on how the period is written:\n days   %v\n micros %v", q.By, q.Customer, a, b)
		}
	}
	// Counted by hand: k1's events are 0, 3, ..., at i*29 minutes; before
	// 24h (i < 50) acme's, then globex's; k2's (1, 4, ...) globex's before
	// 49:30 (i*29 < 2970, i < 103), then acme's.
	var acme, globex int64
	for i := range 200 {
		at := time.Duration(i) * 29 * time.Minute
		switch {
		case i%3 == 0 && at < 24*h, i%3 == 1 && at >= 49*h+30*time.Minute:
			acme++
		case i%3 != 2:
			globex++
		}
	}
	rows, err := s.Usage(ctx, keymeter.UsageQuery{From: day0, To: day0.AddDate(0, 0, 5), By: []keymeter.Dimension{keymeter.DimCustomer}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		got = append(got, fmt.Sprintf("%s %d", r.Group[0].Value, r.Requests))
	}
	expect(t, "requests by customer", got, []string{fmt.Sprint("acme ", acme), fmt.Sprint("globex ", globex), " 66"})
}

// testKeyOwnershipAsOf: meter totals as of a time see the owners recorded
// by then, so an invoice's counts do not move when a key moves later.
func testKeyOwnershipAsOf(t *testing.T, s keymeter.Store) {
	b := billingStore(t, s)
	importKeys(t, s, keymeter.KeyImport{Added: 1}, assign("k1", "acme", 0))
	write(t, s, "obj1", ev{at: time.Hour, id: "a", key: "k1", sent: 10}, ev{at: 30 * time.Hour, id: "b", key: "k1", sent: 20})
	before, err := b.LoadWatermark(ctx)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond)
	importKeys(t, s, keymeter.KeyImport{Moved: 1}, assign("k1", "globex", 0))
	after, err := b.LoadWatermark(ctx)
	if err != nil || !after.After(before) {
		t.Fatalf("a key assignment does not move the watermark: %v, then %v, %v", before, after, err)
	}
	all := []keymeter.MeterSpec{{Name: "egress", Measure: keymeter.MeasureBytesSent}}
	expect(t, "as of before the move", totals(t, b, keymeter.MeterQuery{AsOf: before, Meters: all}), []string{"acme egress: 2 30"})
	expect(t, "now", totals(t, b, keymeter.MeterQuery{Meters: all}), []string{"globex egress: 2 30"})
	expect(t, "as of after the move", totals(t, b, keymeter.MeterQuery{AsOf: after, Meters: all}), []string{"globex egress: 2 30"})
}

// rewrite replaces what earlier reads of obj stored with events, in one
// transaction, and returns what was retracted.
func rewrite(t *testing.T, s keymeter.Store, obj string, commit bool, events ...ev) keymeter.Retraction {
	t.Helper()
	w, err := s.NewWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	rr, ok := w.(keymeter.Rereader)
	if !ok {
		t.Fatalf("%T does not implement keymeter.Rereader", w)
	}
	ret, err := rr.Reread(ctx, keymeter.Object{URI: obj, Digest: "sha256:" + obj + "-2"}, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range batches(obj, events...) {
		if _, err := w.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.FinishObject(ctx, keymeter.ObjectRecord{Object: keymeter.Object{URI: obj, Digest: "sha256:" + obj + "-2"}, Status: keymeter.ObjectComplete,
		Events: int64(len(events))}); err != nil {
		t.Fatal(err)
	}
	if commit {
		if err := w.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return ret
}

// testReprocess: a reread with retract replaces an object's events,
// rejects and record in one transaction; the retracted events stay for
// questions as of before, and their IDs can be stored again.
func testReprocess(t *testing.T, s keymeter.Store) {
	b := billingStore(t, s)
	h := time.Hour
	importKeys(t, s, keymeter.KeyImport{Added: 1}, assign("k1", "acme", 0))
	w, err := s.NewWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, bt := range batches("obj1", ev{at: 1 * h, id: "a", key: "k1", sent: 1}, ev{at: 25 * h, id: "b", key: "k1", sent: 2}, ev{at: 26 * h, id: "c", key: "k1", sent: 4}) {
		if _, err := w.Write(ctx, bt); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Reject(ctx, []keymeter.Reject{{Source: keymeter.SourceCloudFront, Object: "obj1", Line: 4, Reason: "bad", Text: "x", At: day0}}); err != nil {
		t.Fatal(err)
	}
	if err := w.FinishObject(ctx, keymeter.ObjectRecord{Object: keymeter.Object{URI: "obj1", Digest: "sha256:obj1"}, Status: keymeter.ObjectComplete, Events: 3}); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	w.Close()
	write(t, s, "other", ev{at: 2 * h, id: "o", key: "k1", sent: 8})
	before, _ := b.LoadWatermark(ctx)
	time.Sleep(2 * time.Millisecond)
	egress := []keymeter.MeterSpec{{Name: "egress", Measure: keymeter.MeasureBytesSent}}
	byDay := keymeter.UsageQuery{By: []keymeter.Dimension{keymeter.DimDay, keymeter.DimCustomer}}

	// Rolled back, a reread changes nothing.
	rewrite(t, s, "obj1", false, ev{at: 1 * h, id: "a", key: "k1", sent: 100})
	expect(t, "after a rolled-back reread", usage(t, s, byDay), []string{"2025-10-01|acme: 2 9 0", "2025-10-02|acme: 2 6 0"})

	// a changes, b stays, c goes, d is new.
	ret := rewrite(t, s, "obj1", true, ev{at: 1 * h, id: "a", key: "k1", sent: 100}, ev{at: 25 * h, id: "b", key: "k1", sent: 2}, ev{at: 50 * h, id: "d", key: "k1", sent: 16})
	if ret.Events != 3 || !ret.From.Equal(day0.Add(h)) || !ret.To.Equal(day0.Add(26*h)) {
		t.Errorf("retraction %+v, want 3 events from 1h to 26h", ret)
	}
	want := []string{"2025-10-01|acme: 2 108 0", "2025-10-02|acme: 1 2 0", "2025-10-03|acme: 1 16 0"}
	expect(t, "usage after the reread", usage(t, s, byDay), want)
	micros := byDay
	micros.From, micros.To = day0.Add(-time.Microsecond), day0.AddDate(0, 1, 0)
	expect(t, "usage after the reread, scanned", usage(t, s, micros), want)
	expect(t, "totals now", totals(t, b, keymeter.MeterQuery{Meters: egress}), []string{"acme egress: 4 126"})
	expect(t, "totals as of before", totals(t, b, keymeter.MeterQuery{AsOf: before, Meters: egress}), []string{"acme egress: 4 15"})
	if rec, err := s.FindObject(ctx, keymeter.Object{Digest: "sha256:obj1"}); err != nil || rec != nil {
		t.Errorf("the replaced object record is still found: %+v, %v", rec, err)
	}
	if rec, err := s.FindObject(ctx, keymeter.Object{Digest: "sha256:obj1-2"}); err != nil || rec == nil || rec.Events != 3 {
		t.Errorf("the new object record: %+v, %v", rec, err)
	}
	if rj, err := s.Rejects(ctx, keymeter.RejectFilter{Object: "obj1"}); err != nil || len(rj) != 0 {
		t.Errorf("the replaced read's rejects are kept: %+v, %v", rj, err)
	}
	// c's ID is free again; a's is taken by its new version.
	if res := write(t, s, "obj2", ev{at: 26 * h, id: "c", key: "k1", sent: 4}, ev{at: 1 * h, id: "a", key: "k1", sent: 1}); res.Stored != 1 || res.Duplicates != 1 {
		t.Errorf("writing a retracted and a replaced event again: %+v, want 1 stored and 1 duplicate", res)
	}
	// The same again with the same writer across commits.
	ret = rewrite(t, s, "obj2", true, ev{at: 26 * h, id: "c", key: "k1", sent: 5})
	if ret.Events != 1 {
		t.Errorf("second retraction %+v, want 1 event", ret)
	}
	expect(t, "totals after the second reread", totals(t, b, keymeter.MeterQuery{Meters: egress}), []string{"acme egress: 5 131"})
}

// testPrepare: a prepared transaction answers meter totals with its own
// changes, and leaves the store as it was when closed.
func testPrepare(t *testing.T, s keymeter.Store) {
	b := billingStore(t, s)
	importKeys(t, s, keymeter.KeyImport{Added: 1}, assign("k1", "acme", 0))
	write(t, s, "obj1", ev{at: time.Hour, id: "a", key: "k1", sent: 1})
	w, err := s.NewWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	p, ok := w.(keymeter.Preparer)
	if !ok {
		t.Fatalf("%T does not implement keymeter.Preparer", w)
	}
	if _, err := w.(keymeter.Rereader).Reread(ctx, keymeter.Object{URI: "obj1"}, true); err != nil {
		t.Fatal(err)
	}
	for _, bt := range batches("obj1", ev{at: time.Hour, id: "a", key: "k1", sent: 10}) {
		if _, err := w.Write(ctx, bt); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	egress := []keymeter.MeterSpec{{Name: "egress", Measure: keymeter.MeasureBytesSent}}
	q := keymeter.MeterQuery{From: day0, To: day0.AddDate(0, 1, 0), Meters: egress}
	in, err := p.MeterTotals(ctx, q)
	if err != nil || len(in) != 1 || in[0].Quantity != keymeter.NewInt128(10) {
		t.Errorf("totals in the prepared transaction: %+v, %v; want 10 bytes", in, err)
	}
	// A meter of the edge join, beside one of the logs.
	q.Meters = append(egress, edgeBytes...)
	in, err = p.MeterTotals(ctx, q)
	if err != nil || len(in) != 2 || in[0].Quantity != keymeter.NewInt128(10) || in[1].Quantity != keymeter.NewInt128(10) {
		t.Errorf("totals of the edge join in the prepared transaction: %+v, %v; want 10 bytes twice", in, err)
	}
	expect(t, "totals outside it", totals(t, b, keymeter.MeterQuery{Meters: egress}), []string{"acme egress: 1 1"})
	if _, err := w.Write(ctx, batches("obj1", ev{at: time.Hour, id: "z"})[0]); err == nil {
		t.Error("a write after Prepare was accepted")
	}
	w.Close()
	expect(t, "totals after closing it", totals(t, b, keymeter.MeterQuery{Meters: egress}), []string{"acme egress: 1 1"})
}

// testRereadRejects: reading an object again replaces the rejects of
// earlier reads that were not recorded as ingested, and keeps those of
// recorded ones.
func testRereadRejects(t *testing.T, s keymeter.Store) {
	reject := func(obj string, line int64, record bool) {
		t.Helper()
		w, err := s.NewWriter(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		if _, err := w.(keymeter.Rereader).Reread(ctx, keymeter.Object{URI: obj}, false); err != nil {
			t.Fatal(err)
		}
		if err := w.Reject(ctx, []keymeter.Reject{{Source: keymeter.SourceCloudFront, Object: obj, Line: line, Reason: "bad", Text: "x", At: day0}}); err != nil {
			t.Fatal(err)
		}
		if record {
			if err := w.FinishObject(ctx, keymeter.ObjectRecord{Object: keymeter.Object{URI: obj, Digest: fmt.Sprint("sha256:", obj, line)}, Status: keymeter.ObjectComplete}); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	lines := func(obj string) []string {
		rj, err := s.Rejects(ctx, keymeter.RejectFilter{Object: obj})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rj {
			out = append(out, fmt.Sprint(r.Line))
		}
		return out
	}
	reject("unrecorded", 1, false)
	reject("unrecorded", 2, false)
	expect(t, "rejects of an object read twice, never recorded", lines("unrecorded"), []string{"2"})
	reject("recorded", 1, true)
	reject("recorded", 2, true)
	expect(t, "rejects of an object recorded", lines("recorded"), []string{"1", "2"})
}
