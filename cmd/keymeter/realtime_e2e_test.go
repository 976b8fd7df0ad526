package main

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/keymeter/keymeter/internal/loggen"
)

// rtData is a generated set of CloudFront real-time records and its
// truth: requests whose key is in the x-api-key header (any position,
// any case), in the query, nowhere, or in a header CloudFront's 800-byte
// cut dropped; and records delivered twice.
type rtData struct {
	keys     []loggen.Key
	records  []loggen.Record
	unique   map[string]loggen.Record
	fields   []string // the configured fields, in canonical order
	truncDay map[string]int64
}

// rtFields is a real-time log configuration of 24 fields: enough to meter,
// attribute and dedupe. configuredFields lists them in another order, as
// an operator might.
var (
	rtFields = []string{
		"timestamp", "c-ip", "time-to-first-byte", "sc-status", "sc-bytes", "cs-method", "cs-protocol", "cs-host",
		"cs-uri-stem", "cs-bytes", "x-edge-location", "x-edge-request-id", "x-host-header", "time-taken",
		"cs-user-agent", "cs-uri-query", "x-edge-result-type", "sc-content-type", "x-edge-detailed-result-type",
		"c-country", "cs-headers", "cs-header-names", "cs-headers-count", "asn",
	}
	configuredFields = func() []string {
		f := slices.Clone(rtFields)
		slices.Reverse(f)
		f[3], f[17] = f[17], f[3]
		return f
	}()
)

func makeRealtimeData(seed uint64, n int) *rtData {
	g := loggen.New(loggen.Config{
		Seed: seed, KeySeed: 77, Start: time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC), Span: 10 * 24 * time.Hour,
		Customers: 4, KeysPerCustomer: 2, UnknownKeys: 1, NoKeyPercent: 6, Paths: 20,
		HeaderKeyPercent: 60, TruncatedPercent: 12, BigHeadersPercent: 10,
	})
	d := &rtData{keys: g.Keys(), unique: map[string]loggen.Record{}, fields: rtFields, truncDay: map[string]int64{}}
	d.records = make([]loggen.Record, n)
	for i := range d.records {
		g.NextRealtime(&d.records[i])
	}
	d.add(d.records)
	return d
}

// more appends n new records (another seed), returning them.
func (d *rtData) more(seed uint64, n int) []loggen.Record {
	g := loggen.New(loggen.Config{
		Seed: seed, KeySeed: 77, Start: time.Date(2025, 10, 5, 0, 0, 0, 0, time.UTC), Span: 10 * 24 * time.Hour,
		Customers: 4, KeysPerCustomer: 2, UnknownKeys: 1, NoKeyPercent: 6, Paths: 20,
		HeaderKeyPercent: 60, TruncatedPercent: 12, BigHeadersPercent: 10,
	})
	recs := make([]loggen.Record, n)
	for i := range recs {
		g.NextRealtime(&recs[i])
	}
	d.records = append(d.records, recs...)
	d.add(recs)
	return recs
}

func (d *rtData) add(recs []loggen.Record) {
	for _, r := range recs {
		if _, ok := d.unique[r.RequestID]; ok {
			continue
		}
		d.unique[r.RequestID] = r
		if r.Truncated {
			d.truncDay[r.Time.Format("2006-01-02")]++
		}
	}
}

func (d *rtData) lines(recs []loggen.Record) []byte {
	var b []byte
	for i := range recs {
		b = recs[i].AppendRealtime(b, d.fields)
	}
	return b
}

func (d *rtData) keysCSV() string {
	return (&dataset{keys: d.keys}).keysCSV()
}

// perCustomer is the independent count: requests and bytes per
// customer ("" for unattributed requests).
func (d *rtData) perCustomer() map[string]totals {
	out := map[string]totals{}
	for _, r := range d.unique {
		name := ""
		if r.Key != nil {
			name = r.Key.Customer
		}
		v := out[name]
		v.Requests++
		v.Sent += r.BytesSent
		v.Recv += r.BytesRecv
		out[name] = v
	}
	return out
}

