package ingest_test

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/ingest"
	"github.com/keymeter/keymeter/internal/loggen"
	"github.com/keymeter/keymeter/source/kinesis"
	"github.com/keymeter/keymeter/store/duckdb"
)

var testSecret = []byte("0123456789abcdef")

// rtSet is a set of generated real-time records and their truth.
type rtSet struct {
	records  []loggen.Record
	unique   map[string]loggen.Record // by request ID
	keys     []loggen.Key
	truncDay map[string]int64 // key_truncated requests per UTC day
}

func realtimeSet(seed uint64, n int) *rtSet {
	g := loggen.New(loggen.Config{
		Seed: seed, Start: time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC), Span: 3 * 24 * time.Hour,
		Customers: 3, KeysPerCustomer: 2, UnknownKeys: 1, NoKeyPercent: 8,
		HeaderKeyPercent: 60, TruncatedPercent: 15, BigHeadersPercent: 10,
	})
	s := &rtSet{unique: map[string]loggen.Record{}, keys: g.Keys(), truncDay: map[string]int64{}}
	s.records = make([]loggen.Record, n)
	for i := range s.records {
		g.NextRealtime(&s.records[i])
		r := s.records[i]
		s.unique[r.RequestID] = r
		if r.Truncated {
			s.truncDay[r.Time.Format("2006-01-02")]++
		}
	}
	return s
}

// lines returns records as a Firehose object holds them.
func (s *rtSet) lines(recs []loggen.Record, fields []string) []byte {
	var b []byte
	for i := range recs {
		b = recs[i].AppendRealtime(b, fields)
	}
	return b
}

// truth returns the expected requests and bytes sent per key fingerprint
// ("no_key" and "key_truncated" for unattributed requests).
func (s *rtSet) truth() map[string][2]int64 {
	fpr := keymeter.NewFingerprinter(testSecret)
	out := map[string][2]int64{}
	for _, r := range s.unique {
		k := "no_key"
		switch {
		case r.Key != nil:
			k = fpr.Fingerprint([]byte(r.Key.Key)).Fingerprint
		case r.Truncated:
			k = "key_truncated"
		}
		v := out[k]
		out[k] = [2]int64{v[0] + 1, v[1] + r.BytesSent}
	}
	return out
}

// stored returns the stored requests and bytes sent per key fingerprint,
// as truth does.
func stored(t *testing.T, db *duckdb.DB) map[string][2]int64 {
	t.Helper()
	rows, err := db.Usage(ctx, keymeter.UsageQuery{
		From: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		By: []keymeter.Dimension{keymeter.DimAPIKey, keymeter.DimReason}, Source: keymeter.SourceCloudFrontRealtime,
	})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][2]int64{}
	for _, r := range rows {
		k := r.Group[0].Value
		if r.Group[0].Null {
			k = r.Group[1].Value
		}
		req, _ := r.Requests.Int64()
		sent, _ := r.BytesSent.Int64()
		out[k] = [2]int64{req, sent}
	}
	return out
}

func checkTruth(t *testing.T, what string, db *duckdb.DB, s *rtSet) {
	t.Helper()
	got, want := stored(t, db), s.truth()
	if !maps.Equal(got, want) {
		t.Errorf("%s: stored per key\n got %v\nwant %v", what, got, want)
	}
	if want["key_truncated"][0] < 20 || len(want) < 6 {
		t.Fatalf("the data set tests too little: %v", want)
	}
}

// checkDays compares a summary's per-day key_truncated counts with the
// truth.
func checkDays(t *testing.T, sum *ingest.Summary, want map[string]int64) {
	t.Helper()
	got := map[string]int64{}
	for _, d := range sum.UnattributedDays(keymeter.KeyTruncated) {
		got[d.Day.Format("2006-01-02")] = d.Count
	}
	if !maps.Equal(got, want) {
		t.Errorf("key_truncated per day: got %v, want %v", got, want)
	}
}

