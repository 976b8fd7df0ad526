package ingest

import (
	"strings"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/format/cloudfrontrt"
	"github.com/keymeter/keymeter/internal/loggen"
)

// rtFields is the real-time field list of the attribution tests.
var rtFields = []string{"timestamp", "c-ip", "sc-status", "cs-uri-stem", "x-edge-request-id", "cs-cookie",
	"cs-headers", "cs-header-names", "cs-headers-count"}

func rtIngester(t testing.TB, fields []string) *Ingester {
	t.Helper()
	in, err := New(nil, Config{Format: "cloudfront-realtime", RealtimeFields: fields, Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// rtRecord makes a record of rtFields.
func rtRecord(stem, cookie, headers, names, count string) string {
	return strings.Join([]string{"1759276800.123", "192.0.2.1", "200", stem, "req-1", cookie, headers, names, count}, "\t") + "\n"
}

func TestRealtimeAttribution(t *testing.T) {
	const key, other = "km_Header+Key/0123456789==", "km_QueryKey0123456789"
	fp := func(k string) string { return fingerprintOf(k).Fingerprint }
	tests := []struct {
		name   string
		record string
		attr   keymeter.Attribution
		key    string // the key attributed to
		stored string // cs-headers as stored; "" to skip the check
	}{
		{"header", rtRecord("/v1/items", "-", "host:a.example%0Ax-api-key:"+key+"%0A", "host%0Ax-api-key%0A", "2"),
			keymeter.Attributed, key, "host:a.example%0Ax-api-key:" + fp(key) + "%0A"},
		{"header in another case and place", rtRecord("/v1/items", "-", "X-API-Key:%20"+key+"%20%0AHost:a%0A", "X-API-Key%0AHost%0A", "2"),
			keymeter.Attributed, key, "X-API-Key:" + fp(key) + "%0AHost:a%0A"},
		{"header before the query", rtRecord("/v1/items?api_key="+other, "-", "x-api-key:"+key+"%0A", "x-api-key%0A", "1"),
			keymeter.Attributed, key, ""},
		{"query when no header", rtRecord("/v1/items?api_key="+other, "-", "host:a%0A", "host%0A", "1"),
			keymeter.Attributed, other, "host:a%0A"},
		{"truncated", rtRecord("/v1/items", "-", "host:a%0Acookie:x%0A", "host%0Acookie%0Ax-api-key%0A", "3"),
			keymeter.KeyTruncated, "", "host:a%0Acookie:x%0A"},
		{"truncated, key in the query", rtRecord("/v1/items?apikey="+other, "-", "host:a%0A", "host%0AX-Api-Key%0A", "2"),
			keymeter.Attributed, other, ""},
		{"cut mid-value", rtRecord("/v1/items", "-", "host:a%0Ax-api-key:km_Hea", "host%0Ax-api-key%0A", "2"),
			keymeter.KeyTruncated, "", "host:a%0Ax-api-key:redacted"},
		{"no key", rtRecord("/v1/items", "-", "host:a%0A", "host%0A", "1"), keymeter.NoKey, "", "host:a%0A"},
		{"empty header, then a key", rtRecord("/v1/items", "-", "x-api-key:%0Ax-api-key:"+key+"%0A", "x-api-key%0Ax-api-key%0A", "2"),
			keymeter.NoKey, "", "x-api-key:redacted%0Ax-api-key:redacted%0A"},
		{"key parameter in a cookie header", rtRecord("/v1/items", "api_key="+other, "cookie:api_key="+other+"%0Areferer:https://x/?apikey="+other+"%0A", "cookie%0Areferer%0A", "2"),
			keymeter.NoKey, "", "cookie:api_key=" + fp(other) + "%0Areferer:https://x/?apikey=" + fp(other) + "%0A"},
	}
	in := rtIngester(t, rtFields)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := in.newEncoder(newKeyFinder(DefaultKeyParams, testSecret))
			p, _ := cloudfrontrt.NewParser(rtFields)
			var ev keymeter.Event
			if ok, err := p.Parse([]byte(tt.record), &ev); !ok || err != nil {
				t.Fatalf("parse: %v", err)
			}
			var b keymeter.Batch
			if got := enc.encode(&ev, []byte(tt.record), &b); got != tt.attr {
				t.Errorf("attribution %v, want %v", got, tt.attr)
			}
			row := b.Rows[0]
			switch {
			case tt.key != "" && row.KeyID != fingerprintOf(tt.key).ID:
				t.Errorf("attributed to key ID %x, want %s's", row.KeyID, tt.key)
			case tt.key == "" && row.KeyID != 0:
				t.Errorf("attributed to key ID %x, want none", row.KeyID)
			}
			rest := string(b.RestOf(0))
			if tt.stored != "" && !strings.Contains(rest, "\t"+tt.stored+"\t") {
				t.Errorf("stored %q, want cs-headers %q", rest, tt.stored)
			}
			for _, dict := range b.Dict {
				rest += "\t" + strings.Join(dict.Values, "\t")
			}
			for _, secret := range []string{key, other, "km_Hea"} {
				if strings.Contains(rest, secret) {
					t.Errorf("a raw key is stored: %q", rest)
				}
			}
		})
	}
}

