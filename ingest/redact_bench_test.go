package ingest

import (
	"strings"
	"testing"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/internal/loggen"
)

// BenchmarkRedactFields measures finding and hiding the keys of one
// parsed standard-log record: the redaction share of BenchmarkEncode.
func BenchmarkRedactFields(b *testing.B) {
	standard, _ := benchRecords(1024)
	in, err := New(nil, Config{Format: "cloudfront", Secret: testSecret})
	if err != nil {
		b.Fatal(err)
	}
	p, _ := in.format.NewParser(&in.cfg)
	evs := make([]keymeter.Event, len(standard))
	for _, header := range strings.Split(loggen.Header(loggen.StandardFields), "\n") {
		p.Parse([]byte(header), &evs[0])
	}
	for i, r := range standard {
		if ok, err := p.Parse(r, &evs[i]); !ok || err != nil {
			b.Fatal(err)
		}
	}
	enc := in.newEncoder(newKeyFinder(DefaultKeyParams, testSecret))
	var ev keymeter.Event
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		ev.Fields = evs[i%len(evs)].Fields
		enc.redactFields(&ev)
	}
}

// TestCleanValues checks that the cache of key-free values takes a value
// for clean only when it equals one that was, byte for byte, and that
// the encoder still hides a key in a user agent that follows clean ones.
func TestCleanValues(t *testing.T) {
	var c cleanValues
	c.add([]byte("curl/8.0"))
	if !c.has([]byte("curl/8.0")) || c.has([]byte("curl/8.1")) || c.has([]byte("curl/8.0 ")) {
		t.Fatal("cleanValues misjudges")
	}
	in, err := New(nil, Config{Format: "cloudfront", Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	enc := in.newEncoder(newKeyFinder(DefaultKeyParams, testSecret))
	for _, ua := range []string{"MyApp/1.0%20(x)", "MyApp/1.0%20(x)", "MyApp/1.0%20(apikey=SECRETUA0)", "MyApp/1.0%20(x%3D)"} {
		var ev keymeter.Event
		ev.Fields[keymeter.FieldUserAgent] = []byte(ua)
		enc.redactFields(&ev)
		if got := string(ev.Fields[keymeter.FieldUserAgent]); strings.Contains(got, "SECRETUA0") {
			t.Errorf("user agent %q kept its key: %q", ua, got)
		}
	}
}
