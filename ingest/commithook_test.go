package ingest_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/ingest"
)

// hookFunc is an ingest.CommitHook.
type hookFunc func(ctx context.Context, w keymeter.Preparer, first, last time.Time) error

func (f hookFunc) InCommit(ctx context.Context, w keymeter.Preparer, first, last time.Time) error {
	return f(ctx, w, first, last)
}

// TestCommitHook: the hook runs inside every commit that stores events,
// with the span of their times, and sees them in the prepared
// transaction's totals; a commit storing nothing new does not call it;
// its error rolls the commit back. (The totals count attributed events
// only, and no key is imported here: the call shows they can be read.)
func TestCommitHook(t *testing.T) {
	db := openStore(t)
	text, recs := logLines(5, 300)
	first, last := recs[0].Time, recs[0].Time
	for _, r := range recs {
		if r.Time.Before(first) {
			first = r.Time
		}
		if r.Time.After(last) {
			last = r.Time
		}
	}
	type call struct {
		first, last time.Time
		events      int64
	}
	var calls []call
	hook := hookFunc(func(ctx context.Context, w keymeter.Preparer, f, l time.Time) error {
		rows, err := w.MeterTotals(ctx, keymeter.MeterQuery{From: f, To: l.Add(time.Microsecond),
			Meters: []keymeter.MeterSpec{{Name: "all", Measure: keymeter.MeasureRequests}}})
		if err != nil {
			return err
		}
		var n int64
		for _, r := range rows {
			v, _ := r.Events.Int64()
			n += v
		}
		calls = append(calls, call{f, l, n})
		return nil
	})
	run(t, db, ingest.Config{OnCommit: hook}, input("a.log", []byte(text)))
	if len(calls) != 1 || !calls[0].first.Equal(first.UTC().Truncate(time.Microsecond)) || !calls[0].last.Equal(last.UTC().Truncate(time.Microsecond)) {
		t.Fatalf("hook calls %+v; want one over [%s, %s]", calls, first, last)
	}
	run(t, db, ingest.Config{OnCommit: hook}, input("b.log", []byte(text))) // the same lines: duplicates only
	if len(calls) != 1 {
		t.Errorf("a commit storing no new event called the hook: %+v", calls)
	}

	// An error rolls the commit back: nothing of c.log is stored.
	boom := errors.New("boom")
	text2, _ := logLines(6, 50)
	in, err := ingest.New(db, ingest.Config{Secret: []byte("0123456789abcdef"),
		OnCommit: hookFunc(func(context.Context, keymeter.Preparer, time.Time, time.Time) error { return boom })})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.Run(ctx, []ingest.Input{input("c.log", []byte(text2))}); !errors.Is(err, boom) || !strings.Contains(err.Error(), "in the commit") {
		t.Fatalf("run with a failing hook: %v; want its error", err)
	}
	var again []call
	hook2 := hookFunc(func(ctx context.Context, w keymeter.Preparer, f, l time.Time) error {
		again = append(again, call{first: f, last: l})
		return nil
	})
	if sum := run(t, db, ingest.Config{OnCommit: hook2}, input("c.log", []byte(text2))); sum.Events != 50 || len(again) != 1 {
		t.Errorf("c.log after the rolled-back run: %d events stored, %d hook calls; want all 50 and one call", sum.Events, len(again))
	}
}