// TestRealtimeFiles ingests real-time records as Firehose delivers them:
// objects of concatenated records, gzip (one or several members) or
// plain, with records repeated within and across objects, for a field
// list given in another order than CloudFront's.
func TestRealtimeFiles(t *testing.T) {
	s := realtimeSet(11, 3000)
	all := loggen.RealtimeFields
	configured := slices.Clone(all)
	slices.Reverse(configured)
	db := openStore(t)
	recs := s.records
	obj1 := gz(string(s.lines(recs[:1000], all)))
	obj2 := append(gz(string(s.lines(recs[1000:1500], all))), gz(string(s.lines(recs[1500:2000], all)))...)
	obj3 := s.lines(append(slices.Clone(recs[2000:]), recs[10:60]...), all) // 50 redelivered records
	sum := run(t, db, ingest.Config{Format: "cloudfront-realtime", RealtimeFields: configured, Workers: 2},
		input("firehose-1.gz", obj1), input("firehose-2.gz", obj2), input("firehose-3", obj3))
	if sum.Events != int64(len(s.unique)) || sum.Duplicates != 50 || sum.Rejected != 0 {
		t.Errorf("events %d, duplicates %d, rejected %d; want %d, 50, 0", sum.Events, sum.Duplicates, sum.Rejected, len(s.unique))
	}
	checkTruth(t, "files", db, s)
	checkDays(t, sum, s.truncDay)
	if n := sum.Unattributed[keymeter.KeyTruncated]; n != s.truth()["key_truncated"][0] {
		t.Errorf("summary: %d key_truncated, want %d", n, s.truth()["key_truncated"][0])
	}

	// The Athena-style view has the real-time columns, with the stem
	// carrying the (redacted) query as in real-time logs.
	tab, err := db.QuerySQL(ctx, `SELECT count(*), count(DISTINCT c_country), min(cs_uri_stem), max(cs_headers_count),
		sum(sc_bytes), min(length("timestamp")) FROM cloudfront_realtime_logs WHERE cs_uri_query <> '-'`)
	if err != nil {
		t.Fatal(err)
	}
	row := tab.Rows[0]
	if row[0].(int64) == 0 || row[1].(int64) < 3 || !strings.Contains(row[2].(string), "?") || row[3].(int64) < 5 || row[5].(int64) != 14 {
		t.Errorf("cloudfront_realtime_logs: %v", row)
	}
}

// TestRealtimeFieldCount rejects records that do not carry the configured
// fields, saying why.
func TestRealtimeFieldCount(t *testing.T) {
	s := realtimeSet(12, 20)
	db := openStore(t)
	fields := []string{"timestamp", "c-ip", "sc-status", "cs-uri-stem", "x-edge-request-id"}
	sum := run(t, db, ingest.Config{Format: "cloudfront-realtime", RealtimeFields: fields},
		input("wrong", s.lines(s.records, loggen.RealtimeFields)))
	if sum.Rejected != 20 || sum.Events != 0 {
		t.Fatalf("rejected %d, events %d; want 20, 0", sum.Rejected, sum.Events)
	}
	rejects, _ := db.Rejects(ctx, keymeter.RejectFilter{Limit: 1})
	if r := rejects[0]; !strings.Contains(r.Reason, "record has 45 fields, the configured list has 5") {
		t.Errorf("reason %q", r.Reason)
	}
	for _, k := range s.keys {
		for _, r := range rejects {
			if strings.Contains(r.Text, k.Key) {
				t.Errorf("a reject keeps a raw key: %s", r.Text)
			}
		}
	}
}

// TestRealtimeWithoutRequestID dedupes records logged without
// x-edge-request-id on the whole record.
func TestRealtimeWithoutRequestID(t *testing.T) {
	s := realtimeSet(13, 500)
	fields := []string{"timestamp", "c-ip", "time-to-first-byte", "sc-status", "sc-bytes", "cs-uri-stem", "cs-headers", "cs-header-names"}
	db := openStore(t)
	lines := s.lines(s.records, fields)
	sum := run(t, db, ingest.Config{Format: "cloudfront-realtime", RealtimeFields: fields}, input("a", lines), input("b", append(lines, s.lines(s.records[:250], fields)...)))
	if sum.Events != 500 || sum.Duplicates != 500+250 {
		t.Errorf("events %d, duplicates %d; want 500, 750", sum.Events, sum.Duplicates)
	}
	checkTruth(t, "without request IDs", db, s)
}

// fakeStream serves fixed pages of records from its shards, from
// checkpoints, like a Kinesis stream.
type fakeStream struct {
	shards map[string][][]byte
	page   int // records per page
}

var errCrash = errors.New("crash")

func (f *fakeStream) Name() string { return "fake" }

func (f *fakeStream) ReadAll(ctx context.Context, checkpoints map[string]string, fn kinesis.ShardFunc) error {
	ids := slices.Sorted(maps.Keys(f.shards))
	next := map[string]int{}
	for _, id := range ids {
		if cp := checkpoints[id]; cp != "" {
			var n int
			fmt.Sscan(cp, &n)
			next[id] = n + 1
		}
	}
	for more := true; more; {
		more = false
		for _, id := range ids {
			recs := f.shards[id]
			start := next[id]
			if start >= len(recs) {
				continue
			}
			more = true
			end := min(start+f.page, len(recs))
			var page []kinesis.Record
			for i := start; i < end; i++ {
				page = append(page, kinesis.Record{Data: recs[i], SequenceNumber: fmt.Sprint(i)})
			}
			if err := fn(id, page, fmt.Sprint(end-1), int64(len(recs)-end)); err != nil {
				return err
			}
			next[id] = end
		}
	}
	return fn(ids[0], nil, checkpoints[ids[0]], 0)
}

