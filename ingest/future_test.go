package ingest_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/ingest"
	"github.com/keymeter/keymeter/internal/loggen"
)

// readingTime is the clock of the future-time tests.
var readingTime = time.Date(2025, 10, 2, 12, 0, 0, 0, time.UTC)

// futureTimes are request times around readingTime: two within the
// default horizon of a day, three beyond it.
var futureTimes = []time.Time{
	readingTime.Add(-48 * time.Hour),
	readingTime.Add(23 * time.Hour),
	readingTime.Add(30 * time.Hour),
	time.Date(2099, 6, 1, 0, 0, 0, 0, time.UTC),
	time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
}

// futureRecords returns a generated request for each of futureTimes.
func futureRecords(realtime bool) []loggen.Record {
	gen := loggen.New(loggen.Config{Seed: 77, Start: readingTime, Span: time.Hour, Customers: 1, KeysPerCustomer: 1})
	recs := make([]loggen.Record, len(futureTimes))
	for i := range recs {
		if realtime {
			gen.NextRealtime(&recs[i])
		} else {
			gen.Next(&recs[i])
		}
		recs[i].Time = futureTimes[i]
	}
	return recs
}

// checkFuture checks that the rejects are the requests beyond the
// horizon, each placed, with the time field and the reason.
func checkFuture(t *testing.T, rejects []keymeter.Reject, wantLines []int64, field string) {
	t.Helper()
	sort.Slice(rejects, func(i, j int) bool {
		return rejects[i].Object+fmt.Sprint(rejects[i].Line) < rejects[j].Object+fmt.Sprint(rejects[j].Line)
	})
	if len(rejects) != len(wantLines) {
		t.Fatalf("rejects %+v, want lines %v", rejects, wantLines)
	}
	for i, r := range rejects {
		if wantLines[i] > 0 && r.Line != wantLines[i] || r.Field != field || !strings.HasPrefix(r.Reason, "time in the future: ") ||
			!strings.Contains(r.Reason, "ahead of the time of reading, 2025-10-02T12:00:00Z") {
			t.Errorf("reject %d: line %d, field %q, reason %q; want line %d, field %q, time in the future", i, r.Line, r.Field, r.Reason, wantLines[i], field)
		}
	}
}

// TestFutureTimes rejects requests dated more than the horizon (a day by
// default) after the time of reading, with the field and the reason.
func TestFutureTimes(t *testing.T) {
	recs := futureRecords(false)
	var b []byte
	b = append(b, loggen.Header(loggen.StandardFields)...)
	for i := range recs {
		b = recs[i].AppendLine(b, loggen.StandardFields)
	}
	now := func() time.Time { return readingTime }

	db := openStore(t)
	sum := run(t, db, ingest.Config{Now: now}, input("future.log", b))
	if sum.Events != 2 || sum.Rejected != 3 {
		t.Errorf("events %d, rejected %d; want 2 and 3", sum.Events, sum.Rejected)
	}
	rejects, err := db.Rejects(ctx, keymeter.RejectFilter{})
	if err != nil {
		t.Fatal(err)
	}
	checkFuture(t, rejects, []int64{5, 6, 7}, "date")
	if !strings.Contains(rejects[1].Reason, "2099-06-01T00:00:00Z is more than 24h ahead") {
		t.Errorf("reason %q", rejects[1].Reason)
	}

	// A wider horizon lets the request 30 hours ahead in.
	db = openStore(t)
	sum = run(t, db, ingest.Config{Now: now, FutureHorizon: 36 * time.Hour}, input("future.log", b))
	if sum.Events != 3 || sum.Rejected != 2 {
		t.Errorf("horizon 36h: events %d, rejected %d; want 3 and 2", sum.Events, sum.Rejected)
	}
	if _, err := ingest.New(db, ingest.Config{Secret: testSecret, FutureHorizon: -time.Hour}); keymeter.ErrorCode(err) != keymeter.EINVALID {
		t.Errorf("a negative horizon: %v, want EINVALID", err)
	}
}

// TestFutureTimesAPIGateway names the key the time was read from.
func TestFutureTimesAPIGateway(t *testing.T) {
	var b strings.Builder
	for i, at := range futureTimes {
		fmt.Fprintf(&b, `{"requestId":"r%d","requestTimeEpoch":"%d","status":"200"}`+"\n", i, at.UnixMilli())
	}
	b.WriteString(`{"requestId":"clf","requestTime":"01/Jan/2099:00:00:00 +0000","status":"200"}` + "\n")
	db := openStore(t)
	sum := run(t, db, ingest.Config{Format: "apigateway", Now: func() time.Time { return readingTime }}, input("future.log", []byte(b.String())))
	if sum.Events != 2 || sum.Rejected != 4 {
		t.Errorf("events %d, rejected %d; want 2 and 4", sum.Events, sum.Rejected)
	}
	rejects, _ := db.Rejects(ctx, keymeter.RejectFilter{})
	sort.Slice(rejects, func(i, j int) bool { return rejects[i].Line < rejects[j].Line })
	if len(rejects) == 4 {
		checkFuture(t, rejects[:2], []int64{3, 4}, "requestTimeEpoch")
		// 9999 in milliseconds has 15 digits: the parser itself refuses it.
		if r := rejects[2]; r.Line != 5 || r.Field != "requestTimeEpoch" || !strings.Contains(r.Reason, "not a valid time") {
			t.Errorf("reject 2: %+v; want line 5, requestTimeEpoch, not a valid time", r)
		}
		checkFuture(t, rejects[3:], []int64{6}, "requestTime")
	} else {
		t.Errorf("rejects %+v", rejects)
	}
}

// TestFutureTimesStream rejects real-time records from the future read
// from a stream, as from files.
func TestFutureTimesStream(t *testing.T) {
	recs := futureRecords(true)
	recs[4].Time = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC) // epoch seconds of 9999 have 12 digits: not a time
	var data [][]byte
	for i := range recs {
		data = append(data, recs[i].AppendRealtime(nil, loggen.RealtimeFields))
	}
	db := openStore(t)
	in, err := ingest.New(db, ingest.Config{Format: "cloudfront-realtime", Secret: testSecret, Now: func() time.Time { return readingTime }})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := in.RunStream(ctx, &fakeStream{shards: map[string][][]byte{"shard-0": data}, page: 2})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Events != 2 || sum.Rejected != 3 {
		t.Errorf("events %d, rejected %d; want 2 and 3", sum.Events, sum.Rejected)
	}
	rejects, _ := db.Rejects(ctx, keymeter.RejectFilter{})
	checkFuture(t, rejects, []int64{1, 1, 1}, "timestamp")
}
