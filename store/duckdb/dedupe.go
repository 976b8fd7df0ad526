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

func hourOf(src keymeter.Source, us int64) hourKey {
	h := us / 3_600_000_000
	if us < 0 && us%3_600_000_000 != 0 {
		h--
	}
	return hourKey{src, h}
}

// idSet holds the IDs of the events of one hour.
type idSet struct {
	key hourKey
	ids map[[2]uint64]struct{}
	lru *list.Element
}

// seenIDs remembers the event IDs of recently used hours, so that a
// duplicate is recognised without asking the database. Duplicate records
// carry the same timestamp, so an event only needs checking against the
// IDs of its own hour. The sets are loaded lazily, from the database for
// hours that had events before, and evicted least recently used first, so
// memory stays below a fixed budget however large the store grows.
type seenIDs struct {
	budget  int // most IDs held in memory
	held    int
	sets    map[hourKey]*idSet
	order   *list.List // front: most recently used
	counts  map[hourKey]int64
	load    func(hourKey) (map[[2]uint64]struct{}, error)
	loading int // number of loads from the database, for tests
}

func newSeenIDs(budget int, counts map[hourKey]int64, load func(hourKey) (map[[2]uint64]struct{}, error)) *seenIDs {
	return &seenIDs{budget: budget, sets: map[hourKey]*idSet{}, order: list.New(), counts: counts, load: load}
}

// set returns the ID set of an hour, loading it if needed.
func (s *seenIDs) set(k hourKey) (*idSet, error) {
	if st := s.sets[k]; st != nil {
		s.order.MoveToFront(st.lru)
		return st, nil
	}
	var ids map[[2]uint64]struct{}
	if s.counts[k] > 0 {
		var err error
		if ids, err = s.load(k); err != nil {
			return nil, err
		}
		s.loading++
	} else {
		ids = make(map[[2]uint64]struct{})
	}
	st := &idSet{key: k, ids: ids}
	st.lru = s.order.PushFront(st)
	s.sets[k] = st
	s.held += len(ids)
	s.evict(st)
	return st, nil
}

// add records an ID as stored; it reports false when it already was.
func (s *seenIDs) add(st *idSet, id [2]uint64) bool {
	if _, dup := st.ids[id]; dup {
		return false
	}
	st.ids[id] = struct{}{}
	s.counts[st.key]++
	s.held++
	return true
}

// evict drops least recently used sets, except keep, until the budget is
// met.
func (s *seenIDs) evict(keep *idSet) {
	for s.held > s.budget {
		e := s.order.Back()
		st := e.Value.(*idSet)
		if st == keep {
			return
		}
		s.order.Remove(e)
		delete(s.sets, st.key)
		s.held -= len(st.ids)
	}
}

// forget drops every set: after a rollback, the sets may hold IDs that
// were never stored.
func (s *seenIDs) forget(counts map[hourKey]int64) {
	s.sets = map[hourKey]*idSet{}
	s.order.Init()
	s.held = 0
	s.counts = counts
}
