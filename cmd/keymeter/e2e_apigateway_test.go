package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/keymeter/keymeter/internal/loggen"
)

// traffic is generated requests seen at the edge, and the keys used.
type traffic struct {
	records []loggen.Record // in time order
	keys    []loggen.Key
}

func makeTraffic(seed uint64, n int) *traffic {
	gen := loggen.New(loggen.Config{
		Seed: seed, Start: time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC), Span: 31 * 24 * time.Hour,
		Customers: 4, KeysPerCustomer: 2, UnknownKeys: 1, NoKeyPercent: 5, Paths: 20,
	})
	tr := &traffic{records: make([]loggen.Record, n), keys: gen.Keys()}
	for i := range tr.records {
		gen.Next(&tr.records[i])
	}
	sort.SliceStable(tr.records, func(i, j int) bool { return tr.records[i].Time.Before(tr.records[j].Time) })
	return tr
}

// origin returns the requests that reach the origin.
func (tr *traffic) origin() []loggen.Record {
	var out []loggen.Record
	for _, r := range tr.records {
		if r.ReachesOrigin() {
			out = append(out, r)
		}
	}
	return out
}

// keysCSV links each owned key to its customer, with its API Gateway key
// ID on the same row; with idOnly, the key IDs are imported alone.
func (tr *traffic) keysCSV(idOnly bool) string {
	var b strings.Builder
	if idOnly {
		b.WriteString("customer,api_key_id\n")
	} else {
		b.WriteString("customer,api_key,api_key_id\n")
	}
	for _, k := range tr.keys {
		switch {
		case k.Customer == "":
		case idOnly:
			fmt.Fprintf(&b, "%s,%s\n", k.Customer, k.APIKeyID())
		default:
			fmt.Fprintf(&b, "%s,%s,%s\n", k.Customer, k.Key, k.APIKeyID())
		}
	}
	return b.String()
}

// writeEdgeLogs writes the edge's standard logs, one gzip file per week.
func writeEdgeLogs(t *testing.T, dir string, recs []loggen.Record) {
	t.Helper()
	byWeek := map[int][]byte{}
	for i := range recs {
		w := (recs[i].Time.Day() - 1) / 7
		if byWeek[w] == nil {
			byWeek[w] = []byte(loggen.Header(loggen.StandardFields))
		}
		byWeek[w] = recs[i].AppendLine(byWeek[w], loggen.StandardFields)
	}
	for w, b := range byWeek {
		writeFile(t, filepath.Join(dir, fmt.Sprintf("E2EXAMPLE.2025-10-%02d-00.w%d.gz", w*7+1, w)), string(gzipBytes(t, string(b))))
	}
}

// writeSubscriptionDeliveries writes the origin's log events as the
// destinations of a CloudWatch Logs subscription filter receive them, in
// payloads of up to 40 events: Firehose objects (gzip members of
// concatenated payloads, a control message first), Kinesis records (one
// gzip payload each, a control message among them) and Lambda events.
// Every 7th payload is delivered a second time, re-batched into one
// retry file, as Kinesis and Lambda retries do.
func writeSubscriptionDeliveries(t *testing.T, dir string, events []loggen.CloudWatchEvent) {
	t.Helper()
	const group = "API-Gateway-Access-Logs_a1b2c3d4e5/prod"
	var payloads [][]loggen.CloudWatchEvent
	for i := 0; i < len(events); i += 40 {
		payloads = append(payloads, events[i:min(i+40, len(events))])
	}
	var firehose []byte
	var retry []loggen.CloudWatchEvent
	for i, p := range payloads {
		data := loggen.CloudWatchPayload(group, fmt.Sprintf("stream-%d", i%3), p)
		switch i % 3 {
		case 0: // Firehose: several payloads per gzip member
			if len(firehose) == 0 {
				firehose = append(firehose, loggen.Gzip(loggen.CloudWatchControlMessage())...)
			}
			firehose = append(firehose, loggen.Gzip(append(data, loggen.CloudWatchPayload(group, "x", p[:0])...))...)
			if len(firehose) > 64<<10 {
				writeFile(t, filepath.Join(dir, "firehose", fmt.Sprintf("amazon-apigateway-stream-1-2025-10-%04d", i)), string(firehose))
				firehose = nil
			}
		case 1: // Kinesis: the record's data
			writeFile(t, filepath.Join(dir, "kinesis", fmt.Sprintf("shard-0-%05d.bin", i)), string(loggen.Gzip(data)))
		case 2: // Lambda
			writeFile(t, filepath.Join(dir, "lambda", fmt.Sprintf("event-%05d.json", i)), string(loggen.LambdaEvent(loggen.Gzip(data))))
		}
		if i%7 == 0 {
			retry = append(retry, p...)
		}
	}
	if len(firehose) > 0 {
		writeFile(t, filepath.Join(dir, "firehose", "amazon-apigateway-stream-1-2025-10-last"), string(firehose))
	}
	writeFile(t, filepath.Join(dir, "kinesis", "control.bin"), string(loggen.Gzip(loggen.CloudWatchControlMessage())))
	writeFile(t, filepath.Join(dir, "kinesis", "retry.bin"), string(loggen.Gzip(loggen.CloudWatchPayload(group, "retry", retry))))
}

