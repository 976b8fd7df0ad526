package ingest

import (
	"maps"
	"sort"
	"time"

	"github.com/keymeter/keymeter"
)

// Summary reports what a run did.
type Summary struct {
	Objects      int                             // inputs given
	Read         int                             // objects read, fully or partly
	Skipped      []Skipped                       // objects not read because they were ingested before
	Failed       []Failed                        // objects that could not be read, or only partly
	Lines        int64                           // records read (Events + Duplicates + Rejected)
	Events       int64                           // events stored
	Duplicates   int64                           // events skipped because they were already stored
	Rejected     int64                           // records rejected
	Unattributed [keymeter.NumAttributions]int64 // stored events by attribution; [0] is attributed
	// UnattributedByDay counts the stored events without a key by UTC day
	// and reason. The map is replaced, never modified, so copies of a
	// Summary stay as they were.
	UnattributedByDay map[keymeter.DayAttribution]int64
	// Lag is, for streams, how far the furthest-behind shard was behind
	// the stream's tip at its last read (Kinesis's MillisBehindLatest).
	Lag time.Duration
	// NotRecorded are objects read of which no record was stored (every
	// one rejected): they are not recorded as ingested, so that a later
	// run, with other flags, reads them again.
	NotRecorded []string
	// Retracted counts, with Config.Reprocess, the events of earlier
	// reads that were replaced; Changed is the span of event time of the
	// events retracted and stored (zero when none).
	Retracted int64
	Changed   [2]time.Time
}

// UnattributedTotal returns the number of stored events without a key.
func (s *Summary) UnattributedTotal() int64 {
	var n int64
	for _, v := range s.Unattributed[1:] {
		n += v
	}
	return n
}

// Skipped is an object that was not read again.
type Skipped struct {
	URI    string
	Reason string // e.g. "already ingested", "same content as other.gz"
}

// Failed is an object that could not be read, or only partly.
type Failed struct {
	URI    string
	Reason string
}

// add accounts for what the store did with a batch.
func (s *Summary) add(res keymeter.WriteResult) {
	s.Events += int64(res.Stored)
	s.Duplicates += int64(res.Duplicates)
	for i, n := range res.ByAttribution {
		s.Unattributed[i] += int64(n)
	}
	s.addDays(res.UnattributedByDay)
}

// widen extends s.Changed to [from, to].
func (s *Summary) widen(from, to time.Time) {
	if from.IsZero() {
		return
	}
	if s.Changed[0].IsZero() || from.Before(s.Changed[0]) {
		s.Changed[0] = from
	}
	if to.After(s.Changed[1]) {
		s.Changed[1] = to
	}
}

// addDays adds per-day counts of unattributed events to s, in a new map.
func (s *Summary) addDays(days map[keymeter.DayAttribution]int) {
	if len(days) == 0 {
		return
	}
	m := maps.Clone(s.UnattributedByDay)
	if m == nil {
		m = make(map[keymeter.DayAttribution]int64, len(days))
	}
	for k, n := range days {
		m[k] += int64(n)
	}
	s.UnattributedByDay = m
}

// DayCount is a number of events on one UTC day.
type DayCount struct {
	Day   time.Time // midnight UTC
	Count int64
}

// UnattributedDays returns the stored events without a key for reason a
// (keymeter.KeyTruncated, say) per UTC day, in day order.
func (s *Summary) UnattributedDays(a keymeter.Attribution) []DayCount {
	var out []DayCount
	for k, n := range s.UnattributedByDay {
		if k.Attribution == a && n > 0 {
			out = append(out, DayCount{Day: time.Unix(int64(k.Day)*86400, 0).UTC(), Count: n})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Day.Before(out[j].Day) })
	return out
}
