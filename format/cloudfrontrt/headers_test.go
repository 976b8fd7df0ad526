package cloudfrontrt

import (
	"strings"
	"testing"

	"github.com/keymeter/keymeter"
)

// headerEvent returns an event carrying the given header fields ("" means
// the field is not configured).
func headerEvent(headers, names, count string) *keymeter.Event {
	var ev keymeter.Event
	ev.Reset()
	set := func(f keymeter.Field, v string) {
		if v != "" {
			ev.Fields[f] = []byte(v)
		}
	}
	set(keymeter.FieldHeaders, headers)
	set(keymeter.FieldHeaderNames, names)
	set(keymeter.FieldHeadersCount, count)
	return &ev
}

func TestFindHeader(t *testing.T) {
	tests := []struct {
		name                  string
		headers, names, count string
		header                string
		want                  string
		state                 HeaderState
	}{
		{"lowercase", "host:a.example%0Ax-api-key:k123%0A", "host%0Ax-api-key%0A", "2", "x-api-key", "k123", HeaderPresent},
		{"case as sent", "Host:a.example%0AX-Api-Key:k123%0A", "Host%0AX-Api-Key%0A", "2", "x-api-key", "k123", HeaderPresent},
		{"configured in upper case", "x-api-key:k123%0A", "", "", "X-API-KEY", "k123", HeaderPresent},
		{"decoded once", "x-api-key:k%2012%2522x%0A", "", "", "x-api-key", "k 12%22x", HeaderPresent},
		{"value with colons", "x-api-key:a:b:c%0A", "", "", "x-api-key", "a:b:c", HeaderPresent},
		{"spaces trimmed", "x-api-key:%20k1%20%0A", "", "", "x-api-key", "k1", HeaderPresent},
		{"first of two", "x-api-key:one%0Ax-api-key:two%0A", "", "", "x-api-key", "one", HeaderPresent},
		{"lowercase separator", "host:h%0ax-api-key:k1%0a", "", "", "x-api-key", "k1", HeaderPresent},
		{"prefix is not a match", "x-api-key-id:k1%0Ax-api:k2%0A", "x-api-key-id%0Ax-api%0A", "2", "x-api-key", "", HeaderAbsent},
		{"absent", "host:a.example%0A", "host%0A", "1", "x-api-key", "", HeaderAbsent},
		{"empty value", "x-api-key:%0A", "x-api-key%0A", "1", "x-api-key", "", HeaderAbsent},
		{"dash value", "x-api-key:-%0A", "x-api-key%0A", "1", "x-api-key", "", HeaderAbsent},
		{"headers not logged", "", "", "", "x-api-key", "", HeaderAbsent},
		{"headers dash", "-", "-", "-", "x-api-key", "", HeaderAbsent},
		{"dropped, listed in names", "host:a.example%0Acookie:c%0A", "host%0Acookie%0AX-API-KEY%0A", "3", "x-api-key", "", HeaderTruncated},
		{"dropped, count only", "host:a.example%0A", "", "3", "x-api-key", "", HeaderTruncated},
		{"nothing dropped, count only", "host:a.example%0A", "", "1", "x-api-key", "", HeaderAbsent},
		{"partial last header", "host:a.example%0Ax-api-key:k12", "host%0Ax-api-key%0A", "2", "x-api-key", "", HeaderTruncated},
		{"partial separator", "host:a.example%0Ax-api-key:k12%0", "", "", "x-api-key", "", HeaderTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := headerEvent(tt.headers, tt.names, tt.count)
			dst := []byte("prefix:")
			got, st := FindHeader(dst, ev, tt.header)
			if st != tt.state || string(got) != "prefix:"+tt.want {
				t.Errorf("FindHeader = %q, %v; want %q, %v", got, st, "prefix:"+tt.want, tt.state)
			}
		})
	}
}

func TestAttribution(t *testing.T) {
	want := map[HeaderState]keymeter.Attribution{
		HeaderPresent: keymeter.Attributed, HeaderAbsent: keymeter.NoKey, HeaderTruncated: keymeter.KeyTruncated,
	}
	for st, a := range want {
		if st.Attribution() != a {
			t.Errorf("%v.Attribution() = %v, want %v", st, st.Attribution(), a)
		}
	}
	if keymeter.KeyTruncated.String() != "key_truncated" {
		t.Errorf("KeyTruncated reason = %q", keymeter.KeyTruncated)
	}
}