// TestRealtimeRejectText checks that a rejected record keeps no key: not
// in the key header, not in another header's parameters, not in the
// query.
func TestRealtimeRejectText(t *testing.T) {
	const key = "km_Rejected0123456789abc"
	enc := rtIngester(t, rtFields).newEncoder(newKeyFinder(DefaultKeyParams, testSecret))
	fp := fingerprintOf(key).Fingerprint
	for _, rec := range []string{
		"1759276800.123\t192.0.2.1\tnot-a-status\t/v1?api_key=" + key + "\treq\t-\tX-Api-Key:" + key + "%0Acookie:apikey=" + key + "%0A\tX-Api-Key%0Acookie%0A\t2",
		"x-api-key:" + key + "%0Acookie:a=b%0A\tand too few fields",
		"cut\tx-api-key:" + key,
	} {
		got := string(enc.redactRecord(nil, []byte(rec)))
		if strings.Contains(got, key) || strings.Contains(got, key[:10]) {
			t.Errorf("reject text keeps the key:\n%s", got)
		}
		if strings.HasPrefix(rec, "1759") && !strings.Contains(got, "X-Api-Key:"+fp+"%0A") {
			t.Errorf("the key header should read the fingerprint:\n%s", got)
		}
	}
}

// FuzzRedactHeaders plants a key in the key header, among other
// headers, and checks that it is stored nowhere and kept in no reject.
func FuzzRedactHeaders(f *testing.F) {
	f.Add("host:a", "X-Api-Key", "Zk3yQ9abc", "cookie:a=b")
	f.Add("", "x-api-key", "a+b/c==", "referer:https://x/?q=1")
	f.Add("user-agent:curl/8", "X-API-KEY", "KEY%20", "")
	in := rtIngester(f, rtFields)
	enc := in.newEncoder(newKeyFinder(DefaultKeyParams, testSecret))
	p, _ := cloudfrontrt.NewParser(rtFields)
	f.Fuzz(func(t *testing.T, before, name, key, after string) {
		if len(key) < 6 || !strings.EqualFold(name, "x-api-key") || strings.ContainsAny(key+before+after, "\t\n\r") ||
			strings.Contains(before+after, key[:6]) || strings.Contains(strings.ToLower(key), "%0a") {
			t.Skip()
		}
		headers := name + ":" + key + "%0A"
		if before != "" {
			headers = before + "%0A" + headers
		}
		if after != "" {
			headers += after + "%0A"
		}
		rec := rtRecord("/p", "-", headers, "-", "-")
		if strings.Contains(strings.Replace(rec, name+":"+key, "", 1), key) {
			t.Skip() // the key is also part of something else
		}
		var ev keymeter.Event
		if ok, err := p.Parse([]byte(rec), &ev); !ok || err != nil {
			t.Skip()
		}
		var b keymeter.Batch
		enc.encode(&ev, []byte(rec), &b)
		if got := string(b.RestOf(0)); strings.Contains(got, key) {
			t.Fatalf("headers %q stored as %q", headers, got)
		}
		if got := string(enc.redactRecord(nil, []byte(rec))); strings.Contains(got, key) {
			t.Fatalf("reject text %q keeps the key", got)
		}
	})
}