// check compares keymeter usage with the truth: per customer, and the
// requests lost to CloudFront's header cut per day.
func (d *rtData) check(t *testing.T, c *cli, stage string, printed *strings.Builder) {
	t.Helper()
	rows := usageJSON(t, c, "--by", "customer", "--source", "cloudfront-realtime", "--to", "2025-12-01")
	printed.WriteString(fmt.Sprint(rows))
	got := map[string]totals{}
	for _, row := range rows {
		name, _ := row["customer"].(string)
		got[name] = totals{num(t, row["requests"]), num(t, row["bytes_sent"]), num(t, row["bytes_received"])}
	}
	if want := d.perCustomer(); !maps.Equal(got, want) {
		t.Errorf("%s: per customer\n got %v\nwant %v", stage, got, want)
	}
	rows = usageJSON(t, c, "--by", "day,unattributed_reason", "--source", "cloudfront-realtime", "--to", "2025-12-01")
	truncated := map[string]int64{}
	for _, row := range rows {
		if row["unattributed_reason"] == "key_truncated" {
			truncated[row["day"].(string)] = num(t, row["requests"])
		}
	}
	if !maps.Equal(truncated, d.truncDay) {
		t.Errorf("%s: key_truncated per day\n got %v\nwant %v", stage, truncated, d.truncDay)
	}
	var all int64
	for _, n := range d.truncDay {
		all += n
	}
	if all < 50 || len(d.perCustomer()) != 5 {
		t.Fatalf("the data set tests too little: %d truncated, customers %v", all, d.perCustomer())
	}
}

// checkSummary compares an ingest summary's per-day key_truncated counts
// with the truth.
func (d *rtData) checkSummary(t *testing.T, stage string, sum summaryJSON, want map[string]int64) {
	t.Helper()
	if !maps.Equal(sum.TruncatedByDay, want) {
		t.Errorf("%s: summary's key_truncated_by_day\n got %v\nwant %v", stage, sum.TruncatedByDay, want)
	}
}

func decodeSummary(t *testing.T, r result2) summaryJSON {
	t.Helper()
	var sum summaryJSON
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil {
		t.Fatalf("summary: %v\nstdout: %s\nstderr: %s", err, r.stdout, r.stderr)
	}
	return sum
}

func newRealtimeCLI(t *testing.T, d *rtData) (*cli, *strings.Builder) {
	c := newCLI(t)
	printed := &strings.Builder{}
	keysFile := filepath.Join(t.TempDir(), "keys.csv")
	writeFile(t, keysFile, d.keysCSV())
	printed.WriteString(c.ok("keys", "import", keysFile))
	return c, printed
}

