package duckdb

import "math/rand/v2"

// idSet is a multiset of 128-bit event IDs, each with the UTC hour of its
// event: an open-addressing hash table with linear probing, 16 bytes a
// slot, that keeps its memory when cleared, so that a writer reuses it
// from one transaction to the next without garbage. An ID may be held
// for several hours: copies of a request far apart in time are distinct
// events (see seenIDs).
//
// A slot keeps the first 96 bits of the ID and, in the last 32, the hour
// (with its sign bit flipped, so that no slot is all zeros, which marks
// an empty one): IDs are told apart by 96 bits in memory, so that two
// requests are taken for one with a probability below 10^-15 for a
// trillion events, as against 2^-128 for the IDs stored. IDs are hashes
// already; they are mixed with a per-process seed so that crafted
// request IDs cannot make probing slow.
type idSet struct {
	slots [][2]uint64
	n     int
	mask  uint64
	seed  uint64
}

func newIDSet(capacity int) *idSet {
	s := &idSet{seed: rand.Uint64() | 1}
	s.alloc(capacity)
	return s
}

// alloc gives s room for at least n IDs, at most 3/4 full.
func (s *idSet) alloc(n int) {
	size := 1 << 10
	for size*3/4 < n {
		size <<= 1
	}
	s.slots = make([][2]uint64, size)
	s.mask = uint64(size - 1)
	s.n = 0
}

func (s *idSet) slot(id [2]uint64) uint64 {
	return ((id[0] ^ id[1]>>32 ^ s.seed) * 0x9e3779b97f4a7c15 >> 17) & s.mask
}

const hourBias = 1 << 31

// pack returns the slot of id at hour.
func pack(id [2]uint64, hour int32) [2]uint64 {
	return [2]uint64{id[0], id[1]&^0xffffffff | uint64(uint32(hour)^hourBias)}
}

// slotHour returns the hour of a slot.
func slotHour(v [2]uint64) int32 { return int32(uint32(v[1]) ^ hourBias) }

// addUnlessNear adds id for hour unless s holds it for an hour in
// [lo, hi], and reports whether it added it.
func (s *idSet) addUnlessNear(id [2]uint64, hour, lo, hi int32) bool {
	if (s.n+1)*4 > len(s.slots)*3 {
		s.grow()
	}
	hi32 := id[1] >> 32
	for i := s.slot(id); ; i = (i + 1) & s.mask {
		v := s.slots[i]
		switch {
		case v[0] == id[0] && v[1]>>32 == hi32 && v != [2]uint64{}:
			if h := slotHour(v); lo <= h && h <= hi {
				return false
			}
		case v == [2]uint64{}:
			s.slots[i] = pack(id, hour)
			s.n++
			return true
		}
	}
}

// has reports whether s holds id for hour.
func (s *idSet) has(id [2]uint64, hour int32) bool {
	want := pack(id, hour)
	for i := s.slot(id); ; i = (i + 1) & s.mask {
		switch s.slots[i] {
		case want:
			return true
		case [2]uint64{}:
			return false
		}
	}
}

// remove takes id for hour out of s, and reports whether s held it. The
// slots of the probe run after it move back where their probe would find
// them (backward-shift deletion), so that no probe stops short.
func (s *idSet) remove(id [2]uint64, hour int32) bool {
	want := pack(id, hour)
	i := s.slot(id)
	for s.slots[i] != want {
		if s.slots[i] == ([2]uint64{}) {
			return false
		}
		i = (i + 1) & s.mask
	}
	for j := (i + 1) & s.mask; s.slots[j] != ([2]uint64{}); j = (j + 1) & s.mask {
		// The slot at j moves to i when i is on its probe sequence, between
		// its home slot and j.
		if (j-s.slot(s.slots[j]))&s.mask >= (j-i)&s.mask {
			s.slots[i] = s.slots[j]
			i = j
		}
	}
	s.slots[i] = [2]uint64{}
	s.n--
	return true
}

// put adds id for hour; the caller knows s does not hold the pair.
func (s *idSet) put(id [2]uint64, hour int32) {
	s.addUnlessNear(id, hour, 1, 0)
}

func (s *idSet) grow() {
	old := s.slots
	s.alloc(2 * len(old))
	for _, v := range old {
		if v != [2]uint64{} {
			s.slots[s.free(v)] = v
			s.n++
		}
	}
}

// free returns the first empty slot of v's probe sequence.
func (s *idSet) free(v [2]uint64) uint64 {
	i := s.slot(v)
	for s.slots[i] != [2]uint64{} {
		i = (i + 1) & s.mask
	}
	return i
}

// retain keeps the IDs whose hour keep accepts, in place, using scratch
// for the survivors, and returns scratch for reuse.
func (s *idSet) retain(keep func(hour int32) bool, scratch [][2]uint64) [][2]uint64 {
	scratch = scratch[:0]
	for _, v := range s.slots {
		if v != [2]uint64{} && keep(slotHour(v)) {
			scratch = append(scratch, v)
		}
	}
	s.clear()
	for _, v := range scratch {
		s.slots[s.free(v)] = v
	}
	s.n = len(scratch)
	return scratch
}

// len returns the number of IDs in s.
func (s *idSet) len() int {
	return s.n
}

// clear empties s, keeping its memory.
func (s *idSet) clear() {
	clear(s.slots)
	s.n = 0
}
