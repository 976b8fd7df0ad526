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
