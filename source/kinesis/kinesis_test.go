package kinesis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/keymeter/keymeter"
)

// kinesaliteEndpoint returns the endpoint of the kinesalite started by
// scripts/testenv.sh. Without it the test is skipped, unless
// KEYMETER_REQUIRE_SERVERS=1 says the servers were meant to be running.
func kinesaliteEndpoint(t *testing.T) string {
	t.Helper()
	v := os.Getenv("KINESIS_ENDPOINT")
	if v == "" {
		if os.Getenv("KEYMETER_REQUIRE_SERVERS") == "1" {
			t.Fatal("KINESIS_ENDPOINT is not set but KEYMETER_REQUIRE_SERVERS=1: run the tests with scripts/testenv.sh")
		}
		t.Skip("KINESIS_ENDPOINT is not set; run the tests with scripts/testenv.sh to test against kinesalite")
	}
	return v
}

// testConfig reads from endpoint without the pacing meant for AWS.
func testConfig(endpoint string) Config {
	return Config{
		Endpoint: endpoint, Region: "us-east-1", AccessKeyID: "test", SecretAccessKey: "test",
		MinInterval: time.Millisecond, PollInterval: 20 * time.Millisecond,
		Backoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
	}
}

func adminClient(endpoint string) *awskinesis.Client {
	return awskinesis.New(awskinesis.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
}

// createStream creates a stream with n shards and deletes it at the end.
func createStream(t *testing.T, api *awskinesis.Client, n int32) string {
	t.Helper()
	var r [6]byte
	rand.Read(r[:])
	name := "keymeter-test-" + hex.EncodeToString(r[:])
	ctx := context.Background()
	if _, err := api.CreateStream(ctx, &awskinesis.CreateStreamInput{StreamName: &name, ShardCount: aws.Int32(n)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		api.DeleteStream(context.Background(), &awskinesis.DeleteStreamInput{StreamName: &name})
	})
	waitActive(t, api, name)
	return name
}

func waitActive(t *testing.T, api *awskinesis.Client, name string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := api.DescribeStreamSummary(context.Background(), &awskinesis.DescribeStreamSummaryInput{StreamName: &name})
		if err == nil && out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream %s not active: %v", name, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// put writes records "record NNNN\n" for i in [from, to), with spread
// partition keys, and returns the sequence number of each.
func put(t *testing.T, api *awskinesis.Client, stream string, from, to int) map[int]string {
	t.Helper()
	seqs := make(map[int]string)
	for start := from; start < to; start += 100 {
		var entries []types.PutRecordsRequestEntry
		for i := start; i < min(start+100, to); i++ {
			entries = append(entries, types.PutRecordsRequestEntry{
				Data: []byte(fmt.Sprintf("record %04d\n", i)), PartitionKey: aws.String(fmt.Sprintf("pk-%d", i)),
			})
		}
		out, err := api.PutRecords(context.Background(), &awskinesis.PutRecordsInput{StreamName: &stream, Records: entries})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToInt32(out.FailedRecordCount) != 0 {
			t.Fatalf("%d records failed", aws.ToInt32(out.FailedRecordCount))
		}
		for j, r := range out.Records {
			seqs[start+j] = aws.ToString(r.SequenceNumber)
		}
	}
	return seqs
}

// collector gathers what a ReadAll delivers.
type collector struct {
	mu          sync.Mutex
	calls       int
	seen        map[string]int // record data → times delivered
	perShard    map[string][]string
	first, last map[string]int // shard → index of its first and last call with records
	checkpoints map[string]string
	lagSeen     bool
}

func newCollector(checkpoints map[string]string) *collector {
	c := &collector{
		seen: map[string]int{}, perShard: map[string][]string{}, first: map[string]int{}, last: map[string]int{},
		checkpoints: map[string]string{},
	}
	for k, v := range checkpoints {
		c.checkpoints[k] = v
	}
	return c
}

func (c *collector) fn(shard string, recs []Record, lastSeq string, millisBehind int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	if millisBehind < 0 {
		return fmt.Errorf("negative lag %d", millisBehind)
	}
	c.lagSeen = true
	if len(recs) == 0 {
		if lastSeq != c.checkpoints[shard] {
			return fmt.Errorf("empty page moved the checkpoint of %s from %q to %q", shard, c.checkpoints[shard], lastSeq)
		}
		return nil
	}
	if _, ok := c.first[shard]; !ok {
		c.first[shard] = c.calls
	}
	c.last[shard] = c.calls
	for _, r := range recs {
		c.seen[string(r.Data)]++
		c.perShard[shard] = append(c.perShard[shard], r.SequenceNumber)
		if r.ArrivalTime.IsZero() || r.PartitionKey == "" {
			return fmt.Errorf("record %s lacks arrival time or partition key", r.SequenceNumber)
		}
	}
	if lastSeq != recs[len(recs)-1].SequenceNumber {
		return fmt.Errorf("lastSeq %s is not the last record's %s", lastSeq, recs[len(recs)-1].SequenceNumber)
	}
	c.checkpoints[shard] = lastSeq // as ingest would, with the events
	return nil
}

// count returns how many distinct records were delivered.
func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

// check verifies that exactly records [from, to) were delivered, each
// once, in sequence order within each shard.
func (c *collector) check(t *testing.T, from, to int) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := from; i < to; i++ {
		if n := c.seen[fmt.Sprintf("record %04d\n", i)]; n != 1 {
			t.Errorf("record %d delivered %d times", i, n)
		}
	}
	if len(c.seen) != to-from {
		t.Errorf("%d distinct records delivered, want %d", len(c.seen), to-from)
	}
	for shard, seqs := range c.perShard {
		if !slices.IsSortedFunc(seqs, compareSeq) {
			t.Errorf("shard %s delivered out of sequence order", shard)
		}
	}
}

// checkLineage verifies that every child's records came after all of its
// parents' records, and that the order was actually exercised.
func (c *collector) checkLineage(t *testing.T, shards []Shard) (pairs int) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, sh := range shards {
		first, ok := c.first[sh.ID]
		if !ok {
			continue
		}
		for _, p := range sh.Parents {
			last, ok := c.last[p]
			if !ok {
				continue
			}
			pairs++
			if last >= first {
				t.Errorf("child %s was read (call %d) before its parent %s was done (call %d)", sh.ID, first, p, last)
			}
		}
	}
	return pairs
}

