package ingest_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/ingest"
	"github.com/keymeter/keymeter/internal/loggen"
	"github.com/keymeter/keymeter/source/kinesis"
	"github.com/keymeter/keymeter/store/duckdb"
)

// fuzzN names each input's objects and stream.
var fuzzN atomic.Int64

// oneRecordStream is a stream of one shard holding one Kinesis record.
type oneRecordStream struct {
	name string
	data []byte
}

func (s *oneRecordStream) Name() string { return s.name }

func (s *oneRecordStream) ReadAll(ctx context.Context, checkpoints map[string]string, fn kinesis.ShardFunc) error {
	if checkpoints["shard-0"] != "" {
		return nil
	}
	return fn("shard-0", []kinesis.Record{{Data: s.data, SequenceNumber: "1", ArrivalTime: time.Unix(1759276800, 0)}}, "1", 0)
}

// fuzzFormats are the formats FuzzIngest reads its input as.
var fuzzFormats = []string{"cloudfront", "cloudfront-realtime", "apigateway", "apigateway-cloudwatch", "apigateway-export"}

// fuzzSeeds returns an input of each format, with the traps the formats
// know of: bytes that are not UTF-8, %FF, huge numbers, several layouts.
func fuzzSeeds() [][2]any {
	gen := loggen.New(loggen.Config{Seed: 9, Start: time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC), Span: 24 * time.Hour,
		Customers: 2, KeysPerCustomer: 1, NoKeyPercent: 10})
	var recs [4]loggen.Record
	for i := range recs {
		gen.Next(&recs[i])
	}
	std := loggen.Header(loggen.StandardFields)
	for i := range recs {
		std += string(recs[i].AppendLine(nil, loggen.StandardFields))
	}
	rt := string(recs[0].AppendRealtime(nil, loggen.RealtimeFields))
	ag := string(recs[1].AppendAPIGatewayJSON(nil, loggen.APIGatewayOptions{LogAPIKey: true}))
	cw := loggen.CloudWatchPayload("/aws/apigateway/prod", "s", []loggen.CloudWatchEvent{recs[1].CloudWatchEventOf(loggen.APIGatewayOptions{})})
	line := strings.Split(std, "\n")[2]
	huge := strings.Replace(line, "\t"+fmt.Sprint(recs[0].BytesSent)+"\t", "\t999999999999999999\t", 1)
	var twelve strings.Builder
	twelve.WriteString(loggen.Header(loggen.StandardFields))
	for i := range 12 {
		twelve.WriteString(strings.Replace(huge, recs[0].RequestID, fmt.Sprintf("%s-%d", recs[0].RequestID, i), 1) + "\n")
	}
	return [][2]any{
		{[]byte(std), uint8(0)},
		{[]byte(strings.Replace(std, "\t/", "\t/%FF\xff", 2)), uint8(0)},
		{[]byte(twelve.String()), uint8(0)}, // their bytes add up beyond 64 bits
		{loggen.Gzip([]byte(std)), uint8(0)},
		{[]byte(rt), uint8(1)},
		{[]byte(strings.Replace(rt, "Mozilla", "Mo\xffzilla", 1)), uint8(1)},
		{[]byte(ag), uint8(2)},
		{[]byte(strings.Replace(ag, `"userAgent":"`, `"userAgent":"\xff`, 1)), uint8(2)},
		{loggen.Gzip(cw), uint8(3)},
		{loggen.LambdaEvent(loggen.Gzip(cw)), uint8(3)},
		{[]byte(loggen.ExportLine(recs[1].CloudWatchEventOf(loggen.APIGatewayOptions{}))), uint8(4)},
	}
}