// reconcileRow is one decoded row of reconcile --format json.
type reconcileRow struct {
	Customer       *string `json:"customer"`
	Day            string  `json:"day"`
	EdgeRequests   int64   `json:"edge_requests"`
	EdgeHits       int64   `json:"edge_hits"`
	EdgeErrors     int64   `json:"edge_errors"`
	OriginRequests int64   `json:"origin_requests"`
	Unexplained    int64   `json:"unexplained"`
	Flagged        bool    `json:"flagged"`
}

func (r reconcileRow) key() string {
	c := "<null>"
	if r.Customer != nil {
		c = *r.Customer
	}
	return c + "|" + r.Day
}

func reconcileJSON(t *testing.T, c *cli, args ...string) []reconcileRow {
	t.Helper()
	r := c.run(append([]string{"reconcile", "--from", "2025-10-01", "--to", "2025-11-01", "--format", "json"}, args...)...)
	if r.code != 0 {
		t.Fatalf("reconcile: exit %d\n%s", r.code, r.stderr)
	}
	var rows []reconcileRow
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatalf("reconcile output: %v\n%s", err, r.stdout)
	}
	return rows
}

// TestReconcileEndToEnd logs the same generated month at the edge
// (CloudFront standard logs with cache hits and edge errors) and at the
// origin (API Gateway access logs delivered as CloudWatch Logs
// subscription payloads, with redeliveries and control messages), and
// checks that reconcile explains every difference, and then that it
// flags exactly the customer and day from which origin lines were lost.
func TestReconcileEndToEnd(t *testing.T) {
	tr := makeTraffic(7, 8000)
	origin := tr.origin()
	events := make([]loggen.CloudWatchEvent, len(origin))
	for i := range origin {
		events[i] = origin[i].CloudWatchEventOf(loggen.APIGatewayOptions{})
	}

	// The independent count, per customer and day.
	want := map[string]*reconcileRow{}
	row := func(r *loggen.Record, day time.Time) *reconcileRow {
		k := "<null>"
		if r.Key != nil && r.Key.Customer != "" {
			k = r.Key.Customer
		}
		k += "|" + day.Format("2006-01-02")
		if want[k] == nil {
			want[k] = &reconcileRow{}
		}
		return want[k]
	}
	for i := range tr.records {
		r := &tr.records[i]
		w := row(r, r.Time)
		w.EdgeRequests++
		switch {
		case r.Result == "Hit" || r.Result == "RefreshHit":
			w.EdgeHits++
		case !r.ReachesOrigin():
			w.EdgeErrors++
		}
	}
	for i := range origin {
		row(&origin[i], origin[i].OriginTime()).OriginRequests++
	}
	for k, w := range want {
		if w.EdgeRequests-w.EdgeHits-w.EdgeErrors != w.OriginRequests {
			t.Fatalf("%s: the generated views disagree: %+v", k, w)
		}
	}

	dir := t.TempDir()
	writeEdgeLogs(t, filepath.Join(dir, "edge"), tr.records)
	writeSubscriptionDeliveries(t, filepath.Join(dir, "origin"), events)
	keysFile := filepath.Join(dir, "keys.csv")
	writeFile(t, keysFile, tr.keysCSV(false))

	c := newCLI(t)
	c.ok("keys", "import", keysFile)
	c.ok("ingest", filepath.Join(dir, "edge"))
	out := c.ok("ingest", "--format", "apigateway-cloudwatch", "--json", filepath.Join(dir, "origin"))
	var sum summaryJSON
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Events != int64(len(origin)) || sum.Duplicates == 0 || sum.Rejected != 0 {
		t.Errorf("origin ingest: %d events (want %d), %d duplicates (want some), %d rejected", sum.Events, len(origin), sum.Duplicates, sum.Rejected)
	}

	// Usage per source matches each view.
	for _, src := range []struct {
		name string
		recs []loggen.Record
	}{{"cloudfront", tr.records}, {"apigateway", origin}} {
		wantN := map[string]int64{}
		for _, r := range src.recs {
			k := ""
			if r.Key != nil {
				k = r.Key.Customer
			}
			wantN[k]++
		}
		got := map[string]int64{}
		for _, r := range usageJSON(t, c, "--by", "customer", "--source", src.name) {
			k := ""
			if r["customer"] != nil {
				k = r["customer"].(string)
			}
			got[k] = num(t, r["requests"])
		}
		if fmt.Sprint(got) != fmt.Sprint(wantN) {
			t.Errorf("usage --source %s:\n got %v\nwant %v", src.name, got, wantN)
		}
	}

	rows := reconcileJSON(t, c)
	if len(rows) != len(want) {
		t.Errorf("%d rows, want %d", len(rows), len(want))
	}
	for _, r := range rows {
		w := want[r.key()]
		if w == nil || r.EdgeRequests != w.EdgeRequests || r.EdgeHits != w.EdgeHits || r.EdgeErrors != w.EdgeErrors ||
			r.OriginRequests != w.OriginRequests || r.Unexplained != 0 || r.Flagged {
			t.Errorf("row %s: %+v, want %+v and nothing unexplained", r.key(), r, w)
		}
	}
	if r := c.run("reconcile", "--from", "2025-10-01", "--to", "2025-11-01"); r.code != 0 ||
		!strings.Contains(r.stderr, "edge source edge, origin source apigateway: 0 of") || !strings.Contains(r.stdout, "unexplained") {
		t.Errorf("reconcile table: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Lose three origin lines of one customer on one day.
	lostCustomer, lostDay := tr.keys[2].Customer, "2025-10-17"
	var kept []loggen.CloudWatchEvent
	lost := 0
	for i := range origin {
		r := &origin[i]
		if lost < 3 && r.Key != nil && r.Key.Customer == lostCustomer && r.OriginTime().Format("2006-01-02") == lostDay {
			lost++
			continue
		}
		kept = append(kept, events[i])
	}
	if lost != 3 {
		t.Fatalf("only %d requests of %s on %s", lost, lostCustomer, lostDay)
	}
	lossy := filepath.Join(t.TempDir(), "origin")
	writeSubscriptionDeliveries(t, lossy, kept)
	c2 := newCLI(t)
	c2.ok("keys", "import", keysFile)
	c2.ok("ingest", filepath.Join(dir, "edge"))
	c2.ok("ingest", "--format", "apigateway-cloudwatch", lossy)
	rows = reconcileJSON(t, c2, "--flagged")
	if len(rows) != 1 || rows[0].key() != lostCustomer+"|"+lostDay || rows[0].Unexplained != 3 || !rows[0].Flagged {
		t.Errorf("flagged rows %+v, want %s on %s with 3 unexplained", rows, lostCustomer, lostDay)
	}
	if rows = reconcileJSON(t, c2, "--flagged", "--threshold", "3"); len(rows) != 0 {
		t.Errorf("threshold 3: flagged %+v", rows)
	}
	if rows = reconcileJSON(t, c2, "--flagged", "--by", "customer", "--threshold", "0.01%"); len(rows) != 1 || *rows[0].Customer != lostCustomer {
		t.Errorf("by customer, threshold 0.01%%: flagged %+v", rows)
	}
}

// TestAPIGatewayEndToEnd ingests a generated month of API Gateway access
// logs as CloudWatch Logs delivers them (subscription payloads with
// redeliveries and control messages, and an export to S3 of part of the
// same events) and checks per-customer totals against an independent
// count, that nothing is counted twice, and that the API keys some lines
// log are stored nowhere.
func TestAPIGatewayEndToEnd(t *testing.T) {
	tr := makeTraffic(8, 16000)
	origin := tr.origin()
	events := make([]loggen.CloudWatchEvent, len(origin))
	for i := range origin {
		events[i] = origin[i].CloudWatchEventOf(loggen.APIGatewayOptions{LogAPIKey: i%2 == 0})
	}
	// A line whose user agent breaks the JSON, beside a raw key.
	rawKey := tr.keys[0].Key
	broken := loggen.CloudWatchEvent{ID: strings.Repeat("9", 56), Timestamp: 1759300000000,
		Message: `{"requestId":"r-broken","requestTimeEpoch":"1759300000000","apiKey":"` + rawKey + `","userAgent":"a "quoted" agent","status":"200"}`}
	dir := t.TempDir()
	writeSubscriptionDeliveries(t, filepath.Join(dir, "subscription"), append(append([]loggen.CloudWatchEvent(nil), events...), broken))
	// An export of the second half of the month, with its write test.
	var export strings.Builder
	for _, e := range events[len(events)/2:] {
		export.WriteString(loggen.ExportLine(e))
	}
	writeFile(t, filepath.Join(dir, "export", "task-1", "stream-1", "000000.gz"), string(gzipBytes(t, export.String())))
	writeFile(t, filepath.Join(dir, "export", "aws-logs-write-test"), "Permission Check Successful")

	type total struct{ Requests, Sent int64 }
	want := map[string]total{}
	for _, r := range origin {
		k := ""
		if r.Key != nil {
			k = r.Key.Customer
		}
		v := want[k]
		v.Requests++
		v.Sent += r.ContentLen
		want[k] = v
	}

	c := newCLI(t)
	var printed strings.Builder
	keysFile := filepath.Join(dir, "keys.csv")
	writeFile(t, keysFile, tr.keysCSV(true))
	printed.WriteString(c.ok("keys", "import", keysFile))
	out := c.ok("ingest", "--format", "apigateway-cloudwatch", "--json", filepath.Join(dir, "subscription"))
	printed.WriteString(out)
	var sum summaryJSON
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Events != int64(len(origin)) || sum.Duplicates == 0 || sum.Rejected != 1 {
		t.Errorf("subscription ingest: %d events (want %d), %d duplicates (want some), %d rejected (want 1)", sum.Events, len(origin), sum.Duplicates, sum.Rejected)
	}
	out = c.ok("ingest", "--format", "apigateway-export", "--json", filepath.Join(dir, "export"))
	printed.WriteString(out)
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Events != 0 || sum.Duplicates != int64(len(events)-len(events)/2) || len(sum.Skipped) != 1 {
		t.Errorf("export ingest: %+v; want every line a duplicate and the write test skipped", sum)
	}
	check := func(stage string) {
		got := map[string]total{}
		rows := usageJSON(t, c, "--by", "customer", "--source", "apigateway")
		printed.WriteString(fmt.Sprint(rows))
		for _, r := range rows {
			k := ""
			if r["customer"] != nil {
				k = r["customer"].(string)
			}
			got[k] = total{num(t, r["requests"]), num(t, r["bytes_sent"])}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: per customer\n got %v\nwant %v", stage, got, want)
		}
	}
	check("first ingest")
	r := c.run("ingest", "--format", "apigateway-cloudwatch", "--json", filepath.Join(dir, "subscription"))
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil || sum.Events != 0 {
		t.Errorf("second ingest: %v, %+v", err, sum)
	}
	check("second ingest")

	// Key IDs are listed with their customers; the reject hides the key.
	out = c.ok("keys", "list", "--format", "json")
	printed.WriteString(out)
	if !strings.Contains(out, `"fingerprint": "apikeyid:`+tr.keys[0].APIKeyID()+`"`) {
		t.Errorf("keys list lacks the API key IDs:\n%s", out)
	}
	out = c.ok("rejects", "--format", "json")
	printed.WriteString(out)
	if !strings.Contains(out, "invalid JSON") || !strings.Contains(out, `\"apiKey\":\"`) {
		t.Errorf("rejects:\n%s", out)
	}
	checkNoRawKeys(t, c, &dataset{keys: tr.keys}, printed.String())
}

// TestAPIGatewayConfig reads an HTTP API's access logs with the identity
// field configured, and reports every problem of a bad configuration at
// once.
func TestAPIGatewayConfig(t *testing.T) {
	c := newCLI(t)
	cfg := filepath.Join(t.TempDir(), "keymeter.yaml")
	writeFile(t, cfg, "apigateway:\n  template: xml\n  fields:\n    colour: [x]\n    request_id: []\n    extended_request_id: []\n    request_time_epoch: ''\n")
	r := c.run("usage", "--config", cfg)
	for _, want := range []string{`apigateway.template: "xml"`, "apigateway.fields.colour: unknown field", "request_id or extended_request_id must name a key", "request_time_epoch has an empty key"} {
		if r.code != exitUsage || !strings.Contains(r.stderr, want) {
			t.Errorf("bad config: exit %d, stderr lacks %q:\n%s", r.code, want, r.stderr)
		}
	}

	writeFile(t, cfg, "apigateway:\n  template: json\n  fields:\n    identity: authorizer.claims.sub\n    request_id: [reqId, requestId]\n")
	logs := filepath.Join(t.TempDir(), "http-api.log")
	writeFile(t, logs, `{"reqId":"a","requestTimeEpoch":"1759300000000","routeKey":"GET /pets","status":"200","authorizer":{"claims":{"sub":"tenant-1"}}}
{"reqId":"b","requestTimeEpoch":"1759300001000","routeKey":"GET /pets","status":"200","authorizer":{"claims":{"sub":"tenant-2"}}}
{"reqId":"c","requestTimeEpoch":"1759300002000","routeKey":"POST /pets","status":"201","authorizer":{"claims":{"sub":"tenant-1"}}}
`)
	keys := filepath.Join(t.TempDir(), "keys.csv")
	writeFile(t, keys, "customer,identity\nacme,tenant-1\n")
	c.ok("keys", "import", "--config", cfg, keys)
	c.ok("ingest", "--config", cfg, "--format", "apigateway", logs)
	got := map[string]int64{}
	for _, r := range usageJSON(t, c, "--config", cfg, "--by", "customer,api_key") {
		got[fmt.Sprint(r["customer"], " ", r["api_key"])] = num(t, r["requests"])
	}
	if want := map[string]int64{"acme identity:tenant-1": 2, "<nil> identity:tenant-2": 1}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("usage by identity: %v, want %v", got, want)
	}
}

func TestKeysImportColumns(t *testing.T) {
	c := newCLI(t)
	for _, tt := range []struct{ csv, want string }{
		{"customer\nacme\n", `missing column "api_key" (or "api_key_id", "identity")`},
		{"customer,api_key,api_key_id\nacme,,\n", "line 2: no api_key or api_key_id"},
		{"customer,api_key_id\nacme,k1\nglobex,k1\n", "line 3: the same api_key_id as line 2, for another customer"},
		{"customer,api_key_id,api_key_id\n", `column "api_key_id" appears twice`},
	} {
		f := filepath.Join(t.TempDir(), "keys.csv")
		writeFile(t, f, tt.csv)
		if r := c.run("keys", "import", f); r.code != exitUsage || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%q: exit %d, stderr %q; want %q", tt.csv, r.code, r.stderr, tt.want)
		}
	}
	f := filepath.Join(t.TempDir(), "keys.csv")
	writeFile(t, f, "customer,api_key,api_key_id\nacme,km_0123456789abcdefXYZ1,k1\nacme,,k2\nglobex,km_0123456789abcdefXYZ2,\nacme,,k1\n")
	if out := c.ok("keys", "import", f); !strings.Contains(out, "imported 4 keys: 4 added") {
		t.Errorf("import: %q", out)
	}
	out := c.ok("keys", "list", "--format", "csv")
	for _, want := range []string{"acme,apikeyid:k1,,0,", "acme,apikeyid:k2,,0,", "globex,"} {
		if !strings.Contains(out, want) {
			t.Errorf("keys list lacks %q:\n%s", want, out)
		}
	}
}