// compareSeq orders Kinesis sequence numbers: decimal strings of up to
// 128 bits.
func compareSeq(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}

func TestReadAllAcrossResharding(t *testing.T) {
	endpoint := kinesaliteEndpoint(t)
	api := adminClient(endpoint)
	stream := createStream(t, api, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	put(t, api, stream, 0, 300)
	cfg := testConfig(endpoint)
	cfg.Limit = 64 // several pages per shard
	s, err := Open(ctx, cfg, stream)
	if err != nil {
		t.Fatal(err)
	}
	shards, err := s.Shards(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(shards) != 2 || shards[0].Closed() || shards[1].Closed() || len(shards[0].Parents) != 0 {
		t.Fatalf("Shards = %+v", shards)
	}

	c1 := newCollector(nil)
	if err := s.ReadAll(ctx, nil, c1.fn); err != nil {
		t.Fatal(err)
	}
	c1.check(t, 0, 300)
	if len(c1.perShard) != 2 {
		t.Errorf("records came from %d shards, want 2", len(c1.perShard))
	}

	// Split the first shard, write, merge its upper child with the
	// second shard, write again: a lineage of closed parents (0, 1, 3)
	// and open children (2, 4).
	split := shards[0]
	splitAt := midHashKey(t, api, stream, split.ID)
	if _, err := api.SplitShard(ctx, &awskinesis.SplitShardInput{
		StreamName: &stream, ShardToSplit: &split.ID, NewStartingHashKey: &splitAt,
	}); err != nil {
		t.Fatal(err)
	}
	waitActive(t, api, stream)
	put(t, api, stream, 300, 400)
	shards, err = s.Shards(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var upper Shard
	for _, sh := range shards {
		if slices.Equal(sh.Parents, []string{split.ID}) && hashStart(t, api, stream, sh.ID) == splitAt {
			upper = sh
		}
	}
	if upper.ID == "" {
		t.Fatalf("no child of %s starts at %s: %+v", split.ID, splitAt, shards)
	}
	if _, err := api.MergeShards(ctx, &awskinesis.MergeShardsInput{
		StreamName: &stream, ShardToMerge: &upper.ID, AdjacentShardToMerge: &shards[1].ID,
	}); err != nil {
		t.Fatal(err)
	}
	waitActive(t, api, stream)
	put(t, api, stream, 400, 600)
	shards, err = s.Shards(ctx)
	if err != nil {
		t.Fatal(err)
	}
	closed, merged := 0, 0
	for _, sh := range shards {
		if sh.Closed() {
			closed++
		}
		if len(sh.Parents) == 2 {
			merged++
		}
	}
	if len(shards) != 5 || closed != 3 || merged != 1 {
		t.Fatalf("after resharding, Shards = %+v", shards)
	}

	t.Run("Resume", func(t *testing.T) {
		c := newCollector(c1.checkpoints)
		if err := s.ReadAll(ctx, c1.checkpoints, c.fn); err != nil {
			t.Fatal(err)
		}
		c.check(t, 300, 600)
		if pairs := c.checkLineage(t, shards); pairs < 2 {
			t.Errorf("only %d parent/child pairs both delivered records", pairs)
		}
		// Reading again from the new checkpoints finds nothing.
		c2 := newCollector(c.checkpoints)
		if err := s.ReadAll(ctx, c.checkpoints, c2.fn); err != nil {
			t.Fatal(err)
		}
		c2.check(t, 0, 0)
	})

	t.Run("CrashAtEveryPage", func(t *testing.T) {
		// Ingest stores each page's events and checkpoint in one
		// transaction. Kill it at each page in turn, before the commit,
		// and restart from what was committed: every record ends up
		// stored exactly once.
		stored := map[string]int{}
		committed := map[string]string{}
		errCrash := errors.New("crash")
		for run := 1; ; run++ {
			if run > 200 {
				t.Fatal("no end after 200 runs")
			}
			pages := 0
			err := s.ReadAll(ctx, committed, func(shard string, recs []Record, lastSeq string, _ int64) error {
				if len(recs) == 0 {
					return nil
				}
				if pages++; pages == run {
					return errCrash // dies before committing this page
				}
				for _, r := range recs { // the transaction
					stored[string(r.Data)]++
				}
				committed[shard] = lastSeq
				return nil
			})
			if err == nil {
				break
			}
			if err != errCrash {
				t.Fatal(err)
			}
		}
		for i := range 600 {
			if n := stored[fmt.Sprintf("record %04d\n", i)]; n != 1 {
				t.Errorf("record %d stored %d times", i, n)
			}
		}
		if len(stored) != 600 {
			t.Errorf("%d records stored, want 600", len(stored))
		}
	})

	t.Run("FromTrimHorizon", func(t *testing.T) {
		c := newCollector(nil)
		if err := s.ReadAll(ctx, nil, c.fn); err != nil {
			t.Fatal(err)
		}
		c.check(t, 0, 600)
		if pairs := c.checkLineage(t, shards); pairs != 4 {
			t.Errorf("%d parent/child pairs both delivered records, want 4", pairs)
		}
	})
}

// midHashKey returns the middle of a shard's hash key range.
func midHashKey(t *testing.T, api *awskinesis.Client, stream, shard string) string {
	t.Helper()
	r := hashRange(t, api, stream, shard)
	lo, _ := new(big.Int).SetString(aws.ToString(r.StartingHashKey), 10)
	hi, _ := new(big.Int).SetString(aws.ToString(r.EndingHashKey), 10)
	return new(big.Int).Rsh(new(big.Int).Add(lo, hi), 1).String()
}

func hashStart(t *testing.T, api *awskinesis.Client, stream, shard string) string {
	return aws.ToString(hashRange(t, api, stream, shard).StartingHashKey)
}

func hashRange(t *testing.T, api *awskinesis.Client, stream, shard string) *types.HashKeyRange {
	t.Helper()
	out, err := api.ListShards(context.Background(), &awskinesis.ListShardsInput{StreamName: &stream})
	if err != nil {
		t.Fatal(err)
	}
	for _, sh := range out.Shards {
		if aws.ToString(sh.ShardId) == shard {
			return sh.HashKeyRange
		}
	}
	t.Fatalf("no shard %s", shard)
	return nil
}

func TestReadFromCheckpoint(t *testing.T) {
	endpoint := kinesaliteEndpoint(t)
	api := adminClient(endpoint)
	stream := createStream(t, api, 1)
	seqs := put(t, api, stream, 0, 50)
	ctx := context.Background()
	s, err := Open(ctx, testConfig(endpoint), stream)
	if err != nil {
		t.Fatal(err)
	}
	shards, err := s.Shards(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := newCollector(nil)
	closed, err := s.Read(ctx, shards[0].ID, seqs[19], func(recs []Record, lastSeq string, ms int64) error {
		return c.fn(shards[0].ID, recs, lastSeq, ms)
	})
	if err != nil || closed {
		t.Fatalf("Read = %v, %v", closed, err)
	}
	c.check(t, 20, 50)
	if got := c.checkpoints[shards[0].ID]; got != seqs[49] {
		t.Errorf("checkpoint = %s, want %s", got, seqs[49])
	}

	_, err = s.Read(ctx, shards[0].ID, "not-a-sequence-number", func([]Record, string, int64) error { return nil })
	if keymeter.ErrorCode(err) != keymeter.EINVALID || !strings.Contains(err.Error(), "checkpoint not-a-sequence-number") {
		t.Errorf("Read from a bad checkpoint = %v", err)
	}

	stop := errors.New("stop")
	_, err = s.Read(ctx, shards[0].ID, "", func([]Record, string, int64) error { return stop })
	if err != stop {
		t.Errorf("Read returned %v, want the callback's error as it is", err)
	}
}

// TestThrottlingAndExpiry puts a proxy in front of kinesalite that
// throttles GetRecords, then expires the iterator, as Kinesis does under
// load and when a consumer is slow.
func TestThrottlingAndExpiry(t *testing.T) {
	endpoint := kinesaliteEndpoint(t)
	api := adminClient(endpoint)
	stream := createStream(t, api, 1)
	put(t, api, stream, 0, 40)

	target, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	var getRecords, iterators atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fail := func(typ string) {
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"__type":%q,"message":"injected by the test"}`, typ)
		}
		switch r.Header.Get("X-Amz-Target") {
		case "Kinesis_20131202.GetShardIterator":
			iterators.Add(1)
		case "Kinesis_20131202.GetRecords":
			switch n := getRecords.Add(1); {
			case n <= 3:
				fail("ProvisionedThroughputExceededException")
				return
			case n == 5: // after one page
				fail("ExpiredIteratorException")
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	cfg := testConfig(srv.URL)
	cfg.RetryMaxAttempts = 1 // let Read see every throttle
	cfg.Limit = 15
	ctx := context.Background()
	s, err := Open(ctx, cfg, stream)
	if err != nil {
		t.Fatal(err)
	}
	shards, err := s.Shards(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := newCollector(nil)
	if _, err := s.Read(ctx, shards[0].ID, "", func(recs []Record, lastSeq string, ms int64) error {
		return c.fn(shards[0].ID, recs, lastSeq, ms)
	}); err != nil {
		t.Fatal(err)
	}
	c.check(t, 0, 40)
	if n := iterators.Load(); n != 2 {
		t.Errorf("%d GetShardIterator calls, want 2 (one renewal after expiry)", n)
	}
}

func TestFollow(t *testing.T) {
	endpoint := kinesaliteEndpoint(t)
	api := adminClient(endpoint)
	stream := createStream(t, api, 2)
	put(t, api, stream, 0, 10)
	cfg := testConfig(endpoint)
	cfg.Follow = true
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Open(ctx, cfg, stream)
	if err != nil {
		t.Fatal(err)
	}
	c := newCollector(nil)
	done := make(chan error, 1)
	readCtx, stopReading := context.WithCancel(ctx)
	go func() { done <- s.ReadAll(readCtx, nil, c.fn) }()

	waitFor(t, func() bool { return c.count() == 10 })
	select {
	case err := <-done:
		t.Fatalf("ReadAll returned while following: %v", err)
	default:
	}
	put(t, api, stream, 10, 30)
	waitFor(t, func() bool { return c.count() == 30 })
	stopReading()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("ReadAll after cancel = %v, want context.Canceled", err)
	}
	c.check(t, 0, 30)
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStreamNotFound(t *testing.T) {
	endpoint := kinesaliteEndpoint(t)
	_, err := Open(context.Background(), testConfig(endpoint), "keymeter-no-such-stream")
	if keymeter.ErrorCode(err) != keymeter.ENOTFOUND || !strings.Contains(err.Error(), `"keymeter-no-such-stream" does not exist`) {
		t.Errorf("Open of a missing stream = %v", err)
	}
}

// TestShardsPagination checks ListShards continuation against a fake
// server: kinesalite returns every shard in one page.
func TestShardsPagination(t *testing.T) {
	var mu sync.Mutex
	var requests []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req map[string]any
		json.Unmarshal(body, &req)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		switch r.Header.Get("X-Amz-Target") {
		case "Kinesis_20131202.DescribeStreamSummary":
			io.WriteString(w, `{"StreamDescriptionSummary":{"StreamName":"s","StreamStatus":"ACTIVE"}}`)
		case "Kinesis_20131202.ListShards":
			mu.Lock()
			requests = append(requests, req)
			n := len(requests)
			mu.Unlock()
			switch n {
			case 1:
				io.WriteString(w, `{"Shards":[{"ShardId":"shardId-000000000000","SequenceNumberRange":{"StartingSequenceNumber":"1","EndingSequenceNumber":"9"}}],"NextToken":"page-2"}`)
			default:
				io.WriteString(w, `{"Shards":[{"ShardId":"shardId-000000000001","ParentShardId":"shardId-000000000000","SequenceNumberRange":{"StartingSequenceNumber":"10"}}]}`)
			}
		default:
			w.WriteHeader(http.StatusBadRequest)
		}
	}))
	t.Cleanup(srv.Close)
	ctx := context.Background()
	s, err := Open(ctx, testConfig(srv.URL), "s")
	if err != nil {
		t.Fatal(err)
	}
	shards, err := s.Shards(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []Shard{
		{ID: "shardId-000000000000", StartingSequence: "1", EndingSequence: "9"},
		{ID: "shardId-000000000001", Parents: []string{"shardId-000000000000"}, StartingSequence: "10"},
	}
	if fmt.Sprint(shards) != fmt.Sprint(want) || !shards[0].Closed() || shards[1].Closed() {
		t.Errorf("Shards = %+v\nwant %+v", shards, want)
	}
	if len(requests) != 2 || requests[0]["StreamName"] != "s" || requests[1]["NextToken"] != "page-2" || requests[1]["StreamName"] != nil {
		t.Errorf("ListShards requests = %v", requests)
	}
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"kinesis://cf-realtime-logs", "cf-realtime-logs", true},
		{"kinesis://cf-realtime-logs/", "cf-realtime-logs", true},
		{"KINESIS://x", "x", true},
		{"kinesis://arn:aws:kinesis:eu-west-1:123456789012:stream/cf-logs", "arn:aws:kinesis:eu-west-1:123456789012:stream/cf-logs", true},
		{"kinesis://", "", false},
		{"kinesis://a/b", "", false},
		{"s3://bucket", "", false},
		{"cf-realtime-logs", "", false},
	}
	for _, tt := range tests {
		got, err := ParseURL(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseURL(%q) = %q, %v", tt.in, got, err)
		}
		if err != nil && keymeter.ErrorCode(err) != keymeter.EINVALID {
			t.Errorf("ParseURL(%q) error code %s", tt.in, keymeter.ErrorCode(err))
		}
	}
}
