package duckdb

import (
	"container/list"
	"time"

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

// windowHours returns a dedupe window in whole hours, rounded up.
func windowHours(w time.Duration) int64 {
	return int64((max(w, 0) + time.Hour - 1) / time.Hour)
}

// seenIDs tells whether an event is a copy of one already stored or
// written in the open transaction. Two events of a source with the same
// ID are one request when their UTC hours are at most window hours apart
// (keymeter.DefaultDedupeWindow): a redelivered record carries the time
// of its original, and the window also catches a copy whose time was
// shifted, whether it arrives in the same run as its original or in
// another, in the same hour's files or not. Copies further apart are
// distinct requests, in one run as in two.
//
// One idSet per source holds, with their hours, the IDs written in the
// open transaction and the committed IDs of the hours loaded from the
// database, so that a check is one probe. Before rows of hour h are
// checked (prepare), every hour of [h-window, h+window] that has
// committed events (event_hours) is loaded. Hours are evicted least
// recently used first once their committed IDs exceed budget, down to
// half of it, but never those of the current window nor those with IDs
// of the open transaction: memory holds the IDs of the open transaction
// and about budget committed ones (or one window's, when they are more),
// however large the store grows. An evicted hour is simply loaded again
// when needed.
//
// Events retracted in the open transaction (keymeter.Rereader, ingest
// --reprocess) are not duplicates of anything, in that transaction nor
// after it: retract takes their IDs out of the hours held and keeps them
// in gone, which a load of their hour (from the database as last
// committed, where they still are) skips. Once the transaction commits
// they are gone from the database too, and forget takes them off the
// hours' counts.
type seenIDs struct {
	window int64 // hours
	budget int
	sets   [4]*idSet // by source
	counts map[hourKey]int64
	hours  map[hourKey]*hourState // the hours held, loaded or with IDs of the open transaction
	order  *list.List             // of the hours held; front: most recently used
	total  int                    // IDs held
	// pending counts the IDs of the open transaction; evictAt, the
	// committed IDs held that start an eviction.
	pending, evictAt int
	// ready are the hours whose window is held, since the last eviction.
	ready   map[hourKey]bool
	cur     hourKey // the hour prepared last: its window is never evicted
	curSt   *hourState
	load    func(src keymeter.Source, from, to int64, add func(id [2]uint64, hour int64)) error
	scratch [][2]uint64
	loads   int // loads from the database, for tests
	// gone holds, by source, the IDs of the events retracted in the open
	// transaction, with their hours.
	gone [4]*idSet
}

// hourState is what seenIDs holds of one hour: all its committed IDs
// (and those of the open transaction, added).
type hourState struct {
	elem  *list.Element
	held  int64
	added int64
}

func newSeenIDs(budget int, window int64, counts map[hourKey]int64,
	load func(src keymeter.Source, from, to int64, add func([2]uint64, int64)) error) *seenIDs {
	return &seenIDs{
		window: window, budget: budget, evictAt: budget, counts: counts, hours: map[hourKey]*hourState{}, order: list.New(),
		ready: map[hourKey]bool{}, load: load, cur: hourKey{hour: -1 << 62},
	}
}

func (s *seenIDs) set(src keymeter.Source) *idSet {
	if s.sets[src] == nil {
		s.sets[src] = newIDSet(1 << 16)
	}
	return s.sets[src]
}

// hold returns the state of hour k, held from now on.
func (s *seenIDs) hold(k hourKey) *hourState {
	st := s.hours[k]
	if st == nil {
		st = &hourState{elem: s.order.PushFront(k)}
		s.hours[k] = st
	}
	return st
}

// prepare makes sure the committed IDs of every hour within the window
// of hour k are held. It is called before rows of hour k are added.
func (s *seenIDs) prepare(k hourKey) (err error) {
	s.cur = k
	defer func() {
		if err == nil {
			s.curSt = s.hold(k)
		}
	}()
	if s.ready[k] {
		return nil
	}
	for h := k.hour - s.window; h <= k.hour+s.window; h++ {
		hk := hourKey{k.source, h}
		if st := s.hours[hk]; st != nil {
			s.order.MoveToFront(st.elem)
			continue
		}
		if s.counts[hk] == 0 {
			continue
		}
		// Load the run of hours from h on that are not held, in one query.
		end := h + 1
		for end <= k.hour+s.window && s.hours[hourKey{k.source, end}] == nil && s.counts[hourKey{k.source, end}] > 0 {
			end++
		}
		for i := h; i < end; i++ {
			s.hold(hourKey{k.source, i})
		}
		set := s.set(k.source)
		err := s.load(k.source, h, end, func(id [2]uint64, hour int64) {
			if s.retracted(k.source, id, hour) {
				return
			}
			set.put(id, int32(hour))
			if st := s.hours[hourKey{k.source, hour}]; st != nil {
				st.held++
			}
			s.total++
		})
		if err != nil {
			s.reset() // what was loaded of the run is not known: start afresh
			return err
		}
		s.loads++
		h = end - 1
	}
	s.ready[k] = true
	if s.total-s.pending > s.evictAt {
		s.evict()
	}
	return nil
}

// add records id, of an event in the hour prepared last, as written in
// the open transaction, and reports false when it is a copy of an event
// written or stored before.
func (s *seenIDs) add(id [2]uint64) bool {
	h := int32(s.cur.hour)
	if !s.set(s.cur.source).addUnlessNear(id, h, h-int32(s.window), h+int32(s.window)) {
		return false
	}
	s.curSt.added++
	s.curSt.held++
	s.total++
	s.pending++
	return true
}

// eachAdded calls fn with the number of IDs of the open transaction of each
// hour that has any.
func (s *seenIDs) eachAdded(fn func(k hourKey, n int64)) {
	for k, st := range s.hours {
		if st.added > 0 {
			fn(k, st.added)
		}
	}
}

// evict drops least recently used hours, but those of the current window
// and those with IDs of the open transaction, until the committed IDs
// held are down to half the budget or nothing more can go; the next
// eviction waits until half the budget more is held.
func (s *seenIDs) evict() {
	var drop [len(s.sets)][]int32
	n := s.total
	for e := s.order.Back(); e != nil && n-s.pending > s.budget/2; {
		prev := e.Prev()
		k := e.Value.(hourKey)
		st := s.hours[k]
		if st.added == 0 && (k.source != s.cur.source || k.hour < s.cur.hour-s.window || k.hour > s.cur.hour+s.window) {
			drop[k.source] = append(drop[k.source], int32(k.hour))
			n -= int(st.held)
			s.order.Remove(e)
			delete(s.hours, k)
		}
		e = prev
	}
	s.evictAt = max(s.budget, n-s.pending+s.budget/2)
	dropped := false
	for src, hours := range drop {
		if len(hours) > 0 && s.sets[src] != nil {
			s.scratch = s.sets[src].retain(newHourSet(hours).lacks, s.scratch)
			dropped = true
		}
	}
	if !dropped {
		return
	}
	s.total = n
	clear(s.ready)
	s.ready[s.cur] = true
}

// hourSet is a set of hours, for the test of every ID held when hours
// are evicted: a bitmap over their range, or a map when it is too wide.
type hourSet struct {
	lo   int32
	bits []uint64
	m    map[int32]bool
}

func newHourSet(hours []int32) *hourSet {
	lo, hi := hours[0], hours[0]
	for _, h := range hours {
		lo, hi = min(lo, h), max(hi, h)
	}
	s := &hourSet{lo: lo}
	if int64(hi)-int64(lo) >= 1<<24 {
		s.m = make(map[int32]bool, len(hours))
		for _, h := range hours {
			s.m[h] = true
		}
		return s
	}
	s.bits = make([]uint64, (int(hi-lo)>>6)+1)
	for _, h := range hours {
		s.bits[(h-lo)>>6] |= 1 << ((h - lo) & 63)
	}
	return s
}

// lacks reports whether h is not in s.
func (s *hourSet) lacks(h int32) bool {
	if s.m != nil {
		return !s.m[h]
	}
	i := int64(h) - int64(s.lo)
	return i < 0 || i>>6 >= int64(len(s.bits)) || s.bits[i>>6]&(1<<(i&63)) == 0
}

// commit counts the IDs of the open transaction as committed: their
// hours stay held, with everything committed of them.
func (s *seenIDs) commit() {
	for k, st := range s.hours {
		if st.added > 0 {
			s.counts[k] += st.added
			st.added = 0
		}
	}
	s.pending = 0
	s.evictAt = s.budget
	s.clearGone()
	if s.total > s.budget {
		s.evict()
	}
}

// retract says that the event of the given ID and hour (Unix hours) is
// retracted in the open transaction: it stops counting as a duplicate
// from now on.
func (s *seenIDs) retract(src keymeter.Source, id [2]uint64, hour int64) {
	if s.gone[src] == nil {
		s.gone[src] = newIDSet(1 << 10)
	}
	h := int32(hour)
	if !s.gone[src].addUnlessNear(id, h, h, h) {
		return // retracted already
	}
	st := s.hours[hourKey{src, hour}]
	if st == nil || s.sets[src] == nil {
		return // not held: a load of its hour skips it
	}
	for s.sets[src].remove(id, h) {
		st.held--
		s.total--
	}
}

// retracted reports whether the event of id at hour was retracted in the
// open transaction.
func (s *seenIDs) retracted(src keymeter.Source, id [2]uint64, hour int64) bool {
	g := s.gone[src]
	return g != nil && g.len() > 0 && g.has(id, int32(hour))
}

// forget takes n events retracted by the committed transaction off the
// count of hour k. Their IDs are no longer held (retract), and no longer
// in the database.
func (s *seenIDs) forget(k hourKey, n int64) {
	s.counts[k] -= n
}

// clearGone forgets the retractions of the transaction that ended.
func (s *seenIDs) clearGone() {
	for _, g := range s.gone {
		if g != nil {
			g.clear()
		}
	}
}

// rollback forgets the IDs of the open transaction, and with them
// everything held: what was committed is loaded again when needed.
func (s *seenIDs) rollback() {
	s.reset()
	s.clearGone()
}

// reset forgets everything held.
func (s *seenIDs) reset() {
	for _, set := range s.sets {
		if set != nil {
			set.clear()
		}
	}
	clear(s.hours)
	clear(s.ready)
	s.order.Init()
	s.total, s.pending, s.evictAt = 0, 0, s.budget
	s.cur, s.curSt = hourKey{hour: -1 << 62}, nil
}
