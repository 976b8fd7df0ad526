package storetest

import (
	"testing"
	"time"

	"github.com/keymeter/keymeter"
)

// dedupeTests check that whether an event is a duplicate does not depend
// on batching.
var dedupeTests = []struct {
	name string
	fn   func(t *testing.T, s keymeter.Store)
}{
	{"DedupeAcrossHours", testDedupeAcrossHours},
	{"DedupeRetracted", testDedupeRetracted},
}

// testDedupeAcrossHours writes copies of requests with their times
// shifted, at both sides of the dedupe window (keymeter.DefaultDedupeWindow,
// in UTC hours), once in the transaction of their original and once in
// a later writer: each copy counts the same either way, once when its
// hour is at most the window from its original's, twice beyond.
func testDedupeAcrossHours(t *testing.T, s keymeter.Store) {
	w := keymeter.DefaultDedupeWindow
	at := 10*time.Hour + 30*time.Minute
	originals := []ev{{at: at, id: "near", sent: 1}, {at: at, id: "edge", sent: 2}, {at: at, id: "far", sent: 4}, {at: at, id: "before", sent: 8}}
	copies := []ev{
		{at: at + 3*time.Hour, id: "near", sent: 16},        // a few hours later: a copy
		{at: at + w + 29*time.Minute, id: "edge", sent: 32}, // w hours later, by the hour: a copy
		{at: at + w + time.Hour, id: "far", sent: 64},       // w+1 hours later: another request
		{at: at - w - time.Hour, id: "before", sent: 128},   // w+1 hours earlier: another request
	}
	want := int64(1 + 2 + 4 + 8 + 64 + 128)

	// One transaction.
	if res := write(t, s, "/one.gz", append(append([]ev(nil), originals...), copies...)...); res.Stored != 6 || res.Duplicates != 2 {
		t.Errorf("one transaction: %+v, want 6 stored and 2 duplicates", res)
	}
	// Two writers, the copies in another source's ID space so that they
	// do not meet the first ones.
	for i := range originals {
		originals[i].source, copies[i].source = keymeter.SourceAPIGateway, keymeter.SourceAPIGateway
	}
	if res := write(t, s, "/two-a.gz", originals...); res.Stored != 4 {
		t.Errorf("two runs, originals: %+v", res)
	}
	if res := write(t, s, "/two-b.gz", copies...); res.Stored != 2 || res.Duplicates != 2 {
		t.Errorf("two runs, copies: %+v, want 2 stored and 2 duplicates", res)
	}
	for _, src := range []keymeter.Source{keymeter.SourceCloudFront, keymeter.SourceAPIGateway} {
		rows, err := s.Usage(ctx, keymeter.UsageQuery{From: day0.AddDate(0, 0, -3), To: day0.AddDate(0, 0, 3), Source: src})
		if err != nil || len(rows) != 1 || rows[0].BytesSent != keymeter.NewInt128(want) || rows[0].Requests != keymeter.NewInt128(6) {
			t.Errorf("%s: usage %+v, %v; want 6 requests and %d bytes", src, rows, err, want)
		}
	}
	// The same copies once more, in a later writer: nothing new.
	if res := write(t, s, "/again.gz", copies...); res.Stored != 0 || res.Duplicates != 4 {
		t.Errorf("copies again: %+v", res)
	}
}

// testDedupeRetracted replaces an object's events (keymeter.Rereader with
// retract) in a writer that already holds their hour, with copies of
// them shifted by hours within the dedupe window: the retracted events
// are duplicates of nothing, in the transaction that retracts them and,
// in the same writer and in a new one, after it commits; the events that
// replace them are duplicates of their copies as any others.
func testDedupeRetracted(t *testing.T, s keymeter.Store) {
	h := time.Hour
	write(t, s, "/old.gz", ev{at: 10 * h, id: "a", sent: 1}, ev{at: 10 * h, id: "b", sent: 2})
	w, err := s.NewWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	rr, ok := w.(keymeter.Rereader)
	if !ok {
		t.Skip("the store's writer cannot retract events")
	}
	step := func(what string, obj string, stored, dups int, events ...ev) {
		t.Helper()
		var got keymeter.WriteResult
		for _, b := range batches(obj, events...) {
			res, err := w.Write(ctx, b)
			if err != nil {
				t.Fatal(err)
			}
			got.Stored += res.Stored
			got.Duplicates += res.Duplicates
		}
		if got.Stored != stored || got.Duplicates != dups {
			t.Errorf("%s: %d stored, %d duplicates; want %d and %d", what, got.Stored, got.Duplicates, stored, dups)
		}
	}
	commit := func() {
		t.Helper()
		if err := w.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// The hours around 10:00 are held before the retraction.
	step("an event near the old ones", "/z.gz", 1, 0, ev{at: 11 * h, id: "z", sent: 4})
	ret, err := rr.Reread(ctx, keymeter.Object{URI: "/old.gz", Digest: "sha256:old-2"}, true)
	if err != nil || ret.Events != 2 {
		t.Fatalf("reread: %+v, %v; want 2 events retracted", ret, err)
	}
	step("the new read, shifted", "/old.gz", 2, 1,
		ev{at: 13 * h, id: "a", sent: 8}, ev{at: 12 * h, id: "b", sent: 16}, ev{at: 14 * h, id: "a", sent: 32})
	commit()
	step("copies after the commit, same writer", "/late.gz", 1, 2,
		ev{at: 10 * h, id: "a", sent: 64}, ev{at: 30 * h, id: "b", sent: 64}, ev{at: 10 * h, id: "c", sent: 128})
	commit()
	w.Close()
	if res := write(t, s, "/later.gz", ev{at: 20 * h, id: "a", sent: 256}, ev{at: 10 * h, id: "b", sent: 256}); res.Stored != 0 || res.Duplicates != 2 {
		t.Errorf("copies in a new writer: %+v, want 2 duplicates", res)
	}
	rows, err := s.Usage(ctx, keymeter.UsageQuery{From: day0, To: day0.AddDate(0, 0, 2)})
	if err != nil || len(rows) != 1 || rows[0].Requests != keymeter.NewInt128(4) || rows[0].BytesSent != keymeter.NewInt128(4+8+16+128) {
		t.Errorf("usage %+v, %v; want 4 requests and %d bytes", rows, err, 4+8+16+128)
	}
}
