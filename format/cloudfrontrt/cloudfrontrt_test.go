package cloudfrontrt

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/keymeter/keymeter"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// ownstatsFields is the real-time log configuration of ownstats
// (backend/resources/cf-distribution.yml), whose records are fixtures.
var ownstatsFields = []string{
	"timestamp", "c-ip", "sc-status", "cs-uri-stem", "cs-bytes", "x-edge-location", "time-taken",
	"cs-user-agent", "cs-referer", "cs-uri-query", "x-edge-result-type", "asn",
}

// fixtures maps each fixture record to the field list it was logged with
// (nil: the default, all 45 documented fields).
var fixtures = map[string][]string{
	"clo-opensearch_kds-record.tsv":   nil,
	"ownstats_rawGoScriptData.txt":    ownstatsFields,
	"ownstats_rawHelloScriptData.txt": ownstatsFields,
	"ownstats_rawPageViewData.txt":    ownstatsFields,
	"ownstats_rawRefererData.txt":     ownstatsFields,
	"ownstats_rawTabEventData.txt":    ownstatsFields,
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "fixtures", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustParser(t testing.TB, fields []string) *Parser {
	t.Helper()
	p, err := NewParser(fields)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func parseOne(t testing.TB, fields []string, record []byte) *keymeter.Event {
	t.Helper()
	var ev keymeter.Event
	ok, err := mustParser(t, fields).Parse(record, &ev)
	if err != nil || !ok {
		t.Fatalf("Parse = %v, %v", ok, err)
	}
	return &ev
}

// TestExpected checks the 45-field record against the upstream project's
// own expectations, transcribed in the .expected.json fixture.
func TestExpected(t *testing.T) {
	var want map[string]*string
	if err := json.Unmarshal(readFixture(t, "clo-opensearch_kds-record.expected.json"), &want); err != nil {
		t.Fatal(err)
	}
	if len(want) != 45 {
		t.Fatalf("expected.json has %d fields, want 45", len(want))
	}
	ev := parseOne(t, nil, readFixture(t, "clo-opensearch_kds-record.tsv"))
	for name, v := range want {
		i, ok := position[name]
		if !ok {
			t.Errorf("expected.json names unknown field %q", name)
			continue
		}
		w := "-"
		if v != nil {
			w = *v
		}
		f := canonical[i].field
		switch f {
		case keymeter.FieldURIStem: // the parser splits the query off
			w, _, _ = strings.Cut(w, "?")
		}
		if got := string(ev.Fields[f]); got != w {
			t.Errorf("%s = %q, want %q", name, got, w)
		}
	}
	if got := string(ev.Fields[keymeter.FieldViewerHost]); got != "d2omsvnrx2yu4i.cloudfront.net" {
		t.Errorf("viewer host (cs-host) = %q", got)
	}
	typed := []struct {
		name      string
		got, want int64
	}{
		{"Time", ev.Time, 1671005351148000},
		{"Status", int64(ev.Status), 200},
		{"BytesSent", ev.BytesSent, 2212},
		{"BytesReceived", ev.BytesReceived, 50},
		{"TimeTaken", int64(ev.TimeTaken), 1},
		{"TimeToFirstByte", int64(ev.TimeToFirstByte), 1},
		{"ClientPort", int64(ev.ClientPort), 17929},
		{"ContentLen", ev.ContentLen, -1},
		{"RangeStart", ev.RangeStart, -1},
		{"RangeEnd", ev.RangeEnd, -1},
		{"FLEEncrypted", int64(ev.FLEEncrypted), -1},
	}
	for _, c := range typed {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	if ev.Source != keymeter.SourceCloudFrontRealtime {
		t.Errorf("Source = %v", ev.Source)
	}
}

// golden is what the golden files record of a parse.
type golden struct {
	Fields          map[string]string `json:"fields"`
	Time            int64             `json:"time_us"`
	Status          int32             `json:"status"`
	BytesSent       int64             `json:"bytes_sent"`
	BytesReceived   int64             `json:"bytes_received"`
	TimeTaken       int32             `json:"time_taken_ms"`
	TimeToFirstByte int32             `json:"ttfb_ms"`
	ClientPort      int32             `json:"client_port"`
	ContentLen      int64             `json:"content_len"`
	KeyHeader       string            `json:"x_api_key_state"`
}

func TestGolden(t *testing.T) {
	for name, fields := range fixtures {
		t.Run(name, func(t *testing.T) {
			ev := parseOne(t, fields, readFixture(t, name))
			g := golden{
				Fields: map[string]string{}, Time: ev.Time, Status: ev.Status, BytesSent: ev.BytesSent,
				BytesReceived: ev.BytesReceived, TimeTaken: ev.TimeTaken, TimeToFirstByte: ev.TimeToFirstByte,
				ClientPort: ev.ClientPort, ContentLen: ev.ContentLen,
			}
			for f, v := range ev.Fields {
				if v != nil {
					g.Fields[FieldName(keymeter.Field(f))] = string(v)
				}
			}
			_, st := FindHeader(nil, ev, DefaultKeyHeader)
			g.KeyHeader = st.String()
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(g); err != nil {
				t.Fatal(err)
			}
			got := buf.Bytes()
			path := filepath.Join("testdata", "golden", strings.TrimSuffix(name, filepath.Ext(name))+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("parse of %s differs from %s (go test -update rewrites it):\n%s", name, path, got)
			}
		})
	}
}

func TestOwnstats(t *testing.T) {
	ev := parseOne(t, ownstatsFields, readFixture(t, "ownstats_rawRefererData.txt"))
	if got := string(ev.Fields[keymeter.FieldClientIP]); got != "2600:1700:2328:7f60:fc5c:8867:7522:1bef" {
		t.Errorf("c-ip = %q", got)
	}
	if got := string(ev.Fields[keymeter.FieldURIStem]); got != "/hello.gif" {
		t.Errorf("path = %q", got)
	}
	if q := string(ev.Fields[keymeter.FieldQuery]); !strings.HasPrefix(q, "t=pv&ts=1702852983288&") {
		t.Errorf("query = %q", q)
	}
	if ev.Time != 1702852983380000 || ev.TimeTaken != 2 || ev.BytesReceived != 674 || ev.Status != 200 {
		t.Errorf("typed = time %d, time-taken %d, cs-bytes %d, status %d", ev.Time, ev.TimeTaken, ev.BytesReceived, ev.Status)
	}
	if ev.BytesSent != -1 || ev.Fields[keymeter.FieldRequestID] != nil {
		t.Errorf("unconfigured fields were filled: sc-bytes %d, x-edge-request-id %q", ev.BytesSent, ev.Fields[keymeter.FieldRequestID])
	}
	if got := string(ev.Fields[keymeter.FieldASN]); got != "7018" {
		t.Errorf("asn = %q (record without trailing newline)", got)
	}

	ev = parseOne(t, ownstatsFields, readFixture(t, "ownstats_rawGoScriptData.txt"))
	if got := string(ev.Fields[keymeter.FieldASN]); got != "3320" {
		t.Errorf("asn = %q, want the trailing newline stripped", got)
	}
	if got := string(ev.Fields[keymeter.FieldQuery]); got != "-" {
		t.Errorf("query = %q", got)
	}
}

func TestFieldOrderIsCanonical(t *testing.T) {
	shuffled := []string{"asn", " X-Edge-Result-Type", "cs-uri-query", "cs-referer", "cs-user-agent", "time-taken",
		"x-edge-location", "cs-bytes", "cs-uri-stem", "sc-status", "c-ip", "TIMESTAMP"}
	p := mustParser(t, shuffled)
	if got, want := strings.Join(p.Fields(), " "), strings.Join(ownstatsFields, " "); got != want {
		t.Errorf("Fields() = %s\nwant %s", got, want)
	}
	var a, b keymeter.Event
	rec := readFixture(t, "ownstats_rawPageViewData.txt")
	if _, err := p.Parse(rec, &a); err != nil {
		t.Fatal(err)
	}
	if _, err := mustParser(t, ownstatsFields).Parse(rec, &b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Error("a shuffled field list parses differently from the canonical one")
	}
}

func TestFieldLists(t *testing.T) {
	if n := len(DefaultFields()); n != 45 {
		t.Errorf("DefaultFields has %d names, want 45", n)
	}
	all := CanonicalFields()
	if len(all) != 46 || all[2] != "s-ip" || all[1] != "c-ip" || all[3] != "time-to-first-byte" {
		t.Errorf("CanonicalFields = %v", all)
	}
	seen := map[keymeter.Field]bool{}
	for _, c := range canonical {
		if seen[c.field] {
			t.Errorf("%s maps to a field already mapped", c.name)
		}
		seen[c.field] = true
	}
	if FieldName(keymeter.FieldViewerHost) != "cs-host" || FieldName(keymeter.FieldDistributionDomain) != "x-host-header" {
		t.Error("cs-host / x-host-header meanings are not swapped relative to standard logs")
	}
}

func TestNewParserErrors(t *testing.T) {
	tests := []struct {
		fields []string
		want   []string
	}{
		{[]string{"timestamp", "cs(Host)", "bogus"}, []string{`"cs(Host)"`, `"bogus"`, "unknown real-time log fields"}},
		{[]string{"timestamp", "c-ip", "C-IP"}, []string{"c-ip more than once"}},
		{[]string{"c-ip", "sc-status"}, []string{"lacks timestamp"}},
	}
	for _, tt := range tests {
		_, err := NewParser(tt.fields)
		if err == nil {
			t.Errorf("NewParser(%q) succeeded", tt.fields)
			continue
		}
		if keymeter.ErrorCode(err) != keymeter.EINVALID {
			t.Errorf("NewParser(%q) code = %s, want %s", tt.fields, keymeter.ErrorCode(err), keymeter.EINVALID)
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("NewParser(%q) = %v, want it to mention %s", tt.fields, err, w)
			}
		}
	}
}

func TestFieldCountMismatch(t *testing.T) {
	rec := readFixture(t, "ownstats_rawGoScriptData.txt")
	tests := []struct {
		fields []string
		want   string
	}{
		{append([]string{"cs-method"}, ownstatsFields...), "record has 12 fields, the configured list has 13 (the field list must name exactly"},
		{ownstatsFields[:11], "record has 12 fields, the configured list has 11 (if the real-time log configuration includes s-ip"},
		{nil, "record has 12 fields, the configured list has 45"},
	}
	for _, tt := range tests {
		var ev keymeter.Event
		ok, err := mustParser(t, tt.fields).Parse(rec, &ev)
		if ok || !errors.Is(err, ErrFieldCount) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse with %d fields = %v, %v; want %q", len(tt.fields), ok, err, tt.want)
		}
		var pe *keymeter.ParseError
		if !errors.As(err, &pe) {
			t.Errorf("error %T is not a *keymeter.ParseError", err)
		}
	}
	var ev keymeter.Event
	_, err := mustParser(t, nil).Parse([]byte("just one field\n"), &ev)
	if err == nil || !strings.Contains(err.Error(), "no tabs") {
		t.Errorf("one-field record: %v", err)
	}
}

func TestParseEdges(t *testing.T) {
	p := mustParser(t, []string{"timestamp", "sc-status", "cs-uri-stem", "x-edge-request-id"})
	tests := []struct {
		rec       string
		ok        bool
		errField  string
		stem, qry string
	}{
		{"1671005351.148\t200\t/a?k=v\tid1\r\n", true, "", "/a", "k=v"},
		{"1671005351.148\t200\t/a\tid1\n", true, "", "/a", "-"},
		{"1671005351.148\t200\t/a?\tid1", true, "", "/a", ""},
		{"1671005351.148\t200\t-\tid1", true, "", "-", ""},
		{"", false, "", "", ""},
		{"\n", false, "", "", ""},
		{"-\t200\t/a\tid1", false, "timestamp", "", ""},
		{"1671005351.148\t20x\t/a\tid1", false, "sc-status", "", ""},
		{"1671005351.148\t200\t/a\t-", false, "x-edge-request-id", "", ""},
	}
	for _, tt := range tests {
		var ev keymeter.Event
		ok, err := p.Parse([]byte(tt.rec), &ev)
		if ok != tt.ok {
			t.Errorf("Parse(%q) = %v, %v", tt.rec, ok, err)
			continue
		}
		if tt.errField != "" {
			var pe *keymeter.ParseError
			if !errors.As(err, &pe) || pe.Field != tt.errField {
				t.Errorf("Parse(%q) error = %v, want one about %s", tt.rec, err, tt.errField)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.rec, err)
		}
		if !ok {
			continue
		}
		if got := string(ev.Fields[keymeter.FieldURIStem]); got != tt.stem {
			t.Errorf("Parse(%q) stem = %q, want %q", tt.rec, got, tt.stem)
		}
		if got := string(ev.Fields[keymeter.FieldQuery]); got != tt.qry {
			t.Errorf("Parse(%q) query = %q, want %q", tt.rec, got, tt.qry)
		}
	}
}

func TestParseDoesNotAllocate(t *testing.T) {
	rec := readFixture(t, "clo-opensearch_kds-record.tsv")
	p := mustParser(t, nil)
	var ev keymeter.Event
	var buf []byte
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := p.Parse(rec, &ev); err != nil {
			t.Fatal(err)
		}
		buf, _ = FindHeader(buf[:0], &ev, "user-agent")
	})
	if allocs != 0 {
		t.Errorf("Parse + FindHeader allocate %.1f times per record", allocs)
	}
}

