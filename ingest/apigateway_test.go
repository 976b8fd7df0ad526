package ingest_test

import (
	"bytes"
	"fmt"
	"github.com/aws/aws-sdk-go-v2/aws"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/format/apigateway"
	"github.com/keymeter/keymeter/ingest"
	"github.com/keymeter/keymeter/internal/loggen"
	"github.com/keymeter/keymeter/store/duckdb"
)

// originRecords generates n requests and returns those that reach the
// origin, in time order, with the keys used.
func originRecords(seed uint64, n int) ([]loggen.Record, []loggen.Key) {
	gen := loggen.New(loggen.Config{Seed: seed, Start: time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC), Span: 3 * 24 * time.Hour,
		Customers: 2, KeysPerCustomer: 2, UnknownKeys: 1, NoKeyPercent: 10})
	var out []loggen.Record
	for range n {
		var r loggen.Record
		gen.Next(&r)
		if r.ReachesOrigin() {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, gen.Keys()
}

// byCaller returns the stored requests per api_key column of the events
// view ("<null>" when unattributed).
func byCaller(t *testing.T, db *duckdb.DB) map[string]int64 {
	t.Helper()
	tab, err := db.QuerySQL(ctx, `SELECT coalesce(api_key, '<null>'), count(*) FROM events WHERE source = 'apigateway' GROUP BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, r := range tab.Rows {
		got[r[0].(string)] = r[1].(int64)
	}
	return got
}

// wantCallers counts records by their origin identity.
func wantCallers(recs []loggen.Record) map[string]int64 {
	want := map[string]int64{}
	for _, r := range recs {
		if r.Key == nil {
			want["<null>"]++
		} else {
			want["apikeyid:"+r.Key.APIKeyID()]++
		}
	}
	return want
}

func TestAPIGatewayLines(t *testing.T) {
	db := openStore(t)
	recs, keys := originRecords(11, 400)
	var b []byte
	for i := range recs {
		b = recs[i].AppendAPIGatewayJSON(b, loggen.APIGatewayOptions{LogAPIKey: i%2 == 0})
	}
	// A CLF line (no API key ID: unattributed), a value with a quote that
	// breaks the JSON, next to the raw key, and a blank line.
	rawKey := keys[0].Key
	b = append(b, `198.51.100.2 - - [02/Oct/2025:16:40:24 +0000] "OPTIONS /pets HTTP/1.1" 200 0 clf-request-1`+"\n"...)
	b = append(b, `{"requestId":"r-broken","requestTimeEpoch":"1759276800000","apiKey":"`+rawKey+`","userAgent":"say "hi"","status":"200"}`+"\n\n"...)
	sum := run(t, db, ingest.Config{Format: "apigateway"}, input("access.log", b), input("again.log", append([]byte(nil), b[:bytes.IndexByte(b[len(b)/2:], '\n')+len(b)/2+1]...)))
	if sum.Events != int64(len(recs))+1 || sum.Rejected != 1 {
		t.Errorf("events %d, rejected %d; want %d and 1", sum.Events, sum.Rejected, len(recs)+1)
	}
	if sum.Duplicates == 0 {
		t.Error("the repeated lines were not taken for duplicates")
	}
	want := wantCallers(recs)
	want["<null>"]++ // the CLF line
	if got := byCaller(t, db); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("requests by caller\n got %v\nwant %v", got, want)
	}
	rejects, err := db.Rejects(ctx, keymeter.RejectFilter{})
	if err != nil || len(rejects) != 1 {
		t.Fatalf("rejects %+v, %v", rejects, err)
	}
	r := rejects[0]
	if r.Source != keymeter.SourceAPIGateway || !strings.Contains(r.Reason, "invalid JSON") || r.Field != "userAgent" {
		t.Errorf("reject %+v", r)
	}
	fp := keymeter.NewFingerprinter([]byte("0123456789abcdef")).Fingerprint([]byte(rawKey)).Fingerprint
	if strings.Contains(r.Text, rawKey) || !strings.Contains(r.Text, `"apiKey":"`+fp+`"`) {
		t.Errorf("reject text does not hide the key behind its fingerprint: %s", r.Text)
	}
	// Every time is the request's, and every dimension is in its column.
	tab, err := db.QuerySQL(ctx, `SELECT min(request_time), count(DISTINCT resource_path), any_value(stage), any_value(api_id),
		count(*) FILTER (WHERE api_request_id IS NULL), count(*) FILTER (WHERE path NOT LIKE '/prod/%') FROM apigateway_logs WHERE protocol = 'HTTP/1.1' AND api_key_id IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	row := tab.Rows[0]
	if !row[0].(time.Time).Equal(recs[0].OriginTime()) || row[1].(int64) < 10 || row[2] != "prod" || row[3] != "a1b2c3d4e5" || row[4].(int64) != 0 || row[5].(int64) != 0 {
		t.Errorf("apigateway_logs: %v (first request at %v)", row, recs[0].OriginTime())
	}
}

func TestAPIGatewayCloudWatch(t *testing.T) {
	db := openStore(t)
	recs, _ := originRecords(12, 600)
	events := make([]loggen.CloudWatchEvent, len(recs))
	for i := range recs {
		events[i] = recs[i].CloudWatchEventOf(loggen.APIGatewayOptions{})
	}
	const group = "API-Gateway-Execution-Logs_a1b2c3d4e5/prod"
	payload := func(evs []loggen.CloudWatchEvent) []byte { return loggen.CloudWatchPayload(group, "s1", evs) }
	n := len(events)
	// A Firehose object: gzip members of concatenated payloads, with a
	// control message first.
	firehose := loggen.Gzip(append(loggen.CloudWatchControlMessage(), payload(events[:n/4])...))
	firehose = append(firehose, loggen.Gzip(append(payload(events[n/4:n/3]), payload(events[n/3:n/2])...))...)
	// Kinesis records: one gzip payload each, the last one redelivered
	// with some of the Firehose events (a retry, re-batched).
	kinesis1 := loggen.Gzip(payload(events[n/2 : 3*n/4]))
	kinesis2 := loggen.Gzip(payload(append(append([]loggen.CloudWatchEvent(nil), events[3*n/4:]...), events[:20]...)))
	// A Lambda event, and a payload that is JSON but not usable beside it.
	lambda := append(loggen.LambdaEvent(loggen.Gzip(payload(events[n/2:n/2+30]))), `{"messageType":"DATA_MESSAGE"}`...)
	sum := run(t, db, ingest.Config{Format: "apigateway-cloudwatch"},
		input("firehose/2025/10/01/amazon-apigateway-x-1", firehose), input("kinesis/1", kinesis1),
		input("kinesis/2", kinesis2), input("lambda/1.json", lambda), input("export/aws-logs-write-test", []byte("Permission Check Successful")))
	if sum.Events != int64(n) || sum.Duplicates != 50 || sum.Rejected != 1 {
		t.Errorf("events %d, duplicates %d, rejected %d; want %d, 50, 1", sum.Events, sum.Duplicates, sum.Rejected, n)
	}
	if len(sum.Skipped) != 1 || !strings.Contains(sum.Skipped[0].Reason, "permission check") {
		t.Errorf("skipped %+v", sum.Skipped)
	}
	if got, want := byCaller(t, db), wantCallers(recs); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("requests by caller\n got %v\nwant %v", got, want)
	}
	rejects, _ := db.Rejects(ctx, keymeter.RejectFilter{})
	if len(rejects) != 1 || rejects[0].Object != "lambda/1.json" || rejects[0].Line != 31 || !strings.Contains(rejects[0].Reason, "no logEvents") {
		t.Errorf("rejects %+v", rejects)
	}
}

func TestAPIGatewayExport(t *testing.T) {
	db := openStore(t)
	recs, _ := originRecords(13, 300)
	var b strings.Builder
	for i := range recs {
		b.WriteString(loggen.ExportLine(recs[i].CloudWatchEventOf(loggen.APIGatewayOptions{})))
	}
	b.WriteString("not an export line\n")
	sum := run(t, db, ingest.Config{Format: "apigateway-export"}, input("exports/t1/stream/000000.gz", gz(b.String())),
		input("exports/aws-logs-write-test", []byte("Permission Check Successful")))
	if sum.Events != int64(len(recs)) || sum.Rejected != 1 || len(sum.Skipped) != 1 {
		t.Errorf("summary %+v", sum)
	}
	rejects, _ := db.Rejects(ctx, keymeter.RejectFilter{})
	if len(rejects) != 1 || !strings.Contains(rejects[0].Reason, "not a CloudWatch Logs export line") {
		t.Errorf("rejects %+v", rejects)
	}
	// The request times, not CloudWatch's.
	tab, err := db.QuerySQL(ctx, `SELECT min(time) FROM events`)
	if err != nil || !tab.Rows[0][0].(time.Time).Equal(recs[0].OriginTime()) {
		t.Errorf("first time %v, %v; want %v", tab, err, recs[0].OriginTime())
	}
}

// TestAPIGatewayIdentity attributes HTTP API requests to the operator's
// identity field, and REST requests that log only the key to its
// fingerprint.
func TestAPIGatewayIdentity(t *testing.T) {
	db := openStore(t)
	m := apigateway.DefaultMapping()
	m.Identity = []string{"authorizer.principalId"}
	lines := `{"requestId":"h1","requestTimeEpoch":"1759276800000","routeKey":"GET /pets","authorizer":{"principalId":"tenant-42"}}
{"requestId":"h2","requestTimeEpoch":"1759276801000","routeKey":"GET /pets","authorizer":{"principalId":"tenant-42"}}
{"requestId":"h3","requestTimeEpoch":"1759276802000","routeKey":"GET /pets","authorizer":{"principalId":"-"}}
{"requestId":"r1","requestTimeEpoch":"1759276803000","apiKey":"km_secret_0123456789"}
{"requestId":"r2","requestTimeEpoch":"1759276804000","apiKey":"km_secret_0123456789","apiKeyId":"k1a2b3c4d5","authorizer":{"principalId":"tenant-42"}}
`
	sum := run(t, db, ingest.Config{Format: "apigateway", APIGateway: ingest.APIGateway{Template: ingest.TemplateJSON, Mapping: &m}}, input("http.log", []byte(lines)))
	if sum.Events != 5 || sum.Unattributed[keymeter.NoKey] != 1 {
		t.Errorf("summary %+v", sum)
	}
	fp := keymeter.NewFingerprinter([]byte("0123456789abcdef")).Fingerprint([]byte("km_secret_0123456789"))
	want := map[string]int64{"identity:tenant-42": 2, "<null>": 1, fp.Fingerprint: 1, "apikeyid:k1a2b3c4d5": 1}
	if got := byCaller(t, db); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("requests by caller\n got %v\nwant %v", got, want)
	}
	keys, _ := db.ListKeys(ctx)
	for _, k := range keys {
		if k.Fingerprint == fp.Fingerprint && k.Hint != "6789" {
			t.Errorf("the logged key has hint %q", k.Hint)
		}
	}
}

