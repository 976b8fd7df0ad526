package duckdb

import (
	"testing"

	"github.com/keymeter/keymeter"
)

// BenchmarkSeenIDs checks 1 Mi new events of 200 hours, in order, for
// duplicates, committing every 256 Ki, as a writer does in an ingest
// into an empty store; a load from the database finds nothing.
func BenchmarkSeenIDs(b *testing.B) {
	b.ReportAllocs()
	const n = 1 << 20
	for b.Loop() {
		counts := map[hourKey]int64{}
		s := newSeenIDs(DefaultSeenBudget, windowHours(keymeter.DefaultDedupeWindow), counts,
			func(keymeter.Source, int64, int64, func([2]uint64, int64)) error { return nil })
		cur := hourKey{hour: -1}
		for i := range n {
			k := hourKey{keymeter.SourceCloudFront, int64(i / 5000)}
			if k != cur {
				if err := s.prepare(k); err != nil {
					b.Fatal(err)
				}
				cur = k
			}
			if !s.add([2]uint64{uint64(i)*0x9e3779b97f4a7c15 | 1, 7}) {
				b.Fatal("a new ID taken for a duplicate")
			}
			if i%(1<<18) == 0 {
				s.commit()
			}
		}
	}
}

// TestIDSetHours holds one ID for several hours and tells them apart,
// through growth and eviction.
func TestIDSetHours(t *testing.T) {
	s := newIDSet(4)
	id := [2]uint64{42, 1<<40 | 5}
	for _, h := range []int32{10, 20, -30, 1 << 30} {
		if !s.addUnlessNear(id, h, h-2, h+2) {
			t.Fatalf("hour %d: taken for a copy", h)
		}
	}
	if s.addUnlessNear(id, 12, 10, 14) || s.addUnlessNear(id, -31, -33, -29) || !s.addUnlessNear(id, 15, 13, 17) {
		t.Fatal("copies within and beyond the window")
	}
	zero := [2]uint64{}
	if !s.addUnlessNear(zero, 0, 0, 0) || s.addUnlessNear(zero, 0, 0, 0) {
		t.Fatal("the zero ID")
	}
	for i := range 5000 {
		s.put([2]uint64{uint64(i) + 100, 3}, int32(i%7))
	}
	s.retain(func(h int32) bool { return h != 20 && h != 3 }, nil)
	if !s.addUnlessNear(id, 20, 20, 20) || s.addUnlessNear(id, 10, 10, 10) || s.addUnlessNear(zero, 0, 0, 0) {
		t.Fatal("after retain")
	}
	if s.addUnlessNear([2]uint64{103, 3}, 3, 3, 3) == false || s.addUnlessNear([2]uint64{101, 3}, 1, 1, 1) {
		t.Fatal("after retain, the other IDs")
	}
}