// FuzzIngest drives arbitrary bytes through the whole path, as an object
// and as a Kinesis record, in every format: parse, attribute, encode,
// store in a real DuckDB, and query (usage, from the rollups and from
// the events, and SQL over every view). A run must never abort: bad
// input is rejected and counted, never an error.
func FuzzIngest(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s[0].([]byte), s[1].(uint8))
	}
	// One store per fuzzing process: opening one per input would cost more
	// than ingesting the input. It is a file, not ":memory:", because SQL
	// runs on a second handle of the store's database, which only a file
	// store shares (see duckdb.DB.StreamSQL).
	db, err := duckdb.Open(ctx, filepath.Join(f.TempDir(), "fuzz.duckdb"), duckdb.Options{MemoryLimit: "256MB", Threads: 1})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	f.Fuzz(func(t *testing.T, data []byte, format uint8) {
		name := fuzzFormats[int(format)%len(fuzzFormats)]
		n := fuzzN.Add(1)
		cfg := ingest.Config{Format: name, Secret: []byte("0123456789abcdef"), Workers: 1}
		in, err := ingest.New(db, cfg)
		if err != nil {
			t.Fatal(err)
		}
		uri := fmt.Sprintf("fuzz/%d", n)
		sum, err := in.Run(ctx, []ingest.Input{input(uri, data)})
		if err != nil {
			t.Fatalf("%s: the run stopped: %v", name, err)
		}
		if sum.Lines != sum.Events+sum.Duplicates+sum.Rejected {
			t.Fatalf("%s: lines %d != events %d + duplicates %d + rejected %d", name, sum.Lines, sum.Events, sum.Duplicates, sum.Rejected)
		}
		ssum, err := in.RunStream(ctx, &oneRecordStream{name: fmt.Sprintf("fuzz-%d", n), data: data})
		if err != nil {
			t.Fatalf("%s: the stream stopped: %v", name, err)
		}
		if ssum.Lines != ssum.Events+ssum.Duplicates+ssum.Rejected {
			t.Fatalf("%s stream: lines %d != events %d + duplicates %d + rejected %d", name, ssum.Lines, ssum.Events, ssum.Duplicates, ssum.Rejected)
		}
		checkQueries(t, db, uri)
	})
}

// checkQueries asks the store every kind of question over everything it
// holds: none may fail, and the rollups and the events must agree.
func checkQueries(t *testing.T, db *duckdb.DB, uri string) {
	t.Helper()
	// The parsers accept times from 1970 (less a time zone offset) to 9999.
	from, to := time.Date(1969, 12, 1, 0, 0, 0, 0, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	all := func(q keymeter.UsageQuery) []keymeter.UsageRow {
		t.Helper()
		rows, err := db.Usage(ctx, q)
		if err != nil {
			t.Fatalf("usage by %v: %v", q.By, err)
		}
		return rows
	}
	// Day-aligned: from the rollups; from a microsecond later: from the
	// events.
	rolled := all(keymeter.UsageQuery{From: from, To: to})
	scanned := all(keymeter.UsageQuery{From: from.Add(time.Microsecond), To: to})
	if fmt.Sprint(rolled) != fmt.Sprint(scanned) {
		t.Fatalf("usage totals: rollups %+v, events %+v", rolled, scanned)
	}
	edge := keymeter.UsageQuery{From: from, To: to, Source: keymeter.SourceEdge, By: []keymeter.Dimension{keymeter.DimDay, keymeter.DimReason}}
	rolled = all(edge)
	edge.From = from.Add(time.Microsecond)
	if scanned = all(edge); fmt.Sprint(rolled) != fmt.Sprint(scanned) {
		t.Fatalf("edge join: rollups %+v, events %+v", rolled, scanned)
	}
	all(keymeter.UsageQuery{From: from, To: to, By: []keymeter.Dimension{keymeter.DimCustomer, keymeter.DimAPIKey,
		keymeter.DimDay, keymeter.DimMonth, keymeter.DimSource, keymeter.DimReason}})
	all(keymeter.UsageQuery{From: from, To: to, By: []keymeter.Dimension{keymeter.DimPath, keymeter.DimMethod,
		keymeter.DimStatus, keymeter.DimEdgeResult, keymeter.DimEdgeLocation, keymeter.DimHour}})
	for _, q := range []string{
		`SELECT * FROM events WHERE object = '` + uri + `' OR object LIKE 'kinesis://%'`,
		`SELECT * FROM cloudfront_logs`,
		`SELECT * FROM cloudfront_realtime_logs`,
		`SELECT * FROM apigateway_logs`,
		`SELECT * FROM edge_events`,
		`SELECT * FROM rejects`,
		`SELECT sum(sc_bytes), sum(cs_bytes), avg(time_taken) FROM cloudfront_logs`,
	} {
		if _, err := db.QuerySQL(ctx, q); err != nil {
			t.Fatalf("sql %s: %v", q, err)
		}
	}
	if _, err := db.Rejects(ctx, keymeter.RejectFilter{Limit: 10}); err != nil {
		t.Fatalf("rejects: %v", err)
	}
}
