package cloudfront_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/format/cloudfront"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// record is the readable form of one parsed line, for golden files.
type record struct {
	Line   int               `json:"line"`
	Kind   string            `json:"kind"` // header, event or reject
	Field  string            `json:"field,omitempty"`
	Reason string            `json:"reason,omitempty"`
	Time   string            `json:"time,omitempty"`
	Typed  map[string]int64  `json:"typed,omitempty"`
	Fields map[string]string `json:"fields,omitempty"` // decoded values
}

func readFixture(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if b, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// parseAll parses every line of a log with one Parser.
func parseAll(data []byte) []record {
	var p cloudfront.Parser
	var ev keymeter.Event
	var out []record
	for i, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		r := record{Line: i + 1}
		ok, err := p.Parse([]byte(line), &ev)
		switch {
		case err != nil:
			r.Kind = "reject"
			var pe *keymeter.ParseError
			if errors.As(err, &pe) {
				r.Field, r.Reason = pe.Field, pe.Err.Error()
			} else {
				r.Reason = err.Error()
			}
		case !ok:
			r.Kind = "header"
		default:
			r.Kind = "event"
			r.Time = time.UnixMicro(ev.Time).UTC().Format(time.RFC3339Nano)
			r.Typed = map[string]int64{
				"status": int64(ev.Status), "bytes_sent": ev.BytesSent, "bytes_received": ev.BytesReceived,
				"time_taken_ms": int64(ev.TimeTaken), "ttfb_ms": int64(ev.TimeToFirstByte), "c_port": int64(ev.ClientPort),
				"content_len": ev.ContentLen, "range_start": ev.RangeStart, "range_end": ev.RangeEnd,
				"fle_encrypted": int64(ev.FLEEncrypted),
			}
			r.Fields = map[string]string{}
			for f := keymeter.Field(0); f < keymeter.NumFields; f++ {
				if v := ev.Fields[f]; v != nil {
					r.Fields[cloudfront.FieldName(f)] = string(cloudfront.Decode(nil, f, v))
				}
			}
		}
		out = append(out, r)
	}
	return out
}

// TestGolden parses the third-party samples in testdata/fixtures and
// compares the result with testdata/<name>.golden.json.
func TestGolden(t *testing.T) {
	paths, err := filepath.Glob("testdata/fixtures/*.log*")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, path := range paths {
		name := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(path), ".gz"), ".log")
		t.Run(name, func(t *testing.T) {
			got, err := json.MarshalIndent(parseAll(readFixture(t, path)), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", name+".golden.json")
			if *update {
				if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if string(want) != string(got)+"\n" {
				t.Errorf("%s differs from the golden file; run go test -update and review the diff", name)
			}
		})
	}
}