// crashStore is a store whose writers die at their failAt-th commit, as
// a process killed while committing: the transaction is lost.
type crashStore struct {
	*duckdb.DB
	failAt int
}

func (s crashStore) NewWriter(ctx context.Context) (keymeter.Writer, error) {
	w, err := s.DB.NewWriter(ctx)
	if err != nil {
		return nil, err
	}
	return &crashWriter{Writer: w, failAt: s.failAt}, nil
}

type crashWriter struct {
	keymeter.Writer
	failAt, commits int
}

func (w *crashWriter) SetCheckpoint(ctx context.Context, stream, shard, seq string) error {
	return w.Writer.(keymeter.Checkpointer).SetCheckpoint(ctx, stream, shard, seq)
}

func (w *crashWriter) Commit(ctx context.Context) error {
	if w.commits++; w.commits == w.failAt {
		return errCrash
	}
	return w.Writer.Commit(ctx)
}

// TestRunStreamCrashes kills a stream consumer at its first commit, then
// at its second, and so on, restarting it each time from the committed
// checkpoints: the totals end up exact, and the events each run reports
// add up to the events stored.
func TestRunStreamCrashes(t *testing.T) {
	s := realtimeSet(14, 2000)
	shards := map[string][][]byte{}
	for i := range s.records {
		id := fmt.Sprintf("shardId-%012d", i%2)
		shards[id] = append(shards[id], s.records[i].AppendRealtime(nil, loggen.RealtimeFields))
		if i%97 == 0 { // a producer retry: the record again, later
			shards[id] = append(shards[id], s.records[i].AppendRealtime(nil, loggen.RealtimeFields))
		}
	}
	shards["shardId-000000000001"] = append(shards["shardId-000000000001"], []byte("not a record\n"))
	db := openStore(t)
	var events, rejected int64
	runs := 0
	for failAt := 1; ; failAt++ {
		runs++
		in, err := ingest.New(crashStore{db, failAt}, ingest.Config{Format: "cloudfront-realtime", Secret: testSecret, BatchRows: 50, CommitRows: 300})
		if err != nil {
			t.Fatal(err)
		}
		sum, err := in.RunStream(ctx, &fakeStream{shards: shards, page: 60})
		events += sum.Events
		rejected += sum.Rejected
		if err == nil {
			break
		}
		if !errors.Is(err, errCrash) {
			t.Fatalf("run %d: %v", runs, err)
		}
	}
	if runs < 5 {
		t.Errorf("only %d runs: the crashes did not test much", runs)
	}
	checkTruth(t, "after crashes", db, s)
	if events != int64(len(s.unique)) || rejected != 1 {
		t.Errorf("events stored %d, rejected %d over all runs; want %d and 1", events, rejected, len(s.unique))
	}
	cps, err := db.Checkpoints(ctx, "fake")
	if err != nil || cps["shardId-000000000000"] != fmt.Sprint(len(shards["shardId-000000000000"])-1) {
		t.Errorf("checkpoints %v, %v", cps, err)
	}
	rejects, _ := db.Rejects(ctx, keymeter.RejectFilter{})
	if len(rejects) != 1 || !strings.HasPrefix(rejects[0].Object, "kinesis://fake/shardId-000000000001#") || rejects[0].Text != "not a record" {
		t.Errorf("rejects %+v", rejects)
	}
}

