package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// Bytes a client controls (path, query, user agent, referer, cookie,
// headers) can be anything, including bytes that are not UTF-8. Such a
// request is still a billable request: it is stored, with each byte of
// an invalid UTF-8 sequence shown as \xHH, and the run goes on.

const clientBytesFields = "#Version: 1.0\n#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status " +
	"cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken\n"

// TestClientBytesStandardLog ingests a standard log whose lines carry
// %FF in cs-uri-stem and raw invalid UTF-8 in every client field, and
// checks that every request is stored and can be queried.
func TestClientBytesStandardLog(t *testing.T) {
	c := newCLI(t)
	dir := t.TempDir()
	lines := clientBytesFields +
		"2025-10-01\t00:00:01\tIAD89-C1\t100\t1.2.3.4\tGET\td.cloudfront.net\t/v1/%FFitems\t200\t-\tcurl\t-\t-\tMiss\treqA\tapi.example.com\thttps\t10\t0.001\n" +
		"2025-10-01\t00:00:02\tIAD89-C1\t200\t1.2.3.4\tGET\td.cloudfront.net\t/v1/ok\t200\thttp://r/\xfe\tcurl/\xff\xc3(\tq=\xff\tc=\xc3\tMiss\treqB\tapi.example.com\thttps\t20\t0.002\n" +
		"2025-10-01\t00:00:03\tIAD89-C1\t300\t1.2.3.4\tGET\td.cloudfront.net\t/v1/ok\t200\t-\tcurl\t-\t-\tMiss\treqC\tapi.example.com\thttps\t30\t0.003\n"
	writeFile(t, filepath.Join(dir, "E2EXAMPLE.2025-10-01-00.a1"), lines)
	for run := range 2 {
		r := c.run("ingest", "--json", dir)
		if r.code != 0 {
			t.Fatalf("run %d: exit %d\n%s%s", run, r.code, r.stdout, r.stderr)
		}
		if sum := decodeSummary(t, r); run == 0 && (sum.Events != 3 || sum.Rejected != 0) {
			t.Fatalf("run %d: %+v", run, sum)
		}
	}
	out := c.ok("usage", "--from", "2025-10-01", "--to", "2025-10-02", "--by", "path", "--format", "csv")
	want := "path,requests,bytes_sent,bytes_received,time_taken_avg,time_taken_p50,time_taken_p95,time_taken_p99\n" +
		`/v1/\xFFitems,1,100,10,0.0010,0.001,0.001,0.001` + "\n" +
		"/v1/ok,2,500,50,0.0025,0.002,0.003,0.003\n"
	if out != want {
		t.Errorf("usage --by path:\n got %q\nwant %q", out, want)
	}
	out = c.ok("sql", "--format", "json", `SELECT cs_uri_stem, cs_referrer, cs_user_agent, cs_uri_query, cs_cookie
		FROM cloudfront_logs WHERE x_edge_request_id = 'reqB'`)
	var rows []map[string]string
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("sql: %v\n%s", err, out)
	}
	wantRow := map[string]string{"cs_uri_stem": "/v1/ok", "cs_referrer": `http://r/\xFE`, "cs_user_agent": `curl/\xFF\xC3(`,
		"cs_uri_query": `q=\xFF`, "cs_cookie": `c=\xC3`}
	if len(rows) != 1 || !equalMaps(rows[0], wantRow) {
		t.Errorf("sql: got %v, want %v", rows, wantRow)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestClientBytesAPIGateway ingests API Gateway access log lines with a
// raw 0xFF byte in the user agent and the path.
func TestClientBytesAPIGateway(t *testing.T) {
	c := newCLI(t)
	dir := t.TempDir()
	line := func(id, ua, path string) string {
		return `{"requestId":"` + id + `","extendedRequestId":"x` + id + `","ip":"1.2.3.4","requestTimeEpoch":"1759276800000",` +
			`"httpMethod":"GET","resourcePath":"/items","path":"` + path + `","status":"200","protocol":"HTTP/1.1",` +
			`"responseLength":"100","responseLatency":"5","apiKeyId":"k1","userAgent":"` + ua + `","stage":"prod","apiId":"a1"}` + "\n"
	}
	writeFile(t, filepath.Join(dir, "access.log"), line("r1", "curl/\xff", "/items")+line("r2", "curl", "/items/\xff\xfe")+line("r3", "curl", "/items"))
	r := c.run("ingest", "--format", "apigateway", "--json", dir)
	if r.code != 0 {
		t.Fatalf("ingest: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if sum := decodeSummary(t, r); sum.Events != 3 || sum.Rejected != 0 {
		t.Fatalf("ingest: %+v", sum)
	}
	out := c.ok("sql", "--format", "csv", `SELECT path, user_agent FROM apigateway_logs ORDER BY request_id`)
	want := "path,user_agent\n/items,curl/\\xFF\n/items/\\xFF\\xFE,curl\n/items,curl\n"
	if out != want {
		t.Errorf("sql:\n got %q\nwant %q", out, want)
	}
}

// TestClientBytesKinesis puts a real-time record with raw invalid UTF-8
// in its user agent and path between two good ones on a stream: it must
// not wedge the shard. Every record is stored, and the next run reads
// nothing again.
func TestClientBytesKinesis(t *testing.T) {
	k := newKinesalite(t, 1)
	awsTestEnv(t)
	fields := "timestamp,c-ip,sc-status,sc-bytes,cs-uri-stem,x-edge-request-id,cs-user-agent"
	recs := []string{
		"1759276800.001\t1.2.3.4\t200\t100\t/v1/a\trt1\tcurl\n",
		"1759276800.002\t1.2.3.4\t200\t200\t/v1/\xff%FF\trt2\tcurl/\xff\xfe\n",
		"1759276800.003\t1.2.3.4\t200\t300\t/v1/a\trt3\tcurl\n",
	}
	for _, rec := range recs {
		if _, err := k.api.PutRecord(context.Background(), &awskinesis.PutRecordInput{
			StreamName: &k.name, Data: []byte(rec), PartitionKey: aws.String("p"),
		}); err != nil {
			t.Fatal(err)
		}
	}
	c := newCLI(t)
	src := "kinesis://" + k.name
	r := c.run("ingest", src, "--endpoint", k.endpoint, "--fields", fields, "--json")
	if r.code != 0 {
		t.Fatalf("ingest: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if sum := decodeSummary(t, r); sum.Lines != 3 || sum.Events != 3 || sum.Rejected != 0 {
		t.Errorf("first run: %+v", sum)
	}
	r = c.run("ingest", src, "--endpoint", k.endpoint, "--fields", fields, "--json")
	if sum := decodeSummary(t, r); r.code != 0 || sum.Lines != 0 {
		t.Errorf("second run: exit %d, %+v", r.code, sum)
	}
	out := c.ok("sql", "--format", "csv", `SELECT cs_uri_stem, cs_user_agent, sc_bytes FROM cloudfront_realtime_logs ORDER BY x_edge_request_id`)
	want := "cs_uri_stem,cs_user_agent,sc_bytes\n/v1/a,curl,100\n/v1/\\xFF%FF,curl/\\xFF\\xFE,200\n/v1/a,curl,300\n"
	if out != want {
		t.Errorf("sql:\n got %q\nwant %q", out, want)
	}
	out = c.ok("usage", "--source", "cloudfront-realtime", "--from", "2025-10-01", "--to", "2025-10-02", "--by", "path", "--format", "csv")
	if !strings.Contains(out, "/v1/\\xFF\\xFF,1,200,") {
		t.Errorf("usage --by path: the decoded path of rt2 is missing:\n%s", out)
	}
}

// TestCustomerNameNotUTF8 gives keys import and customers set a
// customer name that is not valid UTF-8: a clear error naming the line
// and the value, and nothing imported.
func TestCustomerNameNotUTF8(t *testing.T) {
	c := newCLI(t)
	keys := filepath.Join(t.TempDir(), "keys.csv")
	writeFile(t, keys, "customer,api_key\nacme,km_0123456789abcdefghij\nglo\xffbex,km_abcdefghij0123456789\n")
	r := c.run("keys", "import", keys)
	if r.code != exitUsage || !strings.Contains(r.stderr, `line 3: customer name "glo\xffbex" is not valid UTF-8`) {
		t.Errorf("keys import: exit %d, stderr %q", r.code, r.stderr)
	}
	writeFile(t, filepath.Join(c.data, "billing.yaml"), billingYAML)
	r = c.run("customers", "set", "acme\xc3", "--plan", "metered", "--start", "2025-10-01")
	if r.code != exitUsage || !strings.Contains(r.stderr, `customer name "acme\xc3" is not valid UTF-8`) {
		t.Errorf("customers set: exit %d, stderr %q", r.code, r.stderr)
	}
	if out := c.ok("customers", "list", "--format", "csv"); strings.Contains(out, "acme") {
		t.Errorf("customers list after the refusals:\n%s", out)
	}
}