func TestHeadersInFixture(t *testing.T) {
	ev := parseOne(t, nil, readFixture(t, "clo-opensearch_kds-record.tsv"))
	hdr := ev.Fields[keymeter.FieldHeaders]
	for name, want := range map[string]string{
		"Host":               "d2omsvnrx2yu4i.cloudfront.net",
		"sec-ch-ua":          `"Not?A_Brand";v="8", "Chromium";v="108", "Google Chrome";v="108"`,
		"accept-language":    "en,zh-CN;q=0.9,zh;q=0.8",
		"sec-ch-ua-platform": `"macOS"`,
	} {
		got, ok := AppendHeaderValue(nil, hdr, name)
		if !ok || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", name, got, ok, want)
		}
	}
	if !HeaderListed(ev.Fields[keymeter.FieldHeaderNames], "Accept-Language") {
		t.Error("accept-language not listed")
	}
	if HeaderListed(ev.Fields[keymeter.FieldHeaderNames], "accept-lang") {
		t.Error("a prefix of a name was taken for the name")
	}
	if n := HeadersDropped(hdr, ev.Fields[keymeter.FieldHeadersCount]); n != 0 {
		t.Errorf("HeadersDropped = %d, want 0 (13 of 13 logged)", n)
	}
	if _, st := FindHeader(nil, ev, DefaultKeyHeader); st != HeaderAbsent {
		t.Errorf("x-api-key is %v, want absent", st)
	}
}

