package duckdb

import "math/rand/v2"

// idSet is a set of 128-bit event IDs: an open-addressing hash table with
// linear probing, 16 bytes a slot, that keeps its memory when cleared so
// that a writer reuses it from one transaction to the next without
// garbage. IDs are hashes already; they are mixed with a per-process seed
// so that crafted request IDs cannot make probing slow.
type idSet struct {
	slots   [][2]uint64
	n       int
	mask    uint64
	seed    uint64
	hasZero bool // the all-zero ID, which marks empty slots
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
	return ((id[0] ^ id[1] ^ s.seed) * 0x9e3779b97f4a7c15 >> 17) & s.mask
}

// has reports whether id is in s.
func (s *idSet) has(id [2]uint64) bool {
	if id == [2]uint64{} {
		return s.hasZero
	}
	for i := s.slot(id); ; i = (i + 1) & s.mask {
		switch s.slots[i] {
		case id:
			return true
		case [2]uint64{}:
			return false
		}
	}
}

// add adds id and reports whether it was not in s before.
func (s *idSet) add(id [2]uint64) bool {
	if id == [2]uint64{} {
		added := !s.hasZero
		s.hasZero = true
		return added
	}
	if (s.n+1)*4 > len(s.slots)*3 {
		s.grow()
	}
	for i := s.slot(id); ; i = (i + 1) & s.mask {
		switch s.slots[i] {
		case id:
			return false
		case [2]uint64{}:
			s.slots[i] = id
			s.n++
			return true
		}
	}
}

func (s *idSet) grow() {
	old := s.slots
	s.alloc(2 * len(old))
	for _, id := range old {
		if id != [2]uint64{} {
			s.add(id)
		}
	}
}

// len returns the number of IDs in s.
func (s *idSet) len() int {
	if s.hasZero {
		return s.n + 1
	}
	return s.n
}

// clear empties s, keeping its memory.
func (s *idSet) clear() {
	clear(s.slots)
	s.n = 0
	s.hasZero = false
}