// TestFixtureFacts pins down, independently of the golden files, what the
// samples are known to contain.
func TestFixtureFacts(t *testing.T) {
	get := func(file string) []record { return parseAll(readFixture(t, "testdata/fixtures/"+file)) }

	aws := get("awsdocs_AccessLogs-example.log")
	if len(aws) != 8 || aws[0].Kind != "header" || aws[1].Kind != "header" {
		t.Fatalf("AWS example: want 2 headers and 6 records, got %+v", aws)
	}
	for _, r := range aws[2:] {
		if r.Kind != "event" {
			t.Fatalf("AWS example line %d: %s %s", r.Line, r.Kind, r.Reason)
		}
	}
	if r := aws[4]; r.Fields["x-edge-request-id"] != "f37nTMVvnKvV2ZSvEsivup_c2kZ7VXzYdjC-GUQZ5qNs-89BlWazbw==" || r.Typed["time_taken_ms"] != 1 {
		t.Errorf("AWS example record 3 (trailing tab): %+v", r)
	}
	if r := aws[5]; r.Time != "2019-12-13T22:36:27Z" || r.Typed["status"] != 502 || r.Fields["x-host-header"] != "www.example.com" ||
		r.Fields["cs(Host)"] != "d111111abcdef8.cloudfront.net" || r.Fields["cs(Referer)"] != "http://www.example.com/" {
		t.Errorf("AWS example record 4: %+v", r)
	}
	if r := aws[7]; r.Fields["cs(User-Agent)"] != "curl/7.55.1" || r.Typed["content_len"] != 507 || r.Typed["c_port"] != 12644 ||
		r.Typed["range_start"] != -1 || r.Fields["x-edge-detailed-result-type"] != "OriginDnsError" {
		t.Errorf("AWS example record 6: %+v", r)
	}

	promtail := get("lambda-promtail_cloudfront.log.gz")
	if r := promtail[2]; r.Kind != "event" || r.Fields["x-forwarded-for"] != "10.3.200.121, 10.56.14.213" ||
		r.Typed["bytes_sent"] != 122254 || r.Fields["cs-protocol-version"] != "HTTP/1.0" {
		t.Errorf("promtail record 1: %+v", r)
	}

	old := get("logstash-patterns-core_aws_spec_2016-line.log")
	if len(old) != 1 || old[0].Kind != "event" {
		t.Fatalf("2016 line: %+v", old)
	}
	if r := old[0]; !strings.HasPrefix(r.Fields["cs(User-Agent)"], "Mozilla/5.0 (Windows NT 6.1; WOW64)") ||
		r.Fields["x-edge-response-result-type"] != "RefreshHit" || r.Typed["time_taken_ms"] != 36 {
		t.Errorf("2016 line: %+v", r)
	}
	if _, ok := old[0].Fields["cs-protocol-version"]; ok {
		t.Errorf("2016 line has no cs-protocol-version field, got one")
	}

	clo := get("clo-opensearch_log-processor_cloudfront.log")
	if r := clo[2]; r.Kind != "event" || r.Typed["status"] != 200 || r.Fields["x-edge-result-type"] != "Error" || r.Typed["content_len"] != -1 {
		t.Errorf("clo record 1: %+v", r)
	}

	synth := get("clo-opensearch_microbatch_cloudfront_SYNTHETIC.log.gz")
	for _, r := range synth[2:] {
		if r.Kind != "reject" || r.Field != "sc-content-len" {
			t.Errorf("synthetic line %d: want a reject on sc-content-len, got %+v", r.Line, r)
		}
	}
}

const header33 = "#Version: 1.0\n#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start sc-range-end\n"

const line33 = "2025-10-01\t12:00:00\tIAD89-C1\t1234\t192.0.2.1\tGET\td1.cloudfront.net\t/v1/items\t200\t-\tcurl/8.0\tcf_api_key=abc&x=1\t-\tMiss\tREQ1\tapi.example.com\thttps\t321\t0.082\t-\tTLSv1.3\tTLS_AES_128_GCM_SHA256\tMiss\tHTTP/2.0\t-\t-\t4321\t0.050\tMiss\tapplication/json\t1000\t-\t-"

