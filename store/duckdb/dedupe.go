package duckdb

import (
	"container/list"

	"github.com/keymeter/keymeter"
)

// hourKey names one hour of one source's events.
type hourKey struct {
	source keymeter.Source
	hour   int64 // Unix hours
}

const microsPerHour = 3_600_000_000

func hourOf(src keymeter.Source, us int64) hourKey {
	h := us / microsPerHour
	if us < 0 && us%microsPerHour != 0 {
		h--
	}
	return hourKey{src, h}
}

// committedSet holds the committed event IDs of one hour.
type committedSet struct {
	key hourKey
	ids *idSet
	lru *list.Element
}

// seenIDs tells whether an event ID is already stored. A duplicate record
// carries the same timestamp as its original, so an event only needs
// checking against the IDs of its own hour.
//
// IDs written in the open transaction are held in one pending set until it
// commits. Committed IDs are loaded from the database an hour at a time,
// only for hours that have events, and evicted least recently used first:
// memory stays below budget + pending IDs however large the store grows.
type seenIDs struct {
	budget  int
	held    int
	sets    map[hourKey]*committedSet
	order   *list.List // front: most recently used
	counts  map[hourKey]int64
	pending *idSet            // IDs written in the open transaction
	added   map[hourKey]int64 // pending IDs per hour
	load    func(hourKey) (*idSet, error)
	loads   int // loads from the database, for tests
}

func newSeenIDs(budget int, counts map[hourKey]int64, load func(hourKey) (*idSet, error)) *seenIDs {
	return &seenIDs{
		budget: budget, sets: map[hourKey]*committedSet{}, order: list.New(),
		counts: counts, pending: newIDSet(1 << 16), added: map[hourKey]int64{}, load: load,
	}
}

// committed returns the committed IDs of hour k, or nil when the hour has
// no committed events.
func (s *seenIDs) committed(k hourKey) (*idSet, error) {
	if s.counts[k] == 0 {
		return nil, nil
	}
	if st := s.sets[k]; st != nil {
		s.order.MoveToFront(st.lru)
		return st.ids, nil
	}
	ids, err := s.load(k)
	if err != nil {
		return nil, err
	}
	s.loads++
	st := &committedSet{key: k, ids: ids}
	st.lru = s.order.PushFront(st)
	s.sets[k] = st
	s.held += ids.len()
	s.evict(st)
	return ids, nil
}

// add records id, of an event in hour k, as written in the open
// transaction, and reports false when it was already.
func (s *seenIDs) add(k hourKey, id [2]uint64) bool {
	if !s.pending.add(id) {
		return false
	}
	s.added[k]++
	return true
}

// evict drops least recently used sets other than keep until the budget
// is met.
func (s *seenIDs) evict(keep *committedSet) {
	for s.held > s.budget {
		e := s.order.Back()
		st := e.Value.(*committedSet)
		if st == keep {
			return
		}
		s.order.Remove(e)
		delete(s.sets, st.key)
		s.held -= st.ids.len()
	}
}

// commit counts the pending IDs as committed. The loaded sets of the
// hours they belong to are dropped, to be loaded again when needed.
func (s *seenIDs) commit() {
	for k, n := range s.added {
		s.counts[k] += n
		if st := s.sets[k]; st != nil {
			s.order.Remove(st.lru)
			delete(s.sets, k)
			s.held -= st.ids.len()
		}
	}
	s.rollback()
}

// forget takes n retracted events off the committed count of hour k,
// and drops its loaded IDs, to be loaded again without them.
func (s *seenIDs) forget(k hourKey, n int64) {
	s.counts[k] -= n
	if st := s.sets[k]; st != nil {
		s.order.Remove(st.lru)
		delete(s.sets, k)
		s.held -= st.ids.len()
	}
}

// rollback forgets the pending IDs.
func (s *seenIDs) rollback() {
	clear(s.added)
	s.pending.clear()
}
