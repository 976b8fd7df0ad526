package ingest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
)

// recordingWriter keeps what it is given, as a store that has never seen
// any of it would store it: a stand-in for the store in a test of the
// pipeline's core alone.
type recordingWriter struct {
	rows    []keymeter.Row
	rejects []keymeter.Reject
	commits int
}

func (w *recordingWriter) Write(_ context.Context, b *keymeter.Batch) (keymeter.WriteResult, error) {
	res := keymeter.WriteResult{Stored: len(b.Rows)}
	for _, r := range b.Rows {
		res.ByAttribution[r.Attribution]++
		if r.Attribution != keymeter.Attributed {
			if res.UnattributedByDay == nil {
				res.UnattributedByDay = map[keymeter.DayAttribution]int{}
			}
			res.UnattributedByDay[keymeter.DayAttribution{Day: keymeter.DayOf(r.Time), Attribution: r.Attribution}]++
		}
	}
	w.rows = append(w.rows, b.Rows...)
	return res, nil
}

func (w *recordingWriter) Reject(_ context.Context, r []keymeter.Reject) error {
	w.rejects = append(w.rejects, r...)
	return nil
}

func (w *recordingWriter) FinishObject(context.Context, keymeter.ObjectRecord) error { return nil }
func (w *recordingWriter) Commit(context.Context) error                              { w.commits++; return nil }
func (w *recordingWriter) Close() error                                              { return nil }

// TestThirdFrontEnd drives the pipeline's core as a new kind of source
// would (a directory follower, say): a decoder places and decodes the
// records, a sink writes, accounts and commits, and nothing else is
// needed for events to be attributed and their keys hidden, rejects to
// be built (placed, redacted, future times refused), the Summary to be
// kept and every batch to return to the pool.
func TestThirdFrontEnd(t *testing.T) {
	const key = "km_ThirdFrontEnd0123456789"
	readAt := time.Date(2025, 10, 1, 12, 0, 0, 0, time.UTC)
	in, err := New(nil, Config{Format: "cloudfront-realtime", RealtimeFields: rtFields, Secret: testSecret,
		Now: func() time.Time { return readAt }})
	if err != nil {
		t.Fatal(err)
	}
	lines := []string{
		rtRecord("/v1/a", "-", "x-api-key:"+key+"%0A", "x-api-key%0A", "1"),
		rtRecord("/v1/b", "-", "host:a%0A", "host%0A", "1"),
		strings.Replace(rtRecord("/v1/c", "-", "x-api-key:"+key+"%0A", "x-api-key%0A", "1"), "\t200\t", "\tOK\t", 1),
		strings.Replace(rtRecord("/v1/d", "-", "host:a%0A", "host%0A", "1"), "1759276800.123", "1759622400", 1), // 4 days on
	}
	pool := newBatchPool(2, in.cfg.BatchRows)
	w := &recordingWriter{}
	sum := &Summary{}
	s := in.newSink(w, pool, sum, in.cfg.CommitRows)
	d := in.newDecoder(pool)
	f := formats["cloudfront-realtime"]
	p, err := f.NewParser(&in.cfg)
	if err != nil {
		t.Fatal(err)
	}
	obj := &keymeter.Object{URI: "dir:///logs/a.log"}
	d.use(f, p, obj)
	d.readAt(readAt)
	for i, l := range lines {
		line := []byte(strings.TrimSuffix(l, "\n"))
		if err := d.decode(line); err != nil {
			d.reject(obj.URI, int64(i+1), line, err)
		}
	}
	if _, err := s.write(context.Background(), d.take(), obj.URI); err != nil {
		t.Fatal(err)
	}
	if err := s.commit(context.Background()); err != nil {
		t.Fatal(err)
	}

	if sum.Lines != 4 || sum.Events != 2 || sum.Rejected != 2 || sum.Unattributed[keymeter.NoKey] != 1 ||
		sum.UnattributedByDay[keymeter.DayAttribution{Day: keymeter.DayOf(1759276800123000), Attribution: keymeter.NoKey}] != 1 {
		t.Errorf("summary %+v", sum)
	}
	if w.commits != 1 || s.committed.Events != 2 || s.dirty || len(pool) != cap(pool) {
		t.Errorf("%d commits, committed %+v, dirty %v, %d of %d batches back", w.commits, s.committed, s.dirty, len(pool), cap(pool))
	}
	if len(w.rows) != 2 || w.rows[0].KeyID != fingerprintOf(key).ID {
		t.Errorf("rows %+v", w.rows)
	}
	if len(w.rejects) != 2 {
		t.Fatalf("rejects %+v", w.rejects)
	}
	for i, want := range []struct {
		line   int64
		field  string
		reason string
	}{{3, "sc-status", "OK"}, {4, "timestamp", ErrFutureTime.Error()}} {
		r := w.rejects[i]
		if r.Object != obj.URI || r.Line != want.line || r.Field != want.field || !strings.Contains(r.Reason, want.reason) ||
			r.Source != keymeter.SourceCloudFrontRealtime || !r.At.Equal(readAt) || r.TextLen != int64(len(lines[want.line-1])-1) {
			t.Errorf("reject %d: %+v", i, r)
		}
		if strings.Contains(r.Text, key) {
			t.Errorf("reject %d keeps the key: %q", i, r.Text)
		}
	}
}
