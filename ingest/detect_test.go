package ingest_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/ingest"
	"github.com/keymeter/keymeter/internal/loggen"
)

// fixture reads a file of another package's testdata (third-party
// samples, attributed in the SOURCES.md beside them).
func fixture(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// countedInput is an input with an ETag, as S3 objects have (so that it
// is identified without reading it), that counts how often it is opened.
func countedInput(uri string, data []byte, opens *atomic.Int32) ingest.Input {
	return countedBytes(uri, data, opens, new(atomic.Int64))
}

// countedBytes is countedInput that also counts the bytes read.
func countedBytes(uri string, data []byte, opens *atomic.Int32, read *atomic.Int64) ingest.Input {
	return ingest.Input{
		Object: keymeter.Object{URI: uri, Size: int64(len(data)), ETag: fmt.Sprintf(`"%x"`, len(uri)*7919+len(data))},
		Open: func(context.Context) (io.ReadCloser, error) {
			opens.Add(1)
			return io.NopCloser(&countingReader{bytes.NewReader(data), read}), nil
		},
	}
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// envelopes returns the same API Gateway access log lines in every
// envelope AWS delivers them in, by name, and the number of requests.
func envelopes(seed uint64) (map[string][]byte, int) {
	recs, _ := originRecords(seed, 300)
	events := make([]loggen.CloudWatchEvent, len(recs))
	var lines, export []byte
	for i := range recs {
		events[i] = recs[i].CloudWatchEventOf(loggen.APIGatewayOptions{})
		lines = append(lines, events[i].Message+"\n"...)
		export = append(export, loggen.ExportLine(events[i])...)
	}
	n := len(events)
	const group = "API-Gateway-Execution-Logs_a1b2c3d4e5/prod"
	payload := func(evs []loggen.CloudWatchEvent) []byte { return loggen.CloudWatchPayload(group, "s1", evs) }
	half := strings.Index(string(lines[len(lines)/2:]), "\n") + len(lines)/2 + 1
	firehose := loggen.Gzip(append(loggen.CloudWatchControlMessage(), payload(events[:n/3])...))
	firehose = append(firehose, loggen.Gzip(append(payload(events[n/3:2*n/3]), payload(events[2*n/3:])...))...)
	var lambda []byte
	for _, part := range [][]loggen.CloudWatchEvent{events[:n/2], events[n/2:]} {
		lambda = append(lambda, loggen.LambdaEvent(loggen.Gzip(payload(part)))...)
		lambda = append(lambda, '\n')
	}
	return map[string][]byte{
		"lines.log":              lines,
		"lines.gz":               loggen.Gzip(lines),
		"lines-members.gz":       append(loggen.Gzip(lines[:half]), loggen.Gzip(lines[half:])...),
		"kinesis-record":         loggen.Gzip(payload(events)),
		"firehose/2025/10/01/x":  firehose,
		"firehose-gzip.gz":       loggen.Gzip(firehose), // Firehose's own GZIP over CloudWatch's
		"lambda/events.json":     lambda,
		"lambda/base64":          []byte(base64.StdEncoding.EncodeToString(loggen.Gzip(payload(events)))),
		"export/t1/s1/000000.gz": loggen.Gzip(export),
		"export/t1/s1/000001":    export,
	}, n
}

// TestAPIGatewayEnvelopes reads API Gateway access logs with --format
// apigateway in every envelope AWS delivers them in, each object opened
// once.
func TestAPIGatewayEnvelopes(t *testing.T) {
	objs, n := envelopes(31)
	for _, format := range []string{"apigateway", "apigateway-cloudwatch", "apigateway-export"} {
		t.Run(format, func(t *testing.T) {
			db := openStore(t)
			var inputs []ingest.Input
			opens := map[string]*atomic.Int32{}
			for name, data := range objs {
				opens[name] = &atomic.Int32{}
				inputs = append(inputs, countedInput(name, data, opens[name]))
			}
			sum := run(t, db, ingest.Config{Format: format}, inputs...)
			if sum.Events != int64(n) || sum.Duplicates != int64((len(objs)-1)*n) || sum.Rejected != 0 || len(sum.Failed) != 0 {
				t.Errorf("events %d, duplicates %d, rejected %d, failed %v; want %d, %d, 0, none", sum.Events, sum.Duplicates, sum.Rejected, sum.Failed, n, (len(objs)-1)*n)
			}
			for name, data := range objs {
				rec, err := db.FindObject(ctx, countedInput(name, data, opens[name]).Object)
				if err != nil || rec == nil || rec.Events+rec.Duplicates != int64(n) || rec.Rejected != 0 {
					t.Errorf("%s: %+v, %v; want %d requests", name, rec, err, n)
				}
				if c := opens[name].Load(); c != 1 {
					t.Errorf("%s was opened %d times, want once", name, c)
				}
			}
		})
	}
}

// TestCloudWatchFixtures reads the real CloudWatch Logs envelopes of
// format/cloudwatch/testdata with --format apigateway: their messages
// are not access log lines, so each is rejected on its own, in place.
func TestCloudWatchFixtures(t *testing.T) {
	db := openStore(t)
	sum := run(t, db, ingest.Config{Format: "apigateway"},
		input("lambda.json", fixture(t, "format/cloudwatch/testdata/aws-lambda-go_cloudwatch-logs-event.json")),
		input("firehose.json", fixture(t, "format/cloudwatch/testdata/otel-contrib_multiple_json_objects.json")),
		input("control.json", fixture(t, "format/cloudwatch/testdata/otel-contrib_valid_cloudwatch_log_control.json")),
		input("pretty.json.gz", loggen.Gzip(fixture(t, "format/cloudwatch/testdata/otel-contrib_valid_cloudwatch_log.json"))))
	if sum.Read != 4 || sum.Events != 0 || sum.Rejected != 2+2+0+3 {
		t.Errorf("read %d, events %d, rejected %d; want 4, 0, 7", sum.Read, sum.Events, sum.Rejected)
	}
	rejects, _ := db.Rejects(ctx, keymeter.RejectFilter{})
	lines := map[string][]int64{}
	for _, r := range rejects {
		lines[r.Object] = append(lines[r.Object], r.Line)
		if strings.Contains(r.Reason, "longer than") || strings.Contains(r.Text, "logEvents") {
			t.Errorf("reject of the envelope, not of a message: %+v", r)
		}
	}
	for obj, want := range map[string]string{"lambda.json": "[1 2]", "firehose.json": "[1 2]", "pretty.json.gz": "[1 2 3]"} {
		got := lines[obj]
		slices.Sort(got)
		if fmt.Sprint(got) != want {
			t.Errorf("%s: rejected records %v, want %s", obj, got, want)
		}
	}
}

// detectInputs are real and generated objects of every format, by name,
// with the format that reads each.
func detectInputs(t *testing.T) map[string]struct {
	format string
	data   []byte
} {
	out := map[string]struct {
		format string
		data   []byte
	}{}
	add := func(name, format string, data []byte) {
		out[name] = struct {
			format string
			data   []byte
		}{format, data}
	}
	add("standard.log", "cloudfront", fixture(t, "format/cloudfront/testdata/fixtures/awsdocs_AccessLogs-example.log"))
	add("standard.gz", "cloudfront", fixture(t, "format/cloudfront/testdata/fixtures/lambda-promtail_cloudfront.log.gz"))
	add("headerless-2016.log", "cloudfront", fixture(t, "format/cloudfront/testdata/fixtures/logstash-patterns-core_aws_spec_2016-line.log"))
	add("realtime.tsv", "cloudfront-realtime", fixture(t, "format/cloudfrontrt/testdata/fixtures/clo-opensearch_kds-record.tsv"))
	rt := realtimeSet(41, 50)
	add("realtime-firehose.gz", "cloudfront-realtime", append(loggen.Gzip(rt.lines(rt.records[:20], loggen.RealtimeFields)), loggen.Gzip(rt.lines(rt.records[20:], loggen.RealtimeFields))...))
	add("apigw.log", "apigateway", fixture(t, "format/apigateway/testdata/clo-opensearch_microbatch_apigateway1.log"))
	add("apigw.gz", "apigateway", fixture(t, "format/apigateway/testdata/clo-opensearch_microbatch_apigateway2.gz"))
	add("clf.log", "apigateway", fixture(t, "format/apigateway/testdata/keymeter_clf-template.log"))
	// Different requests in each, so that none is a duplicate of another.
	objs, _ := envelopes(32)
	add("firehose", "apigateway-cloudwatch", objs["firehose/2025/10/01/x"])
	objs, _ = envelopes(33)
	add("lambda.json", "apigateway-cloudwatch", objs["lambda/events.json"])
	objs, _ = envelopes(34)
	add("export.gz", "apigateway-export", objs["export/t1/s1/000000.gz"])
	return out
}

// TestDetect reads objects of every format without a format named: each
// is read as if its format had been given.
func TestDetect(t *testing.T) {
	objs := detectInputs(t)
	// What each format reads out of each object on its own.
	want := map[string]keymeter.ObjectRecord{}
	for name, o := range objs {
		db := openStore(t)
		run(t, db, ingest.Config{Format: o.format}, input(name, o.data))
		rec, err := db.FindObject(ctx, input(name, o.data).Object)
		if err != nil || rec == nil {
			t.Fatalf("%s as %s: %+v, %v", name, o.format, rec, err)
		}
		if rec.Events == 0 {
			t.Fatalf("%s as %s stores nothing: %+v", name, o.format, rec)
		}
		want[name] = *rec
	}
	db := openStore(t)
	var inputs []ingest.Input
	for name, o := range objs {
		inputs = append(inputs, input(name, o.data))
	}
	// CloudWatch Logs' permission check of an export destination is no log.
	inputs = append(inputs, input("exports/aws-logs-write-test", []byte("Permission Check Successful")))
	sum := run(t, db, ingest.Config{}, inputs...)
	if len(sum.Failed) != 0 || sum.Read != len(objs) || len(sum.Skipped) != 1 {
		t.Errorf("read %d, failed %v, skipped %v; want %d read, the write test skipped", sum.Read, sum.Failed, sum.Skipped, len(objs))
	}
	for name, o := range objs {
		rec, err := db.FindObject(ctx, input(name, o.data).Object)
		w := want[name]
		if err != nil || rec == nil || rec.Events != w.Events || rec.Rejected != w.Rejected || rec.Lines != w.Lines {
			t.Errorf("%s: detected %+v, %v; as %s: %+v", name, rec, err, o.format, w)
		}
	}
	// Each format's events are stored under its source.
	tab, err := db.QuerySQL(ctx, `SELECT source, count(*) FROM events GROUP BY 1 ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(tab.Rows); !strings.Contains(got, "[apigateway ") || !strings.Contains(got, "[cloudfront ") || !strings.Contains(got, "[cloudfront-realtime ") {
		t.Errorf("events per source %s", got)
	}
}

// TestDetectMismatch refuses an object of another format than the one
// asked for, saying what it looks like, and does not record it, so that
// a run with the right format reads it.
func TestDetectMismatch(t *testing.T) {
	objs := detectInputs(t)
	rt := realtimeSet(42, 10)
	tests := []struct {
		format, object string
		data           []byte
		why, fix       string
	}{
		{"cloudfront", "firehose", nil, "looks like a CloudWatch Logs subscription payload, not a CloudFront standard log", "apigateway"},
		{"cloudfront", "lambda.json", nil, `looks like a CloudWatch Logs subscription payload in a Lambda event ({"awslogs":...}), not a CloudFront standard log`, "apigateway"},
		{"cloudfront", "realtime.tsv", nil, "looks like CloudFront real-time log records (45 tab-separated fields), not a CloudFront standard log", "cloudfront-realtime"},
		{"cloudfront", "apigw.gz", nil, "looks like API Gateway access log lines (JSON), not a CloudFront standard log", "apigateway"},
		{"cloudfront", "export.gz", nil, "looks like a CloudWatch Logs export to S3 (time and message lines), not a CloudFront standard log", "apigateway"},
		{"cloudfront-realtime", "standard.gz", nil, "looks like a CloudFront standard log (#Version and #Fields lines), not CloudFront real-time log records", "cloudfront"},
		{"cloudfront-realtime", "headerless-2016.log", nil, "looks like a CloudFront standard log (date and time first), not CloudFront real-time log records", "cloudfront"},
		{"apigateway", "standard.log", nil, "looks like a CloudFront standard log (#Version and #Fields lines), not API Gateway access logs", "cloudfront"},
		{"apigateway-cloudwatch", "realtime-firehose.gz", nil, "looks like CloudFront real-time log records (45 tab-separated fields), not API Gateway access logs", "cloudfront-realtime"},
		{"apigateway-export", "realtime.log", rt.lines(rt.records, loggen.RealtimeFields), "looks like CloudFront real-time log records (45 tab-separated fields), not API Gateway access logs", "cloudfront-realtime"},
		// Without a format: what is not recognised, and real-time records
		// that do not fit the configured field list.
		{"", "notes.txt", []byte("Dear operator,\nthese are not logs.\n"), "not a log format keymeter recognises (text)", ""},
		{"", "data.parquet", []byte("PAR1\x15\x00\x15\x8c\x01\x00\x00\xff\xfe"), "not a log format keymeter recognises (binary data)", ""},
		{"", "ownstats.txt", fixture(t, "format/cloudfrontrt/testdata/fixtures/ownstats_rawPageViewData.txt"),
			"looks like CloudFront real-time log records with 12 tab-separated fields, but the configured field list has 45", "cloudfront-realtime"},
	}
	for _, tt := range tests {
		data := tt.data
		if data == nil {
			data = objs[tt.object].data
		}
		db := openStore(t)
		sum := run(t, db, ingest.Config{Format: tt.format}, input(tt.object, data))
		wantFix := "; use --format " + tt.fix
		switch {
		case tt.fix == "":
			wantFix = ""
		case tt.format == "":
			wantFix = "set --fields (realtime_fields) to the fields of the distribution's real-time log configuration"
		}
		if len(sum.Failed) != 1 || sum.Failed[0].URI != tt.object || !strings.Contains(sum.Failed[0].Reason, tt.why) ||
			!strings.Contains(sum.Failed[0].Reason, wantFix) || sum.Read != 0 || sum.Rejected != 0 || sum.Lines != 0 {
			t.Errorf("--format %q on %s: failed %+v, read %d, rejected %d\nwant %q and %q", tt.format, tt.object, sum.Failed, sum.Read, sum.Rejected, tt.why, wantFix)
			continue
		}
		if rec, err := db.FindObject(ctx, input(tt.object, data).Object); rec != nil || err != nil {
			t.Errorf("--format %q on %s: recorded as ingested: %+v, %v", tt.format, tt.object, rec, err)
		}
		if tt.fix == "" {
			continue
		}
		cfg := ingest.Config{Format: tt.fix}
		if tt.object == "ownstats.txt" {
			cfg.RealtimeFields = strings.Fields("timestamp c-ip sc-status cs-uri-stem cs-bytes x-edge-location time-taken cs-user-agent cs-referer cs-uri-query x-edge-result-type asn")
		}
		if sum := run(t, db, cfg, input(tt.object, data)); sum.Read != 1 || sum.Events == 0 {
			t.Errorf("--format %s on %s after the mismatch: %+v", tt.fix, tt.object, sum)
		}
	}
}

// TestDetectOnce opens an object with an ETag, as S3 objects are, once
// while detecting its format and reading it, and finds a mismatch in a
// prefix of it.
func TestDetectOnce(t *testing.T) {
	text, recs := logLines(43, 20000) // 5 MB, far beyond the prefix detection reads
	data := gz(text)
	var opens atomic.Int32
	var read atomic.Int64
	db := openStore(t)
	sum := run(t, db, ingest.Config{}, countedBytes("big.gz", data, &opens, &read))
	if sum.Events != int64(len(recs)) || opens.Load() != 1 || read.Load() != int64(len(data)) {
		t.Errorf("events %d, opened %d times, %d bytes read; want %d, once, %d", sum.Events, opens.Load(), read.Load(), len(recs), len(data))
	}
	opens.Store(0)
	read.Store(0)
	sum = run(t, db, ingest.Config{Format: "apigateway"}, countedBytes("again.gz", data, &opens, &read))
	if len(sum.Failed) != 1 || opens.Load() != 1 || read.Load() > int64(len(data)/4) {
		t.Errorf("failed %v, opened %d times, %d of %d bytes read", sum.Failed, opens.Load(), read.Load(), len(data))
	}
	// An empty object is no mismatch: there is nothing to read.
	if sum := run(t, db, ingest.Config{Format: "apigateway"}, input("empty", nil)); len(sum.Failed) != 0 || sum.Read != 1 {
		t.Errorf("empty object: %+v", sum)
	}
}

// TestAPIGatewayStreamPayloads reads a CloudWatch Logs subscription's
// Kinesis records with --format apigateway: each record is a gzip
// payload, not a line.
func TestAPIGatewayStreamPayloads(t *testing.T) {
	recs, _ := originRecords(35, 400)
	var data [][]byte
	for start := 0; start < len(recs); start += 40 {
		var evs []loggen.CloudWatchEvent
		for i := start; i < min(start+40, len(recs)); i++ {
			evs = append(evs, recs[i].CloudWatchEventOf(loggen.APIGatewayOptions{}))
		}
		data = append(data, loggen.Gzip(loggen.CloudWatchPayload("group", fmt.Sprint("s", start), evs)))
	}
	data = append(data, loggen.Gzip(loggen.CloudWatchControlMessage()), data[2])
	db := openStore(t)
	in, err := ingest.New(db, ingest.Config{Format: "apigateway", Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := in.RunStream(ctx, &fakeStream{shards: map[string][][]byte{"shard-0": data}, page: 3})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Events != int64(len(recs)) || sum.Duplicates != 40 || sum.Rejected != 0 {
		t.Errorf("events %d, duplicates %d, rejected %d; want %d, 40, 0", sum.Events, sum.Duplicates, sum.Rejected, len(recs))
	}
	if got, want := byCaller(t, db), wantCallers(recs); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("requests by caller\n got %v\nwant %v", got, want)
	}
}
