package ingest

import (
	"bytes"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/internal/loggen"
)

// apigwLines returns origin access log lines of generated requests.
func apigwLines(n int) [][]byte {
	gen := loggen.New(loggen.Config{Seed: 9, Start: time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC), Span: 24 * time.Hour,
		Customers: 3, KeysPerCustomer: 2, NoKeyPercent: 5})
	var lines [][]byte
	for len(lines) < n {
		var r loggen.Record
		if gen.Next(&r); !r.ReachesOrigin() {
			continue
		}
		l := r.AppendAPIGatewayJSON(nil, loggen.APIGatewayOptions{LogAPIKey: len(lines)%3 == 0})
		lines = append(lines, bytes.TrimSuffix(l, []byte("\n")))
	}
	return lines
}

// TestAPIGatewayHotPathAllocs checks that parsing and encoding an API
// Gateway record does not allocate once its strings have been seen.
func TestAPIGatewayHotPathAllocs(t *testing.T) {
	lines := apigwLines(64)
	p, err := newAPIGatewayParser(&Config{})
	if err != nil {
		t.Fatal(err)
	}
	in, err := New(nil, Config{Format: "apigateway", Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	enc := in.newEncoder(newKeyFinder(DefaultKeyParams, testSecret))
	b := &keymeter.Batch{Rows: make([]keymeter.Row, 0, 1<<12), Rest: make([]byte, 0, 1<<20)}
	var ev keymeter.Event
	encodeAll := func() {
		b.Rows, b.Rest, b.Dict, b.Keys = b.Rows[:0], b.Rest[:0], b.Dict[:0], b.Keys[:0]
		for _, l := range lines {
			if ok, err := p.Parse(l, &ev); !ok || err != nil {
				t.Fatalf("%s: %v", l, err)
			}
			enc.encode(&ev, l, b)
		}
	}
	encodeAll()
	if allocs := testing.AllocsPerRun(20, encodeAll); allocs > 0 {
		t.Errorf("%v allocations per %d records", allocs, len(lines))
	}
	if b.Rows[0].KeyID == 0 && b.Rows[1].KeyID == 0 {
		t.Error("no request attributed")
	}
}

// BenchmarkAPIGatewayRecord measures parsing, attributing and encoding
// one API Gateway access log record.
func BenchmarkAPIGatewayRecord(b *testing.B) {
	lines := apigwLines(4096)
	p, err := newAPIGatewayParser(&Config{})
	if err != nil {
		b.Fatal(err)
	}
	in, err := New(nil, Config{Format: "apigateway", Secret: testSecret})
	if err != nil {
		b.Fatal(err)
	}
	enc := in.newEncoder(newKeyFinder(DefaultKeyParams, testSecret))
	batch := &keymeter.Batch{Rows: make([]keymeter.Row, 0, len(lines))}
	var ev keymeter.Event
	size := 0
	for _, l := range lines {
		size += len(l)
	}
	b.SetBytes(int64(size / len(lines)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i%len(lines) == 0 {
			batch.Reset()
		}
		if _, err := p.Parse(lines[i%len(lines)], &ev); err != nil {
			b.Fatal(err)
		}
		enc.encode(&ev, lines[i%len(lines)], batch)
	}
}

// TestCloudWatchRecordsReset reads one Kinesis record's payload after
// another with one reader, as a per-record decoder does.
func TestCloudWatchRecordsReset(t *testing.T) {
	rr := newCloudWatchRecords(bytes.NewReader(nil)).(*cloudWatchRecords)
	for i, msg := range []string{"first", "second"} {
		data := loggen.Gzip(loggen.CloudWatchPayload("g", "s", []loggen.CloudWatchEvent{{ID: "1", Timestamp: 1, Message: msg}}))
		rr.Reset(bytes.NewReader(data))
		rec, err := rr.Next()
		if err != nil || string(rec) != msg {
			t.Fatalf("record %d: %q, %v", i, rec, err)
		}
	}
}