// TestTruncatedKey builds a record as CloudFront writes it when large
// headers come before the key: cs-headers stops at 800 bytes, dropping the
// key header, which cs-header-names and cs-headers-count still count.
func TestTruncatedKey(t *testing.T) {
	var hdrs, names strings.Builder
	count, full := 0, false
	add := func(name, value string) {
		count++
		names.WriteString(name + "%0A")
		entry := name + ":" + value + "%0A"
		full = full || hdrs.Len()+len(entry) > 800
		if !full {
			hdrs.WriteString(entry)
		}
	}
	add("host", "api.example.com")
	add("cookie", "session="+strings.Repeat("x", 740))
	add("x-api-key", "secret-key-1")
	add("accept", "*/*")
	if len(hdrs.String()) > 800 || strings.Contains(hdrs.String(), "x-api-key") {
		t.Fatal("test record is not truncated as intended")
	}
	p := mustParser(t, []string{"timestamp", "x-edge-request-id", "cs-headers", "cs-header-names", "cs-headers-count"})
	rec := "1700000000.000\tid-1\t" + hdrs.String() + "\t" + names.String() + "\t" + itoa(count) + "\n"
	var ev keymeter.Event
	if _, err := p.Parse([]byte(rec), &ev); err != nil {
		t.Fatal(err)
	}
	if _, st := FindHeader(nil, &ev, "X-Api-Key"); st != HeaderTruncated || st.Attribution() != keymeter.KeyTruncated {
		t.Errorf("key header is %v, want truncated", st)
	}
	if got, st := FindHeader(nil, &ev, "accept"); st != HeaderTruncated || got != nil {
		t.Errorf("accept = %q, %v; want truncated", got, st)
	}
	if n := HeadersDropped(ev.Fields[keymeter.FieldHeaders], ev.Fields[keymeter.FieldHeadersCount]); n != 2 {
		t.Errorf("HeadersDropped = %d, want 2", n)
	}
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

func TestRedactHeader(t *testing.T) {
	tests := []struct{ in, want string }{
		{"host:h%0AX-Api-Key:k%2012%0Aaccept:*/*%0A", "host:h%0AX-Api-Key:FP%0Aaccept:*/*%0A"},
		{"x-api-key:a%0ax-api-key:b%0A", "x-api-key:FP%0ax-api-key:FP%0A"},
		{"host:h%0Ax-api-key:partial", "host:h%0Ax-api-key:FP"},
		{"host:h%0Ax-api-key-id:k%0A", "host:h%0Ax-api-key-id:k%0A"},
		{"-", "-"},
		{"", ""},
	}
	for _, tt := range tests {
		got := RedactHeader([]byte("pre|"), []byte(tt.in), "x-api-key", []byte("FP"))
		if string(got) != "pre|"+tt.want {
			t.Errorf("RedactHeader(%q) = %q, want %q", tt.in, got, "pre|"+tt.want)
		}
	}
}

// TestRedactRecord hides a key wherever cs-headers sits in a whole
// record, even as its first header, right after a tab.
func TestRedactRecord(t *testing.T) {
	rec := string(readFixture(t, "clo-opensearch_kds-record.tsv"))
	rec = strings.Replace(rec, "\thost:", "\tX-API-Key:s3cr3t%0Ahost:", 1)
	rec = strings.Replace(rec, "accept-language:en,zh-CN;q=0.9,zh;q=0.8%0A", "accept-language:en%0Ax-api-key:s3cr3t-two", 1)
	got := string(RedactHeader(nil, []byte(rec), "x-api-key", []byte("FP")))
	if strings.Contains(got, "s3cr3t") {
		t.Errorf("a key survived redaction: %q", got)
	}
	want := strings.NewReplacer("X-API-Key:s3cr3t%0A", "X-API-Key:FP%0A", "x-api-key:s3cr3t-two", "x-api-key:FP").Replace(rec)
	if got != want {
		t.Errorf("RedactHeader changed more than the key:\n got %q\nwant %q", got, want)
	}
}

// TestRecordHeaderValue finds the key header in a record whose layout
// is unknown: in any field, skipping an empty value or a cut one, and
// not in a field that only looks like a list.
func TestRecordHeaderValue(t *testing.T) {
	tests := []struct {
		name, record, want string
		found              bool
	}{
		{"in cs-headers", "1759276800.1\t200\thost:a%0AX-Api-Key:k%2012%0A\thost%0AX-Api-Key%0A", "k 12", true},
		{"first field", "x-api-key:k1%0A\tand too few fields", "k1", true},
		{"empty, then whole", "x-api-key:%0A\tx-api-key:k2%0A", "k2", true},
		{"cut short", "cut\tx-api-key:k3", "", false},
		{"absent", "1759276800.1\t200\thost:a%0A", "", false},
		{"another header's name", "x-api-key-id:k4%0A", "", false},
	}
	for _, tt := range tests {
		got, found := AppendRecordHeaderValue([]byte("pre|"), []byte(tt.record), "x-api-key")
		if found != tt.found || string(got) != "pre|"+tt.want {
			t.Errorf("%s: %q, %v; want %q, %v", tt.name, got, found, "pre|"+tt.want, tt.found)
		}
	}
}

func TestIsHeaderName(t *testing.T) {
	for _, name := range []string{"x-api-key", "X-Api-Key", "authorization", "x_key.v2~!#$&'*+^`|"} {
		if !IsHeaderName(name) {
			t.Errorf("%q refused", name)
		}
	}
	for _, name := range []string{"", "x api key", "x-api-key:", "x%2Dkey", "x\tkey", "x\x7fkey", "clé", "a(b)", "a/b", "a=b", "a\"b"} {
		if IsHeaderName(name) {
			t.Errorf("%q accepted", name)
		}
	}
}

func TestHeaderHelpersDoNotAllocate(t *testing.T) {
	hdr := []byte("host:h%0Acookie:a=b%0AX-Api-Key:k%2012%0Aaccept:*/*%0A")
	buf := make([]byte, 0, 256)
	allocs := testing.AllocsPerRun(100, func() {
		buf, _ = AppendHeaderValue(buf[:0], hdr, "x-api-key")
		buf = RedactHeader(buf[:0], hdr, "x-api-key", []byte("FP"))
		_ = HeaderListed(hdr, "accept")
	})
	if allocs != 0 {
		t.Errorf("header helpers allocate %.1f times per call", allocs)
	}
}

func BenchmarkFindHeader(b *testing.B) {
	ev := parseOne(b, nil, readFixture(b, "clo-opensearch_kds-record.tsv"))
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = FindHeader(buf[:0], ev, DefaultKeyHeader) // absent: scans every header
	}
}