// TestRunStreamStop stops a follower with its context: what it read is
// committed then (and only then, here), and it returns the context's
// error.
func TestRunStreamStop(t *testing.T) {
	s := realtimeSet(15, 600)
	shards := map[string][][]byte{"shardId-000000000000": nil}
	for i := range s.records {
		shards["shardId-000000000000"] = append(shards["shardId-000000000000"], s.records[i].AppendRealtime(nil, loggen.RealtimeFields))
	}
	db := openStore(t)
	cctx, cancel := context.WithCancel(ctx)
	in, err := ingest.New(db, ingest.Config{Format: "cloudfront-realtime", Secret: testSecret, CommitInterval: time.Hour, CommitRows: 1 << 30,
		Progress: func(s ingest.Summary) {
			if s.Lines == 600 {
				cancel()
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := in.RunStream(cctx, &followStream{fakeStream{shards: shards, page: 100}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("RunStream: %v, want context.Canceled", err)
	}
	if sum.Events != 600 || requests(t, db) != 600 {
		t.Errorf("%d events reported, %d stored; want 600", sum.Events, requests(t, db))
	}
	if cps, _ := db.Checkpoints(ctx, "fake"); cps["shardId-000000000000"] != "599" {
		t.Errorf("checkpoint %v, want 599", cps)
	}
}

// followStream is a fakeStream that, once its records are read, waits
// for more until its context is done, as a follower does.
type followStream struct{ fakeStream }

func (f *followStream) ReadAll(ctx context.Context, checkpoints map[string]string, fn kinesis.ShardFunc) error {
	if err := f.fakeStream.ReadAll(ctx, checkpoints, fn); err != nil {
		return err
	}
	<-ctx.Done()
	return ctx.Err()
}

// TestRunStreamKinesalite reads a Kinesis stream served by kinesalite
// through the real source/kinesis: two shards, records redelivered by the
// producer, then more records read from the stored checkpoints.
// kinesisEndpoint returns kinesalite's endpoint, skipping the test when
// there is none (and failing it when the servers are required).
func kinesisEndpoint(t *testing.T) string {
	endpoint := os.Getenv("KINESIS_ENDPOINT")
	if endpoint == "" {
		if os.Getenv("KEYMETER_REQUIRE_SERVERS") == "1" {
			t.Fatal("KINESIS_ENDPOINT is not set but KEYMETER_REQUIRE_SERVERS=1: run the tests with scripts/testenv.sh")
		}
		t.Skip("KINESIS_ENDPOINT is not set; run the tests with scripts/testenv.sh to test against kinesalite")
	}
	return endpoint
}

// kinesaliteStream creates a stream of two shards on kinesalite, deleted
// after the test.
func kinesaliteStream(t *testing.T, endpoint string) (*awskinesis.Client, string) {
	t.Helper()
	api := awskinesis.New(awskinesis.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	var r [6]byte
	crand.Read(r[:])
	name := "keymeter-ingest-" + hex.EncodeToString(r[:])
	if _, err := api.CreateStream(ctx, &awskinesis.CreateStreamInput{StreamName: &name, ShardCount: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { api.DeleteStream(context.Background(), &awskinesis.DeleteStreamInput{StreamName: &name}) })
	for {
		out, err := api.DescribeStreamSummary(ctx, &awskinesis.DescribeStreamSummaryInput{StreamName: &name})
		if err == nil && out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			return api, name
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// openKinesalite opens a stream on kinesalite for reading.
func openKinesalite(t *testing.T, endpoint, name string) *kinesis.Stream {
	t.Helper()
	stream, err := kinesis.Open(ctx, kinesis.Config{Endpoint: endpoint, Region: "us-east-1", AccessKeyID: "test", SecretAccessKey: "test",
		MinInterval: time.Millisecond, Limit: 300}, name)
	if err != nil {
		t.Fatal(err)
	}
	return stream
}

func TestRunStreamKinesalite(t *testing.T) {
	endpoint := kinesisEndpoint(t)
	api, name := kinesaliteStream(t, endpoint)
	s := realtimeSet(16, 1500)
	rng := rand.New(rand.NewPCG(1, 2))
	put := func(recs []loggen.Record) {
		for start := 0; start < len(recs); start += 250 {
			var entries []types.PutRecordsRequestEntry
			for _, rec := range recs[start:min(start+250, len(recs))] {
				entries = append(entries, types.PutRecordsRequestEntry{
					Data: rec.AppendRealtime(nil, loggen.RealtimeFields), PartitionKey: aws.String(fmt.Sprint(rng.Uint64())),
				})
			}
			out, err := api.PutRecords(ctx, &awskinesis.PutRecordsInput{StreamName: &name, Records: entries})
			if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
				t.Fatalf("put records: %v (%d failed)", err, aws.ToInt32(out.FailedRecordCount))
			}
		}
	}
	put(s.records[:1000])
	put(s.records[900:950]) // redelivered
	db := openStore(t)
	consume := func() *ingest.Summary {
		t.Helper()
		stream := openKinesalite(t, endpoint, name)
		in, err := ingest.New(db, ingest.Config{Format: "cloudfront-realtime", Secret: testSecret})
		if err != nil {
			t.Fatal(err)
		}
		sum, err := in.RunStream(ctx, stream)
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}
	sum := consume()
	if sum.Events != 1000 || sum.Duplicates != 50 || sum.Lines != 1050 {
		t.Errorf("first run: %d events, %d duplicates, %d records; want 1000, 50, 1050", sum.Events, sum.Duplicates, sum.Lines)
	}
	put(s.records[1000:])
	sum = consume()
	if sum.Events != 500 || sum.Duplicates != 0 || sum.Lines != 500 {
		t.Errorf("second run: %d events, %d duplicates, %d records; want 500, 0, 500", sum.Events, sum.Duplicates, sum.Lines)
	}
	checkTruth(t, "kinesalite", db, s)
	cps, err := db.Checkpoints(ctx, name)
	if err != nil || len(cps) != 2 {
		t.Errorf("checkpoints %v, %v; want two shards", cps, err)
	}
}
