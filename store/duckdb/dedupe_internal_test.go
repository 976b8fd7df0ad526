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

// TestIDSetRemove takes IDs out of long probe runs (a tiny table, IDs
// that collide on their slot) and checks that every other ID and hour is
// still found, and the removed ones are not.
func TestIDSetRemove(t *testing.T) {
	s := newIDSet(4)
	const n = 700 // in 1024 slots: long runs, wrapping around the end
	id := func(i int) [2]uint64 { return [2]uint64{uint64(i % 97), uint64(i) << 32} }
	for i := range n {
		s.put(id(i), int32(i%5))
	}
	for i := 0; i < n; i += 3 {
		if !s.remove(id(i), int32(i%5)) {
			t.Fatalf("%d: not removed", i)
		}
		if s.remove(id(i), int32(i%5)) {
			t.Fatalf("%d: removed twice", i)
		}
	}
	for i := range n {
		if got, want := s.has(id(i), int32(i%5)), i%3 != 0; got != want {
			t.Fatalf("%d: has %v, want %v", i, got, want)
		}
		if s.has(id(i), int32(i%5)+1) {
			t.Fatalf("%d: held for another hour", i)
		}
	}
	if want := n - (n+2)/3; s.len() != want {
		t.Fatalf("len %d, want %d", s.len(), want)
	}
}

// TestSeenIDsRetract retracts committed IDs of an hour that is held and
// of one that is not yet: neither counts as a duplicate in the open
// transaction, an ID retracted twice is taken off once, and a rollback
// brings them back.
func TestSeenIDsRetract(t *testing.T) {
	cf := keymeter.SourceCloudFront
	stored := map[int64][][2]uint64{10: {{1, 1}, {2, 2}}, 40: {{3, 3}}}
	counts := map[hourKey]int64{{cf, 10}: 2, {cf, 40}: 1}
	load := func(src keymeter.Source, from, to int64, add func([2]uint64, int64)) error {
		for h := from; h < to; h++ {
			for _, id := range stored[h] {
				add(id, h)
			}
		}
		return nil
	}
	s := newSeenIDs(1<<10, 2, counts, load)
	if err := s.prepare(hourKey{cf, 11}); err != nil { // holds hour 10
		t.Fatal(err)
	}
	s.retract(cf, [2]uint64{1, 1}, 10) // held
	s.retract(cf, [2]uint64{1, 1}, 10)
	s.retract(cf, [2]uint64{3, 3}, 40) // not held yet
	if !s.add([2]uint64{1, 1}) || s.add([2]uint64{2, 2}) {
		t.Fatal("hour 11: a retracted ID taken for a copy, or a kept one not")
	}
	if err := s.prepare(hourKey{cf, 40}); err != nil {
		t.Fatal(err)
	}
	if !s.add([2]uint64{3, 3}) {
		t.Fatal("hour 40: a retracted ID loaded with its hour")
	}
	s.rollback()
	if err := s.prepare(hourKey{cf, 10}); err != nil {
		t.Fatal(err)
	}
	if s.add([2]uint64{1, 1}) {
		t.Fatal("after the rollback, the retracted ID is free")
	}
}
