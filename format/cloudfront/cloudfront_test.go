package cloudfront_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
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
		{"1.1000590226167435", 1100, true}, {"", 0, false}, {"-1", 0, false}, {"1.", 1000, true}, {".5", 500, true}, {"1e3", 0, false},
		{"0000000000012.5", 12500, true}, {"2147483.647", 1<<31 - 1, true}, {"2147483.6475", 0, false}, {".", 0, false},
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
		{"999999999999999999", 0, false}, {"253402300800", 0, false}, {"1.", 1000000, true}, {"", 0, false}, {"12a", 0, false},
		{"0001671005351.148", 1671005351148000, true}, {"253402300799.999999", 253402300799999999, true},
		{"1671005351148.5", 0, false}, {"1671005351.1234567890", 0, false}, {"-1671005351", 0, false},
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
			if errors.Is(err, cloudfront.ErrBadNumber) || errors.Is(err, cloudfront.ErrBadTime) {
				if msg := err.Error(); !strings.Contains(msg, `: "`) || !strings.HasSuffix(msg, ")") {
					t.Fatalf("reject %q does not quote the value and say why", msg)
				}
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
			if ev.Status < -1 || ev.Status > 999 || ev.BytesSent < -1 || ev.BytesReceived < -1 || ev.ContentLen < -1 ||
				ev.RangeStart < -1 || ev.RangeEnd < -1 || ev.TimeTaken < -1 || ev.TimeToFirstByte < -1 || ev.ClientPort < -1 {
				t.Fatalf("accepted %q with a number out of range: %+v", l, ev)
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

// withField returns line33 with the named field set to v.
func withField(name, v string) string {
	cols := strings.Split(line33, "\t")
	names := strings.Fields(strings.TrimPrefix(strings.Split(header33, "\n")[1], "#Fields:"))
	for i, n := range names {
		if n == name {
			cols[i] = v
			return strings.Join(cols, "\t")
		}
	}
	panic("no field " + name)
}

// TestNumericFields reads every numeric field of a standard log in every
// form CloudFront writes, or that is unambiguous, and rejects the rest
// with a reason that says what is wrong.
func TestNumericFields(t *testing.T) {
	const maxInt64 = "9223372036854775807"
	tests := []struct {
		field, value string
		typed        string // the typed member the field fills
		want         int64  // its value, when accepted
		reason       string // the reject reason's explanation, when rejected
	}{
		// sc-status: 1 to 3 digits. 000 and 0 are a viewer that went away.
		{"sc-status", "200", "status", 200, ""},
		{"sc-status", "000", "status", 0, ""},
		{"sc-status", "0", "status", 0, ""},
		{"sc-status", "00", "status", 0, ""},
		{"sc-status", "99", "status", 99, ""},
		{"sc-status", "-", "status", -1, ""},
		{"sc-status", "1000", "status", 0, "a status has 1 to 3 digits"},
		{"sc-status", "0200", "status", 0, "a status has 1 to 3 digits"},
		{"sc-status", "-1", "status", 0, "negative"},
		{"sc-status", "2xx", "status", 0, "not a decimal number"},
		{"sc-status", "200.0", "status", 0, "not a whole number"},
		// Byte counts, lengths and ranges: any whole number an int64 holds.
		{"sc-bytes", "0", "bytes_sent", 0, ""},
		{"sc-bytes", "000123", "bytes_sent", 123, ""},
		{"sc-bytes", "1000000000000000000", "bytes_sent", 1000000000000000000, ""},
		{"sc-bytes", maxInt64, "bytes_sent", 1<<63 - 1, ""},
		{"sc-bytes", "0000000000000000000000000042", "bytes_sent", 42, ""},
		{"sc-bytes", "9223372036854775808", "bytes_sent", 0, "larger than 9223372036854775807"},
		{"sc-bytes", "-5", "bytes_sent", 0, "negative"},
		{"sc-bytes", "12.5", "bytes_sent", 0, "not a whole number"},
		{"sc-bytes", "1e3", "bytes_sent", 0, "exponent notation is not allowed"},
		{"sc-bytes", "", "bytes_sent", -1, ""},
		{"cs-bytes", "0", "bytes_received", 0, ""},
		{"cs-bytes", maxInt64, "bytes_received", 1<<63 - 1, ""},
		{"cs-bytes", "12x4", "bytes_received", 0, "not a decimal number"},
		{"sc-content-len", "-", "content_len", -1, ""},
		{"sc-content-len", "0", "content_len", 0, ""},
		{"sc-content-len", "570129.7648412298", "content_len", 0, "not a whole number"},
		{"sc-range-start", "0", "range_start", 0, ""},
		{"sc-range-end", "1048575", "range_end", 1048575, ""},
		{"sc-range-end", "-1", "range_end", 0, "negative"},
		// Ports and counts: 32-bit.
		{"c-port", "0", "c_port", 0, ""},
		{"c-port", "065535", "c_port", 65535, ""},
		{"c-port", "2147483648", "c_port", 0, "larger than 2147483647"},
		{"fle-encrypted-fields", "3", "fle_encrypted", 3, ""},
		{"fle-encrypted-fields", "-", "fle_encrypted", -1, ""},
		// Seconds with up to 3 decimals, into milliseconds.
		{"time-taken", "0.001", "time_taken_ms", 1, ""},
		{"time-taken", "0.082", "time_taken_ms", 82, ""},
		{"time-taken", "0", "time_taken_ms", 0, ""},
		{"time-taken", "12", "time_taken_ms", 12000, ""},
		{"time-taken", ".5", "time_taken_ms", 500, ""},
		{"time-taken", "2.", "time_taken_ms", 2000, ""},
		{"time-taken", "0000000000012.5", "time_taken_ms", 12500, ""},
		{"time-taken", "0.0005", "time_taken_ms", 1, ""},
		{"time-taken", "2147483.647", "time_taken_ms", 1<<31 - 1, ""},
		{"time-taken", "2147483.648", "time_taken_ms", 0, "more than 2147483.647 seconds"},
		{"time-taken", "-0.001", "time_taken_ms", 0, "negative"},
		{"time-taken", "0,082", "time_taken_ms", 0, "not a decimal number"},
		{"time-to-first-byte", "0.050", "ttfb_ms", 50, ""},
		{"time-to-first-byte", "-", "ttfb_ms", -1, ""},
		{"time-to-first-byte", "1e-3", "ttfb_ms", 0, "exponent notation is not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.field+"="+tt.value, func(t *testing.T) {
			recs := parseAll([]byte(header33 + withField(tt.field, tt.value)))
			r := recs[len(recs)-1]
			if tt.reason != "" {
				want := fmt.Sprintf("%q (%s)", tt.value, tt.reason)
				if r.Kind != "reject" || r.Field != tt.field || !strings.HasSuffix(r.Reason, want) {
					t.Fatalf("got %s %s: %s; want a reject of %s ending %s", r.Kind, r.Field, r.Reason, tt.field, want)
				}
				return
			}
			if r.Kind != "event" {
				t.Fatalf("rejected: %s: %s", r.Field, r.Reason)
			}
			if got := r.Typed[tt.typed]; got != tt.want {
				t.Errorf("%s = %d, want %d", tt.typed, got, tt.want)
			}
		})
	}
}

// TestTimeFields reads the date and time of standard logs and the
// timestamp of standard logging v2, and explains the rejects.
func TestTimeFields(t *testing.T) {
	tests := []struct {
		log    string
		want   string // the time, when accepted
		field  string // else the field rejected
		reason string // and the explanation
	}{
		{header33 + withField("date", "2025-10-01"), "2025-10-01T12:00:00Z", "", ""},
		{header33 + withField("date", "2024-02-29"), "2024-02-29T12:00:00Z", "", ""},
		{header33 + withField("time", "00:00:00"), "2025-10-01T00:00:00Z", "", ""},
		{header33 + withField("time", "23:59:59"), "2025-10-01T23:59:59Z", "", ""},
		{header33 + withField("date", "2025-02-29"), "", "date", "no such day"},
		{header33 + withField("date", "2025-13-01"), "", "date", "no such day"},
		{header33 + withField("date", "1969-12-31"), "", "date", "before 1970"},
		{header33 + withField("date", "2025/10/01"), "", "date", "want YYYY-MM-DD"},
		{header33 + withField("date", "-"), "", "date", "want YYYY-MM-DD"},
		{header33 + withField("time", "24:00:00"), "", "time", "no such time of day"},
		{header33 + withField("time", "12:00"), "", "time", "want HH:MM:SS"},
		{"#Fields: timestamp x-edge-request-id\n1671005351.148\tR\n", "2022-12-14T08:09:11.148Z", "", ""},
		{"#Fields: timestamp x-edge-request-id\n1671005351\tR\n", "2022-12-14T08:09:11Z", "", ""},
		{"#Fields: timestamp(ms) x-edge-request-id\n1671005351148\tR\n", "2022-12-14T08:09:11.148Z", "", ""},
		{"#Fields: timestamp x-edge-request-id\n01671005351.148\tR\n", "2022-12-14T08:09:11.148Z", "", ""},
		{"#Fields: timestamp x-edge-request-id\n-1671005351.148\tR\n", "", "timestamp", "negative"},
		{"#Fields: timestamp x-edge-request-id\n1671005351,148\tR\n", "", "timestamp", "not a decimal number"},
		{"#Fields: timestamp x-edge-request-id\n253402300800\tR\n", "", "timestamp", "after 9999-12-31"},
		{"#Fields: timestamp x-edge-request-id\n1671005351148.5\tR\n", "", "timestamp", "milliseconds with a fraction"},
	}
	for _, tt := range tests {
		recs := parseAll([]byte(tt.log))
		r := recs[len(recs)-1]
		line := tt.log[strings.LastIndex(strings.TrimSuffix(tt.log, "\n"), "\n")+1:]
		if tt.field != "" {
			if r.Kind != "reject" || r.Field != tt.field || !strings.HasSuffix(r.Reason, "("+tt.reason+")") {
				t.Errorf("%.40q: got %s %s: %s; want a reject of %s (%s)", line, r.Kind, r.Field, r.Reason, tt.field, tt.reason)
			}
			continue
		}
		if r.Kind != "event" || r.Time != tt.want {
			t.Errorf("%.40q: got %s %s %s, want time %s", line, r.Kind, r.Reason, r.Time, tt.want)
		}
	}
}

// FuzzNumericFields checks sc-bytes, time-taken and sc-status against a
// reference reading: a value is accepted exactly when it is a whole
// number an int64 holds (for seconds, digits with an optional fraction,
// up to 2147483.647; for a status, 1 to 3 digits), and then read as
// strconv and math/big read it; a reject quotes the value and says why.
func FuzzNumericFields(f *testing.F) {
	f.Add("1234", "0.082", "200")
	f.Add("0009223372036854775807", ".5", "0")
	f.Add("-5", "2147483.6475", "0200")
	f.Add("12.5", "1e-3", "-")
	digits := regexp.MustCompile(`^[0-9]+$`)
	decimal := regexp.MustCompile(`^([0-9]+\.?[0-9]*|\.[0-9]+)$`)
	f.Fuzz(func(t *testing.T, bytesV, secs, status string) {
		if strings.ContainsAny(bytesV+secs+status, "\t\r\n") || bytesV == "" || secs == "" || status == "" {
			return
		}
		line := withField("sc-bytes", bytesV)
		cols := strings.Split(line, "\t")
		cols[8], cols[18] = status, secs // sc-status, time-taken
		recs := parseAll([]byte(header33 + strings.Join(cols, "\t")))
		r := recs[len(recs)-1]

		wantSent, sentOK := int64(-1), bytesV == "-"
		if n, err := strconv.ParseInt(bytesV, 10, 64); digits.MatchString(bytesV) && err == nil {
			wantSent, sentOK = n, true
		}
		wantMS, msOK := int64(-1), secs == "-"
		if decimal.MatchString(secs) {
			v, _ := new(big.Rat).SetString(strings.TrimSuffix("0"+secs, "."))
			v.Mul(v, big.NewRat(1000, 1)).Add(v, big.NewRat(1, 2))
			ms := new(big.Int).Quo(v.Num(), v.Denom())
			if ms.IsInt64() && ms.Int64() <= 1<<31-1 {
				wantMS, msOK = ms.Int64(), true
			}
		}
		wantStatus, statusOK := int64(-1), status == "-"
		if digits.MatchString(status) && len(status) <= 3 {
			wantStatus, _ = strconv.ParseInt(status, 10, 64)
			statusOK = true
		}

		if !sentOK || !msOK || !statusOK {
			if r.Kind != "reject" {
				t.Fatalf("sc-bytes %q, time-taken %q, sc-status %q: accepted as %v", bytesV, secs, status, r.Typed)
			}
			if !strings.HasSuffix(r.Reason, ")") || !strings.Contains(r.Reason, `: "`) {
				t.Fatalf("reject reason %q does not quote the value and say why", r.Reason)
			}
			return
		}
		if r.Kind != "event" {
			t.Fatalf("sc-bytes %q, time-taken %q, sc-status %q: rejected: %s %s", bytesV, secs, status, r.Field, r.Reason)
		}
		if r.Typed["bytes_sent"] != wantSent || r.Typed["time_taken_ms"] != wantMS || r.Typed["status"] != wantStatus {
			t.Fatalf("sc-bytes %q, time-taken %q, sc-status %q: read %v; want %d, %d, %d", bytesV, secs, status, r.Typed, wantSent, wantMS, wantStatus)
		}
	})
}
