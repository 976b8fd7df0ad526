package server

import (
	"sync"
	"time"

	"github.com/keymeter/keymeter/ingest"
	"github.com/keymeter/keymeter/service"
)

// tracker keeps one source's status: the totals of its finished runs,
// the running one's progress, and a minute of reading samples for the
// rate.
type tracker struct {
	mu      sync.Mutex
	st      service.SourceStatus
	done    ingest.Summary // totals of finished runs
	live    ingest.Summary // the running run's progress
	samples []sample       // lines read at times, over the last minute
	now     func() time.Time
}

type sample struct {
	at    time.Time
	lines int64
}

func newTracker(name, kind string, now func() time.Time) *tracker {
	return &tracker{st: service.SourceStatus{Name: name, Kind: kind}, now: now}
}

// progress records the running run's summary so far (ingest.Config.Progress).
func (t *tracker) progress(s ingest.Summary) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.live = s
	if s.Lag > 0 || t.st.Kind == "kinesis" {
		t.st.Lag = s.Lag
	}
	t.sampleLocked()
}

// finished records a run's final summary; committed says its data is.
func (t *tracker) finished(s *ingest.Summary, committed bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s != nil {
		t.done.Lines += s.Lines
		t.done.Events += s.Events
		t.done.Duplicates += s.Duplicates
		t.done.Rejected += s.Rejected
		if t.st.Kind == "kinesis" {
			t.st.Lag = s.Lag
		}
		if len(s.Failed) > 0 {
			f := s.Failed[0]
			t.st.LastError, t.st.LastErrorAt = f.URI+": "+f.Reason, t.now()
		}
	}
	t.live = ingest.Summary{}
	if committed && s != nil && s.Lines > 0 {
		t.st.LastCommit = t.now()
	}
	t.sampleLocked()
}

// listed records a listing: what is not read yet, its age as the lag.
func (t *tracker) listed(pending []ingest.Input) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var oldest time.Time
	for _, in := range pending {
		if m := in.Object.ModTime; !m.IsZero() && (oldest.IsZero() || m.Before(oldest)) {
			oldest = m
		}
	}
	t.st.Lag = 0
	if !oldest.IsZero() {
		t.st.Lag = max(t.now().Sub(oldest), 0)
	}
	if len(pending) > 0 {
		t.st.Position = pending[len(pending)-1].Object.URI
	}
}

// caughtUp says that a listing's objects were all handled.
func (t *tracker) caughtUp() {
	t.mu.Lock()
	t.st.Lag = 0
	t.mu.Unlock()
}

// position sets where reading stands.
func (t *tracker) position(p string) {
	t.mu.Lock()
	t.st.Position = p
	t.mu.Unlock()
}

// failed records an error of the source; nil clears it.
func (t *tracker) failed(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err == nil {
		t.st.LastError, t.st.LastErrorAt = "", time.Time{}
		return
	}
	t.st.LastError, t.st.LastErrorAt = err.Error(), t.now()
}

func (t *tracker) sampleLocked() {
	now := t.now()
	t.samples = append(t.samples, sample{now, t.done.Lines + t.live.Lines})
	cut := 0
	for cut < len(t.samples)-1 && now.Sub(t.samples[cut].at) > time.Minute {
		cut++
	}
	t.samples = t.samples[cut:]
}

// status returns the source's status now.
func (t *tracker) status() service.SourceStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sampleLocked()
	st := t.st
	st.Lines = t.done.Lines + t.live.Lines
	st.Events = t.done.Events + t.live.Events
	st.Duplicates = t.done.Duplicates + t.live.Duplicates
	st.Rejects = t.done.Rejected + t.live.Rejected
	if first, last := t.samples[0], t.samples[len(t.samples)-1]; last.at.Sub(first.at) >= time.Second {
		st.LinesPerSecond = (last.lines - first.lines) * int64(time.Second) / int64(last.at.Sub(first.at))
	}
	return st
}