func TestLayouts(t *testing.T) {
	tests := []struct {
		name, log string
		wantKind  []string
		check     func(t *testing.T, r record)
	}{
		{"standard", header33 + line33, []string{"header", "header", "event"}, func(t *testing.T, r record) {
			if r.Fields["cs-uri-query"] != "cf_api_key=abc&x=1" || r.Typed["bytes_sent"] != 1234 || r.Typed["time_taken_ms"] != 82 {
				t.Errorf("%+v", r)
			}
		}},
		{"trailing empty fields", header33 + line33 + "\t\t", []string{"header", "header", "event"}, nil},
		{"trailing non-empty field", header33 + line33 + "\tX", []string{"header", "header", "reject"}, nil},
		{"truncated record", header33 + strings.Join(strings.Split(line33, "\t")[:31], "\t"), []string{"header", "header", "reject"}, func(t *testing.T, r record) {
			if !strings.Contains(r.Reason, "31 fields, layout has 33") {
				t.Errorf("reason %q", r.Reason)
			}
		}},
		{"reordered fields", "#Fields: x-edge-request-id sc-bytes time date cs-uri-query\nREQ2\t99\t23:59:59\t2025-12-31\tapi_key=k\n",
			[]string{"header", "event"}, func(t *testing.T, r record) {
				if r.Time != "2025-12-31T23:59:59Z" || r.Typed["bytes_sent"] != 99 || r.Fields["cs-uri-query"] != "api_key=k" || r.Typed["status"] != -1 {
					t.Errorf("%+v", r)
				}
			}},
		{"unknown field ignored", "#Fields: date time x-new-field x-edge-request-id\n2025-01-02\t03:04:05\twhatever\tR\n", []string{"header", "event"}, nil},
		{"headerless 26 fields", strings.Join(strings.Split(line33, "\t")[:26], "\t"), []string{"event"}, func(t *testing.T, r record) {
			if r.Fields["cs-protocol-version"] != "HTTP/2.0" || r.Typed["c_port"] != -1 {
				t.Errorf("%+v", r)
			}
		}},
		{"headerless 23 fields", strings.Join(strings.Split(line33, "\t")[:23], "\t"), []string{"event"}, nil},
		{"headerless 24 fields", strings.Join(strings.Split(line33, "\t")[:24], "\t"), []string{"reject"}, nil},
		{"header without request id", "#Fields: date time sc-bytes\n2025-01-02\t03:04:05\t1\n", []string{"reject", "reject"}, func(t *testing.T, r record) {
			if !strings.Contains(r.Reason, "x-edge-request-id") {
				t.Errorf("reason %q", r.Reason)
			}
		}},
		{"bad date", header33 + strings.Replace(line33, "2025-10-01", "2025-02-30", 1), []string{"header", "header", "reject"}, func(t *testing.T, r record) {
			if r.Field != "date" {
				t.Errorf("%+v", r)
			}
		}},
		{"bad bytes", header33 + strings.Replace(line33, "\t1234\t", "\t12x4\t", 1), []string{"header", "header", "reject"}, func(t *testing.T, r record) {
			if r.Field != "sc-bytes" || !strings.Contains(r.Reason, `"12x4"`) {
				t.Errorf("%+v", r)
			}
		}},
		{"missing request id", header33 + strings.Replace(line33, "\tREQ1\t", "\t-\t", 1), []string{"header", "header", "reject"}, nil},
		{"status 000", header33 + strings.Replace(line33, "\t200\t", "\t000\t", 1), []string{"header", "header", "event"}, func(t *testing.T, r record) {
			if r.Typed["status"] != 0 {
				t.Errorf("%+v", r)
			}
		}},
		{"crlf", strings.ReplaceAll(header33, "\n", "\r\n") + line33 + "\r", []string{"header", "header", "event"}, nil},
		{"timestamp field (standard logging v2)", "#Fields: timestamp x-edge-request-id\n1671005351.148\tR\n", []string{"header", "event"}, func(t *testing.T, r record) {
			if r.Time != "2022-12-14T08:09:11.148Z" {
				t.Errorf("%+v", r)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs := parseAll([]byte(tt.log))
			var kinds []string
			for _, r := range recs {
				kinds = append(kinds, r.Kind)
			}
			if strings.Join(kinds, ",") != strings.Join(tt.wantKind, ",") {
				t.Fatalf("kinds %v, want %v: %+v", kinds, tt.wantKind, recs)
			}
			if tt.check != nil {
				tt.check(t, recs[len(recs)-1])
			}
		})
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		field     keymeter.Field
		raw, want string
	}{
		{keymeter.FieldUserAgent, "Mozilla/5.0%20(X11)", "Mozilla/5.0 (X11)"},
		{keymeter.FieldUserAgent, "Mozilla/5.0%2520(X11;%2520%2522q%2522%255C)", `Mozilla/5.0 (X11; "q"\)`},
		{keymeter.FieldQuery, "q=%252F", "q=%2F"}, // the client's own encoding survives one decoding
		{keymeter.FieldQuery, "a=100%", "a=100%"},
		{keymeter.FieldQuery, "bad=%zz%4", "bad=%zz%4"},
		{keymeter.FieldQuery, "-", ""},
		{keymeter.FieldForwardedFor, `10.3.200.121,\x2010.56.14.213`, "10.3.200.121, 10.56.14.213"},
		{keymeter.FieldForwardedFor, `a\x2`, `a\x2`},
		{keymeter.FieldURIStem, "/caf%C3%A9", "/café"},
	}
	for _, tt := range tests {
		if got := string(cloudfront.Decode(nil, tt.field, []byte(tt.raw))); got != tt.want {
			t.Errorf("Decode(%s, %q) = %q, want %q", cloudfront.FieldName(tt.field), tt.raw, got, tt.want)
		}
	}
}

func TestParseSeconds(t *testing.T) {
	tests := []struct {
		in   string
		want int32
		ok   bool
	}{
		{"0.082", 82, true}, {"12", 12000, true}, {"1.5", 1500, true}, {"0.0005", 1, true}, {"0.0004", 0, true},
		{"1.1000590226167435", 1100, true}, {"", 0, false}, {"-1", 0, false}, {"1.", 0, false}, {".5", 0, false}, {"1e3", 0, false},
	}
	for _, tt := range tests {
		got, ok := cloudfront.ParseSeconds([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseSeconds(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseEpoch(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1671005351.148", 1671005351148000, true}, {"1671005351", 1671005351000000, true},
		{"1671005351148", 1671005351148000, true}, {"1671005351.1234567", 1671005351123456, true},
		{"999999999999999999", 0, false}, {"253402300800", 0, false}, {"1.", 0, false}, {"", 0, false}, {"12a", 0, false},
	}
	for _, tt := range tests {
		got, ok := cloudfront.ParseEpoch([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseEpoch(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzParse checks that no line makes the parser panic, and that every
// accepted record carries a request ID and a plausible time.
func FuzzParse(f *testing.F) {
	f.Add(line33)
	f.Add(line33 + "\t")
	f.Add(strings.Join(strings.Split(line33, "\t")[:23], "\t"))
	f.Add("#Fields: date time x-edge-request-id\n")
	for _, path := range []string{"testdata/fixtures/awsdocs_AccessLogs-example.log", "testdata/fixtures/clo-opensearch_log-processor_cloudfront.log"} {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			f.Add(l)
		}
	}
	f.Fuzz(func(t *testing.T, line string) {
		var p cloudfront.Parser
		var ev keymeter.Event
		p.Parse([]byte(strings.Split(header33, "\n")[1]), &ev)
		for _, l := range strings.Split(line, "\n") {
			ok, err := p.Parse([]byte(l), &ev)
			if ok && err != nil {
				t.Fatalf("ok with error %v", err)
			}
			if !ok || err != nil {
				continue
			}
			if len(ev.Value(keymeter.FieldRequestID)) == 0 {
				t.Fatalf("accepted %q without a request ID", l)
			}
			if ev.Time < -62135596800e6 || ev.Time > 253402300799e6 {
				t.Fatalf("accepted %q with time %d", l, ev.Time)
			}
			for _, f := range []keymeter.Field{keymeter.FieldQuery, keymeter.FieldUserAgent, keymeter.FieldForwardedFor} {
				cloudfront.Decode(nil, f, ev.Fields[f])
			}
		}
	})
}

func BenchmarkParse(b *testing.B) {
	var p cloudfront.Parser
	var ev keymeter.Event
	for _, l := range strings.Split(strings.TrimSuffix(header33, "\n"), "\n") {
		p.Parse([]byte(l), &ev)
	}
	line := []byte(line33)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := p.Parse(line, &ev); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
