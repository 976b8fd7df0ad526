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