func TestAPIGatewayConfig(t *testing.T) {
	db := openStore(t)
	for _, cfg := range []ingest.APIGateway{
		{Template: "xml"},
		{Mapping: &apigateway.Mapping{Method: []string{"httpMethod"}}},
	} {
		_, err := ingest.New(db, ingest.Config{Format: "apigateway-cloudwatch", Secret: []byte("0123456789abcdef"), APIGateway: cfg})
		if keymeter.ErrorCode(err) != keymeter.EINVALID {
			t.Errorf("%+v: %v, want EINVALID", cfg, err)
		}
	}
	// A CLF template ignores the mapping.
	if _, err := ingest.New(db, ingest.Config{Format: "apigateway", Secret: []byte("0123456789abcdef"),
		APIGateway: ingest.APIGateway{Template: ingest.TemplateCLF, Mapping: &apigateway.Mapping{}}}); err != nil {
		t.Errorf("CLF: %v", err)
	}
}

// TestAPIGatewayCloudWatchKinesis reads API Gateway access logs from a
// CloudWatch Logs subscription to Kinesis, on kinesalite: one gzip
// payload per record, with a control message, a record that is not a
// payload, and a retried payload.
func TestAPIGatewayCloudWatchKinesis(t *testing.T) {
	endpoint := kinesisEndpoint(t)
	api, name := kinesaliteStream(t, endpoint)
	recs, _ := originRecords(21, 900)
	const group = "API-Gateway-Execution-Logs_a1b2c3d4e5/prod"
	var data [][]byte
	for start := 0; start < len(recs); start += 50 {
		var evs []loggen.CloudWatchEvent
		for i := start; i < min(start+50, len(recs)); i++ {
			evs = append(evs, recs[i].CloudWatchEventOf(loggen.APIGatewayOptions{}))
		}
		data = append(data, loggen.Gzip(loggen.CloudWatchPayload(group, fmt.Sprint("s", start), evs)))
	}
	data = append(data, loggen.Gzip(loggen.CloudWatchControlMessage()), []byte("not a payload"), data[3])
	for i, d := range data {
		_, err := api.PutRecord(ctx, &awskinesis.PutRecordInput{StreamName: &name, Data: d, PartitionKey: aws.String(fmt.Sprint(i))})
		if err != nil {
			t.Fatal(err)
		}
	}
	db := openStore(t)
	in, err := ingest.New(db, ingest.Config{Format: "apigateway-cloudwatch", Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := in.RunStream(ctx, openKinesalite(t, endpoint, name))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Events != int64(len(recs)) || sum.Duplicates != 50 || sum.Rejected != 1 {
		t.Errorf("events %d, duplicates %d, rejected %d; want %d, 50, 1", sum.Events, sum.Duplicates, sum.Rejected, len(recs))
	}
	if got, want := byCaller(t, db), wantCallers(recs); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("requests by caller\n got %v\nwant %v", got, want)
	}
	rejects, _ := db.Rejects(ctx, keymeter.RejectFilter{})
	if len(rejects) != 1 || !strings.Contains(rejects[0].Reason, "unreadable record") || !strings.HasPrefix(rejects[0].Object, "kinesis://"+name) {
		t.Errorf("rejects %+v", rejects)
	}
}