// TestRecordID checks the identity of records logged without a request
// ID: the same record (with or without its newline) is the same event,
// and the ID depends on the secret.
func TestRecordID(t *testing.T) {
	fields := []string{"timestamp", "c-ip", "sc-status", "cs-uri-stem"}
	in := rtIngester(t, fields)
	enc := in.newEncoder(newKeyFinder(DefaultKeyParams, testSecret))
	p, _ := cloudfrontrt.NewParser(fields)
	id := func(e *encoder, rec string) [2]uint64 {
		var ev keymeter.Event
		if ok, err := p.Parse([]byte(rec), &ev); !ok || err != nil {
			t.Fatal(err)
		}
		return e.rowID(&ev, []byte(rec))
	}
	a := id(enc, "1759276800.123\t192.0.2.1\t200\t/a?api_key=K\n")
	if b := id(enc, "1759276800.123\t192.0.2.1\t200\t/a?api_key=K\r\n"); a != b {
		t.Error("the line end changes the ID")
	}
	if b := id(enc, "1759276800.124\t192.0.2.1\t200\t/a?api_key=K"); a == b {
		t.Error("different records, same ID")
	}
	other, _ := New(nil, Config{Format: "cloudfront-realtime", RealtimeFields: fields, Secret: []byte("another secret, 32 bytes long..")})
	if b := id(other.newEncoder(newKeyFinder(DefaultKeyParams, testSecret)), "1759276800.123\t192.0.2.1\t200\t/a?api_key=K\n"); a == b {
		t.Error("the ID does not depend on the secret")
	}
}

func TestKeyHeaderName(t *testing.T) {
	for _, bad := range []string{"x api key", "x-api-key:", "x%2Dkey"} {
		if _, err := New(nil, Config{Format: "cloudfront-realtime", KeyHeader: bad, Secret: testSecret}); keymeter.ErrorCode(err) != keymeter.EINVALID {
			t.Errorf("key header %q: %v, want EINVALID", bad, err)
		}
	}
}

// benchRecords returns generated records of both formats.
func benchRecords(n int) (standard, realtime [][]byte) {
	g := loggen.New(loggen.Config{Seed: 9, Start: time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC), Span: 24 * time.Hour,
		Customers: 20, KeysPerCustomer: 2, NoKeyPercent: 5, HeaderKeyPercent: 50, TruncatedPercent: 5, BigHeadersPercent: 5})
	var r loggen.Record
	for range n {
		g.NextRealtime(&r)
		line := r.AppendLine(nil, loggen.StandardFields)
		standard = append(standard, line[:len(line)-1])
		realtime = append(realtime, r.AppendRealtime(nil, loggen.RealtimeFields))
	}
	return standard, realtime
}

// BenchmarkEncode measures parsing, attributing, redacting and encoding
// one record, the per-record work of ingest, for both CloudFront formats.
func BenchmarkEncode(b *testing.B) {
	standard, realtime := benchRecords(4096)
	for _, c := range []struct {
		name    string
		format  string
		records [][]byte
	}{{"standard", "cloudfront", standard}, {"realtime", "cloudfront-realtime", realtime}} {
		b.Run(c.name, func(b *testing.B) {
			in, err := New(nil, Config{Format: c.format, Secret: testSecret})
			if err != nil {
				b.Fatal(err)
			}
			p, _ := in.format.NewParser(&in.cfg)
			var ev keymeter.Event
			for _, header := range strings.Split(loggen.Header(loggen.StandardFields), "\n") {
				p.Parse([]byte(header), &ev)
			}
			enc := in.newEncoder(newKeyFinder(DefaultKeyParams, testSecret))
			batch := &keymeter.Batch{}
			var size int64
			for _, r := range c.records {
				size += int64(len(r))
			}
			b.SetBytes(size / int64(len(c.records)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if i%len(c.records) == 0 {
					batch.Reset()
				}
				rec := c.records[i%len(c.records)]
				if ok, err := p.Parse(rec, &ev); !ok || err != nil {
					b.Fatal(err)
				}
				enc.encode(&ev, rec, batch)
			}
		})
	}
}
