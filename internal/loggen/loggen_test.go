package loggen

import (
	"strings"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/format/cloudfrontrt"
)

// TestRealtime checks the generator's real-time records against the
// parser: every record parses, its key header is found exactly when the
// truth says it was logged, and found as truncated exactly when the truth
// says CloudFront cut it off.
func TestRealtime(t *testing.T) {
	if got, want := strings.Join(RealtimeFields, " "), strings.Join(cloudfrontrt.DefaultFields(), " "); got != want {
		t.Fatalf("RealtimeFields differ from the parser's default fields:\n%s\n%s", got, want)
	}
	g := New(Config{
		Seed: 1, Start: time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC), Span: 24 * time.Hour,
		Customers: 3, KeysPerCustomer: 2, NoKeyPercent: 10, HeaderKeyPercent: 60, TruncatedPercent: 20, BigHeadersPercent: 10,
	})
	p, err := cloudfrontrt.NewParser(nil)
	if err != nil {
		t.Fatal(err)
	}
	var counts [keymeter.NumAttributions]int
	cut, inHeader := 0, 0
	var r Record
	var ev keymeter.Event
	for range 5000 {
		g.NextRealtime(&r)
		rec := r.AppendRealtime(nil, RealtimeFields)
		if ok, err := p.Parse(rec, &ev); !ok || err != nil {
			t.Fatalf("record does not parse: %v\n%s", err, rec)
		}
		if got := ev.Time; got != r.Time.UnixMicro()+int64(r.Millis)*1000 {
			t.Fatalf("time %d, want %v + %d ms", got, r.Time, r.Millis)
		}
		value, state := cloudfrontrt.FindHeader(nil, &ev, "x-api-key")
		switch {
		case r.Truncated:
			if state != cloudfrontrt.HeaderTruncated || r.Key != nil || strings.Contains(string(rec), "api_key=") {
				t.Fatalf("truncated record: state %v, key %v\n%s", state, r.Key, rec)
			}
			counts[keymeter.KeyTruncated]++
		case r.KeyHeader:
			if state != cloudfrontrt.HeaderPresent || string(value) != r.Key.Key {
				t.Fatalf("key header: state %v, value %q, want %q", state, value, r.Key.Key)
			}
			inHeader++
			counts[keymeter.Attributed]++
		default:
			if state != cloudfrontrt.HeaderAbsent {
				t.Fatalf("no key header: state %v\n%s", state, rec)
			}
			if r.Key != nil {
				counts[keymeter.Attributed]++
			} else {
				counts[keymeter.NoKey]++
			}
		}
		if r.Logged < len(r.Headers) {
			cut++
		}
		if len(ev.Fields[keymeter.FieldHeaders]) > 800 {
			t.Fatalf("cs-headers of %d bytes", len(ev.Fields[keymeter.FieldHeaders]))
		}
	}
	t.Logf("attribution %v, %d keys in a header, %d header blocks cut", counts, inHeader, cut)
	if counts[keymeter.KeyTruncated] < 200 || inHeader < 1500 || counts[keymeter.NoKey] < 300 || cut < counts[keymeter.KeyTruncated]+100 {
		t.Errorf("too few of some kind: attribution %v, %d in a header, %d cut", counts, inHeader, cut)
	}
}

// TestEdgeMonth checks requests made in both forms: the standard line
// and the real-time record carry the same request ID, time and bytes;
// the standard line shows a key exactly when its query string has one;
// some real-time records are missing; EdgeTruth counts every request once.
func TestEdgeMonth(t *testing.T) {
	g := New(Config{
		Seed: 3, Start: time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC), Span: 31 * 24 * time.Hour,
		Customers: 2, KeysPerCustomer: 2, NoKeyPercent: 10, HeaderKeyPercent: 80, BothPercent: 30, TruncatedPercent: 10,
		MissingPercent: 5, Distributions: []string{"a.cloudfront.net", "b.cloudfront.net"},
	})
	recs := g.EdgeMonth(5000)
	var missing, both, headerOnly int
	for i := range recs {
		r := &recs[i]
		if i > 0 && r.Time.Before(recs[i-1].Time) {
			t.Fatal("records are not in time order")
		}
		line := string(r.AppendLine(nil, StandardFields))
		record := string(r.AppendRealtime(nil, RealtimeFields))
		for _, s := range []string{line, record} {
			if !strings.Contains(s, "\t"+r.RequestID+"\t") || !strings.Contains(s, "\t"+r.Distribution+"\t") {
				t.Fatalf("request %s is not in both forms:\n%s\n%s", r.RequestID, line, record)
			}
		}
		inQuery := strings.Contains(r.Query, "api_key=") || strings.Contains(r.Query, "apikey=")
		if inQuery != (r.StandardKey() != nil) || inQuery != r.QueryKey {
			t.Errorf("the query string of %s is %q, and its StandardKey %v", r.RequestID, r.Query, r.StandardKey())
		}
		switch {
		case !r.Realtime:
			missing++
		case r.KeyHeader && r.QueryKey:
			both++
		case r.KeyHeader:
			headerOnly++
		}
	}
	if missing < 150 || missing > 350 || both < 500 || headerOnly < 2000 {
		t.Errorf("missing %d, key in both %d, only in the header %d", missing, both, headerOnly)
	}
	per, cov := EdgeTruth(recs, func(*Record) Arrived { return Arrived{Standard: true, Realtime: true} }, false)
	var n, standard, with int64
	for _, v := range per {
		n += v.Requests
	}
	for _, c := range cov {
		standard, with = standard+c.Standard, with+c.WithRealtime
	}
	if n != int64(len(recs)) || standard != n || with != n-int64(missing) || len(cov) != 62 {
		t.Errorf("truth: %d requests, %d standard, %d with a real-time record, %d coverage rows", n, standard, with, len(cov))
	}
}