// TestRealtimeFiles ingests real-time records from files as Firehose
// writes them (gzip or plain, several members, redelivered records), with
// the field list from the config file, and checks the totals against the
// independent count.
func TestRealtimeFiles(t *testing.T) {
	d := makeRealtimeData(101, 6000)
	c, printed := newRealtimeCLI(t, d)
	dir := t.TempDir()
	recs := d.records
	writeFile(t, filepath.Join(dir, "2025/10/01/00/rt-stream-1-2025-10-01-00-00-00-a.gz"), string(gzipBytes(t, string(d.lines(recs[:2000])))))
	writeFile(t, filepath.Join(dir, "2025/10/01/01/rt-stream-1-2025-10-01-01-00-00-b.gz"),
		string(gzipBytes(t, string(d.lines(recs[2000:3000]))))+string(gzipBytes(t, string(d.lines(recs[3000:4000])))))
	writeFile(t, filepath.Join(dir, "2025/10/01/02/rt-stream-1-2025-10-01-02-00-00-c"), string(d.lines(append(slices.Clone(recs[4000:]), recs[100:300]...))))
	cfgFile := filepath.Join(c.data, "keymeter.yaml")
	writeFile(t, cfgFile, "realtime_fields: ["+strings.Join(configuredFields, ", ")+"]\n")

	r := c.run("ingest", "--format", "cloudfront-realtime", "--json", dir)
	printed.WriteString(r.stdout + r.stderr)
	if r.code != 0 {
		t.Fatalf("ingest: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	sum := decodeSummary(t, r)
	if sum.Events != int64(len(d.unique)) || sum.Duplicates != 200 || sum.Rejected != 0 || sum.Read != 3 {
		t.Errorf("summary %+v; want %d events, 200 duplicates", sum, len(d.unique))
	}
	d.checkSummary(t, "files", sum, d.truncDay)
	d.check(t, c, "files", printed)

	// The summary for people says how many requests lost their key, per day.
	writeFile(t, filepath.Join(dir, "late", "rt-d"), string(d.lines(d.more(102, 300))))
	r = c.run("ingest", "--format", "cloudfront-realtime", dir)
	printed.WriteString(r.stdout + r.stderr)
	if r.code != 0 || !strings.Contains(r.stdout, "key header truncated, per day") || !strings.Contains(r.stdout, "with the key header truncated") {
		t.Errorf("ingest summary:\n%s%s", r.stdout, r.stderr)
	}
	d.check(t, c, "files, more", printed)

	// A field list that does not match the records: every record is
	// rejected, with a reason that says what to do.
	bad := filepath.Join(t.TempDir(), "all-fields")
	writeFile(t, bad, string((&rtData{fields: loggen.RealtimeFields}).lines(d.records[:5])))
	r = c.run("ingest", "--format", "cloudfront-realtime", "--strict", bad)
	printed.WriteString(r.stdout + r.stderr)
	if r.code != exitPartial || !strings.Contains(r.stdout, "lines rejected:        5") {
		t.Errorf("mismatched field list: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	out := c.ok("rejects", "--format", "json", "--limit", "1")
	printed.WriteString(out)
	if !strings.Contains(out, "record has 45 fields, the configured list has 24") {
		t.Errorf("reject reason: %s", out)
	}
	checkNoRawKeys(t, c, &dataset{keys: d.keys}, printed.String())
}

// awsTestEnv points the AWS SDK at the test servers' credentials: s3rver
// checks signatures against the secret "S3RVER", kinesalite accepts any.
func awsTestEnv(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "S3RVER")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "S3RVER")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
}

// serverEndpoint returns the endpoint of a test server started by
// scripts/testenv.sh, from env var name.
func serverEndpoint(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		if os.Getenv("KEYMETER_REQUIRE_SERVERS") == "1" {
			t.Fatalf("%s is not set but KEYMETER_REQUIRE_SERVERS=1: run the tests with scripts/testenv.sh", name)
		}
		t.Skipf("%s is not set; run the tests with scripts/testenv.sh to test against a real server", name)
	}
	return v
}

// lockedBuffer is a bytes.Buffer safe for a command running in another
// goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// start runs a command in the background until ctx is done; wait returns
// its exit code.
func (c *cli) start(ctx context.Context, args ...string) (stdout, stderr *lockedBuffer, wait func() int) {
	stdout, stderr = &lockedBuffer{}, &lockedBuffer{}
	m := &Main{Stdin: strings.NewReader(""), Stdout: stdout, Stderr: stderr, Getenv: func(k string) string { return c.env[k] }}
	done := make(chan int, 1)
	go func() { done <- m.report(m.Run(ctx, append(args, "--data", c.data))) }()
	return stdout, stderr, func() int { return <-done }
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRealtimeS3 ingests Firehose objects of real-time records from
// s3rver: once, again (nothing is read twice), and following the prefix
// while new objects arrive.
func TestRealtimeS3(t *testing.T) {
	endpoint := serverEndpoint(t, "S3_ENDPOINT")
	awsTestEnv(t)
	api := awss3.New(awss3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
		Credentials:                credentials.NewStaticCredentialsProvider("S3RVER", "S3RVER", ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
	var rb [6]byte
	crand.Read(rb[:])
	bucket := "keymeter-rt-" + hex.EncodeToString(rb[:])
	if _, err := api.CreateBucket(context.Background(), &awss3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	put := func(key string, body []byte) {
		t.Helper()
		_, err := api.PutObject(context.Background(), &awss3.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	d := makeRealtimeData(201, 5000)
	recs := d.records
	put("rt/2025/10/01/00/rt-1-2025-10-01-00-00-00-a.gz", gzipBytes(t, string(d.lines(recs[:2500]))))
	put("rt/2025/10/01/01/rt-1-2025-10-01-01-00-00-b", d.lines(append(slices.Clone(recs[2500:]), recs[:150]...)))
	put("other/2025/not-listed", []byte("junk\n"))
	c, printed := newRealtimeCLI(t, d)
	src := "s3://" + bucket + "/rt/"
	fields := strings.Join(configuredFields, ",")

	r := c.run("ingest", "--format", "cloudfront-realtime", "--fields", fields, "--endpoint", endpoint, "--json", src)
	printed.WriteString(r.stdout + r.stderr)
	if r.code != 0 {
		t.Fatalf("ingest: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	sum := decodeSummary(t, r)
	if sum.Inputs != 2 || sum.Read != 2 || sum.Events != int64(len(d.unique)) || sum.Duplicates != 150 {
		t.Errorf("summary %+v", sum)
	}
	d.checkSummary(t, "s3", sum, d.truncDay)
	d.check(t, c, "s3", printed)

	r = c.run("ingest", "--format", "cloudfront-realtime", "--fields", fields, "--endpoint", endpoint, "--json", src)
	if sum := decodeSummary(t, r); r.code != 0 || sum.Read != 0 || len(sum.Skipped) != 2 || sum.Events != 0 {
		t.Errorf("second ingest: exit %d, %+v", r.code, sum)
	}

	// Follow the prefix; an object arrives; stop the follower.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, stderr, wait := c.start(ctx, "ingest", "--format", "cloudfront-realtime", "--fields", fields, "--endpoint", endpoint,
		"--follow", "--interval", "100ms", "--json", src)
	newRecs := d.more(202, 700)
	put("rt/2025/10/02/00/rt-1-2025-10-02-00-00-00-c.gz", gzipBytes(t, string(d.lines(newRecs))))
	waitFor(t, "the follower to ingest the new object", func() bool { return strings.Contains(stdout.String(), `"events":700,`) })
	cancel()
	if code := wait(); code != 0 {
		t.Fatalf("follower: exit %d\n%s\n%s", code, stdout, stderr)
	}
	printed.WriteString(stdout.String() + stderr.String())
	d.check(t, c, "s3 follow", printed)
	checkNoRawKeys(t, c, &dataset{keys: d.keys}, printed.String())
}

// kinesalite is a stream on the kinesalite started by scripts/testenv.sh.
type kinesalite struct {
	t        *testing.T
	endpoint string
	api      *awskinesis.Client
	name     string
	rng      uint64
}

func newKinesalite(t *testing.T, shards int32) *kinesalite {
	endpoint := serverEndpoint(t, "KINESIS_ENDPOINT")
	k := &kinesalite{t: t, endpoint: endpoint, api: awskinesis.New(awskinesis.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	})}
	var rb [6]byte
	crand.Read(rb[:])
	k.name = "keymeter-e2e-" + hex.EncodeToString(rb[:])
	if _, err := k.api.CreateStream(context.Background(), &awskinesis.CreateStreamInput{StreamName: &k.name, ShardCount: aws.Int32(shards)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.api.DeleteStream(context.Background(), &awskinesis.DeleteStreamInput{StreamName: &k.name}) })
	k.waitActive()
	return k
}

func (k *kinesalite) waitActive() {
	waitFor(k.t, "the stream to be active", func() bool {
		out, err := k.api.DescribeStreamSummary(context.Background(), &awskinesis.DescribeStreamSummaryInput{StreamName: &k.name})
		return err == nil && out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive
	})
}

// put writes one record per request, as CloudFront does.
func (k *kinesalite) put(d *rtData, recs []loggen.Record) {
	k.t.Helper()
	if err := k.tryPut(d, recs); err != nil {
		k.t.Fatal(err)
	}
}

// tryPut is put for goroutines other than the test's.
func (k *kinesalite) tryPut(d *rtData, recs []loggen.Record) error {
	for start := 0; start < len(recs); start += 500 {
		var entries []types.PutRecordsRequestEntry
		for _, r := range recs[start:min(start+500, len(recs))] {
			k.rng = k.rng*6364136223846793005 + 1442695040888963407
			entries = append(entries, types.PutRecordsRequestEntry{
				Data: r.AppendRealtime(nil, d.fields), PartitionKey: aws.String(fmt.Sprint(k.rng)),
			})
		}
		out, err := k.api.PutRecords(context.Background(), &awskinesis.PutRecordsInput{StreamName: &k.name, Records: entries})
		if err != nil {
			return fmt.Errorf("put records: %w", err)
		}
		if n := aws.ToInt32(out.FailedRecordCount); n != 0 {
			return fmt.Errorf("put records: %d failed", n)
		}
	}
	return nil
}

// split splits the stream's first open shard in the middle of its hash
// key range.
func (k *kinesalite) split() {
	k.t.Helper()
	if err := k.trySplit(); err != nil {
		k.t.Fatal(err)
	}
}

// trySplit is split for goroutines other than the test's.
func (k *kinesalite) trySplit() error {
	out, err := k.api.ListShards(context.Background(), &awskinesis.ListShardsInput{StreamName: &k.name})
	if err != nil {
		return err
	}
	for _, sh := range out.Shards {
		if sh.SequenceNumberRange.EndingSequenceNumber != nil {
			continue
		}
		lo, _ := new(big.Int).SetString(aws.ToString(sh.HashKeyRange.StartingHashKey), 10)
		hi, _ := new(big.Int).SetString(aws.ToString(sh.HashKeyRange.EndingHashKey), 10)
		mid := new(big.Int).Rsh(new(big.Int).Add(lo, hi), 1).String()
		if _, err := k.api.SplitShard(context.Background(), &awskinesis.SplitShardInput{
			StreamName: &k.name, ShardToSplit: sh.ShardId, NewStartingHashKey: &mid,
		}); err != nil {
			return err
		}
		for {
			out, err := k.api.DescribeStreamSummary(context.Background(), &awskinesis.DescribeStreamSummaryInput{StreamName: &k.name})
			if err != nil {
				return err
			}
			if out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
				return nil
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return fmt.Errorf("no open shard to split")
}

// TestRealtimeKinesis reads a Kinesis stream of real-time records, with
// redelivered records and a shard split between runs, and checks the
// totals against the independent count.
func TestRealtimeKinesis(t *testing.T) {
	k := newKinesalite(t, 2)
	awsTestEnv(t)
	d := makeRealtimeData(301, 4000)
	k.put(d, d.records[:3000])
	k.put(d, d.records[1000:1100]) // a producer retried
	c, printed := newRealtimeCLI(t, d)
	src := "kinesis://" + k.name
	fields := strings.Join(configuredFields, ",")

	r := c.run("ingest", src, "--endpoint", k.endpoint, "--fields", fields, "--json")
	printed.WriteString(r.stdout + r.stderr)
	if r.code != 0 {
		t.Fatalf("ingest: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	sum := decodeSummary(t, r)
	if sum.Lines != 3100 || sum.Events != 3000 || sum.Duplicates != 100 || sum.LagMillis == nil {
		t.Errorf("first run: %+v", sum)
	}
	k.split()
	k.put(d, d.records[3000:])
	r = c.run("ingest", src, "--endpoint", k.endpoint, "--fields", fields)
	printed.WriteString(r.stdout + r.stderr)
	if r.code != 0 || !strings.Contains(r.stdout, "records read:          1000") || !strings.Contains(r.stdout, "lag behind the tip:") {
		t.Errorf("second run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	d.check(t, c, "kinesis", printed)
	r = c.run("ingest", src, "--endpoint", k.endpoint, "--fields", fields, "--json")
	if sum := decodeSummary(t, r); sum.Lines != 0 || sum.Events != 0 {
		t.Errorf("third run, nothing new: %+v", sum)
	}
	if r := c.run("ingest", "kinesis://no-such-stream", "--endpoint", k.endpoint); r.code != exitNotFound {
		t.Errorf("missing stream: exit %d, %s", r.code, r.stderr)
	}
	checkNoRawKeys(t, c, &dataset{keys: d.keys}, printed.String())
}

func TestIngestSourceErrors(t *testing.T) {
	c := newCLI(t)
	tests := []struct {
		args     []string
		code     int
		contains string
	}{
		{[]string{"ingest", "--follow", "logs/"}, exitUsage, "--follow needs an s3:// or kinesis:// SOURCE"},
		{[]string{"ingest", "--follow", "logs/", "s3://b/p"}, exitUsage, "not files"},
		{[]string{"ingest", "kinesis://a", "kinesis://b"}, exitUsage, "must be the only one"},
		{[]string{"ingest", "kinesis://a", "logs/"}, exitUsage, "must be the only one"},
		{[]string{"ingest", "ftp://host/x"}, exitUsage, "unknown kind of source"},
		{[]string{"ingest", "--endpoint", "http://127.0.0.1:1", "logs/"}, exitUsage, "--endpoint and --region are for"},
		{[]string{"ingest", "--key-header", "x api key", "logs/"}, exitUsage, `key_header: "x api key"`},
		{[]string{"ingest", "--format", "cloudfront-realtime", "--fields", "timestamp,cs-hots", "logs/"}, exitUsage, `unknown real-time log field "cs-hots"`},
		{[]string{"ingest", "--format", "cloudfront-realtime", "--fields", "c-ip,sc-bytes", "logs/"}, exitUsage, "lacks timestamp"},
		{[]string{"ingest", "kinesis://"}, exitUsage, "names no stream"},
		{[]string{"ingest", "s3://"}, exitUsage, "names no bucket"},
	}
	for _, tt := range tests {
		r := c.run(tt.args...)
		if r.code != tt.code || !strings.Contains(r.stderr, tt.contains) {
			t.Errorf("keymeter %s: exit %d, stderr %q; want exit %d and %q", strings.Join(tt.args, " "), r.code, r.stderr, tt.code, tt.contains)
		}
	}
}