func BenchmarkParse(b *testing.B) {
	for name, fields := range map[string][]string{"45fields": nil, "12fields": ownstatsFields} {
		file := "clo-opensearch_kds-record.tsv"
		if fields != nil {
			file = "ownstats_rawPageViewData.txt"
		}
		b.Run(name, func(b *testing.B) {
			rec := readFixture(b, file)
			p := mustParser(b, fields)
			var ev keymeter.Event
			b.ReportAllocs()
			b.SetBytes(int64(len(rec)))
			for b.Loop() {
				if _, err := p.Parse(rec, &ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestNumericFields reads the numeric and time fields of real-time
// records in every form CloudFront writes them, or that is unambiguous,
// and rejects the rest with a reason that says what is wrong. Status 0
// is what real-time logs write for a viewer that went away.
func TestNumericFields(t *testing.T) {
	fields := []string{"timestamp", "time-to-first-byte", "sc-status", "sc-bytes", "cs-bytes", "x-edge-request-id", "time-taken", "c-port"}
	p := mustParser(t, fields)
	good := map[string]string{
		"timestamp": "1671005351.148", "time-to-first-byte": "0.001", "sc-status": "200", "sc-bytes": "2212",
		"cs-bytes": "50", "x-edge-request-id": "R1", "time-taken": "0.002", "c-port": "17929",
	}
	record := func(name, v string) []byte {
		var b []byte
		for i, f := range fields {
			if i > 0 {
				b = append(b, '\t')
			}
			if f == name {
				b = append(b, v...)
			} else {
				b = append(b, good[f]...)
			}
		}
		return append(b, '\n')
	}
	tests := []struct {
		field, value string
		get          func(*keymeter.Event) int64
		want         int64
		reason       string // the reject's explanation, when rejected
	}{
		{"sc-status", "0", status, 0, ""},
		{"sc-status", "000", status, 0, ""},
		{"sc-status", "200", status, 200, ""},
		{"sc-status", "499", status, 499, ""},
		{"sc-status", "-", status, -1, ""},
		{"sc-status", "2000", status, 0, "a status has 1 to 3 digits"},
		{"sc-status", "-1", status, 0, "negative"},
		{"sc-bytes", "0", sent, 0, ""},
		{"sc-bytes", "9223372036854775807", sent, 1<<63 - 1, ""},
		{"sc-bytes", "9223372036854775808", sent, 0, "larger than 9223372036854775807"},
		{"sc-bytes", "-1", sent, 0, "negative"},
		{"cs-bytes", "00050", recv, 50, ""},
		{"time-taken", "0.001", taken, 1, ""},
		{"time-taken", "0.000", taken, 0, ""},
		{"time-taken", "12", taken, 12000, ""},
		{"time-taken", "-", taken, -1, ""},
		{"time-taken", "0.5s", taken, 0, "not a decimal number"},
		{"time-to-first-byte", "0.0015", ttfb, 2, ""},
		{"c-port", "0", port, 0, ""},
		{"c-port", "99999999999", port, 0, "larger than 2147483647"},
		{"timestamp", "1671005351.148", when, 1671005351148000, ""},
		{"timestamp", "1671005351", when, 1671005351000000, ""},
		{"timestamp", "1671005351.1", when, 1671005351100000, ""},
		{"timestamp", "1671005351148", when, 1671005351148000, ""},
		{"timestamp", "-1.5", when, 0, "negative"},
		{"timestamp", "1671005351.148Z", when, 0, "not a decimal number"},
	}
	for _, tt := range tests {
		t.Run(tt.field+"="+tt.value, func(t *testing.T) {
			var ev keymeter.Event
			ok, err := p.Parse(record(tt.field, tt.value), &ev)
			if tt.reason != "" {
				var pe *keymeter.ParseError
				want := `"` + tt.value + `" (` + tt.reason + ")"
				if ok || !errors.As(err, &pe) || pe.Field != tt.field || !strings.HasSuffix(pe.Err.Error(), want) {
					t.Fatalf("got %v, %v; want a reject of %s ending %s", ok, err, tt.field, want)
				}
				return
			}
			if !ok || err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if got := tt.get(&ev); got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

func status(ev *keymeter.Event) int64 { return int64(ev.Status) }
func sent(ev *keymeter.Event) int64   { return ev.BytesSent }
func recv(ev *keymeter.Event) int64   { return ev.BytesReceived }
func taken(ev *keymeter.Event) int64  { return int64(ev.TimeTaken) }
func ttfb(ev *keymeter.Event) int64   { return int64(ev.TimeToFirstByte) }
func port(ev *keymeter.Event) int64   { return int64(ev.ClientPort) }
func when(ev *keymeter.Event) int64   { return ev.Time }