func TestReconcileErrors(t *testing.T) {
	c := newCLI(t)
	for _, tt := range []struct {
		args     []string
		code     int
		contains string
	}{
		{[]string{"reconcile", "--threshold", "five"}, exitUsage, `threshold "five"`},
		{[]string{"reconcile", "--by", "path"}, exitNotFound, "no store in"},
		{[]string{"reconcile", "--edge-source", "apigateway"}, exitUsage, `--edge-source "apigateway"`},
		{[]string{"reconcile", "--from", "2025-10-02", "--to", "2025-10-01"}, exitUsage, "is not before"},
		{[]string{"reconcile", "extra"}, exitUsage, `unexpected argument "extra"`},
	} {
		r := c.run(tt.args...)
		if r.code != tt.code || !strings.Contains(r.stderr, tt.contains) {
			t.Errorf("keymeter %s: exit %d, stderr %q; want exit %d and %q", strings.Join(tt.args, " "), r.code, r.stderr, tt.code, tt.contains)
		}
	}
	// With a store, a column that means different things at the edge and
	// the origin is a usage error.
	if r := c.runIn("customer,api_key_id\nacme,k1\n", "keys", "import", "-", "--data", c.data); r.code != 0 {
		t.Fatalf("keys import: %+v", r)
	}
	if r := c.run("reconcile", "--by", "customer,path"); r.code != exitUsage || !strings.Contains(r.stderr, `cannot group by "path"`) {
		t.Errorf("reconcile --by path: %+v", r)
	}
}
