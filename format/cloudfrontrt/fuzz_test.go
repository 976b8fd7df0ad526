package cloudfrontrt

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unsafe"

	"github.com/keymeter/keymeter"
)

// within reports whether sub lies inside b's memory, i.e. aliases it.
func within(sub, b []byte) bool {
	if len(sub) == 0 {
		return true
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	s := uintptr(unsafe.Pointer(unsafe.SliceData(sub)))
	return s >= start && s+uintptr(len(sub)) <= start+uintptr(len(b))
}

func FuzzParse(f *testing.F) {
	for name, fields := range fixtures {
		f.Add(readFixture(f, name), fields == nil)
	}
	f.Add([]byte("1671005351.148\t200\t/a?k=v\tid1\r\n"), false)
	full := mustParser(f, nil)
	short := mustParser(f, ownstatsFields)
	f.Fuzz(func(t *testing.T, rec []byte, useFull bool) {
		p := short
		if useFull {
			p = full
		}
		var ev keymeter.Event
		ok, err := p.Parse(rec, &ev)
		if ok && err != nil {
			t.Fatalf("Parse(%q) = true, %v", rec, err)
		}
		if !ok && err == nil && len(rec) != 0 && string(rec) != "\n" && string(rec) != "\r\n" {
			t.Fatalf("Parse(%q) skipped a record that is not empty", rec)
		}
		if err != nil {
			if _, isParse := err.(*keymeter.ParseError); !isParse {
				t.Fatalf("error %T is not a *keymeter.ParseError", err)
			}
			if errors.Is(err, ErrBadNumber) || errors.Is(err, ErrBadTime) {
				if msg := err.Error(); !strings.Contains(msg, `: "`) || !strings.HasSuffix(msg, ")") {
					t.Fatalf("reject %q does not quote the value and say why", msg)
				}
			}
			return
		}
		if !ok {
			return
		}
		if ev.Time < 0 || ev.Status < -1 || ev.Status > 999 || ev.BytesSent < -1 || ev.BytesReceived < -1 || ev.TimeTaken < -1 || ev.TimeToFirstByte < -1 {
			t.Fatalf("Parse(%q) accepted a number out of range: %+v", rec, ev)
		}
		for f, v := range ev.Fields {
			if v != nil && !within(v, rec) && !bytes.Equal(v, dash) {
				t.Fatalf("field %s does not alias the record", FieldName(keymeter.Field(f)))
			}
			if bytes.IndexByte(v, '\t') >= 0 {
				t.Fatalf("field %s contains a tab", FieldName(keymeter.Field(f)))
			}
		}
		if bytes.IndexByte(ev.Fields[keymeter.FieldURIStem], '?') >= 0 {
			t.Fatal("path contains '?'")
		}
		checkHeaders(t, &ev, DefaultKeyHeader)
	})
}

func FuzzHeaders(f *testing.F) {
	f.Add("host:h%0AX-Api-Key:k%2012%0A", "host%0AX-Api-Key%0A", "2", "x-api-key")
	f.Add("host:h%0Ax-api-key:k1", "", "3", "x-api-key")
	f.Add("%0A%0A:%0Ax-api-key:%0", "x-api-key", "-", "X-API-KEY")
	f.Fuzz(func(t *testing.T, headers, names, count, name string) {
		ev := headerEvent(headers, names, count)
		checkHeaders(t, ev, name)
	})
}

// checkHeaders checks the header helpers' invariants on one event.
func checkHeaders(t *testing.T, ev *keymeter.Event, name string) {
	hdr := ev.Fields[keymeter.FieldHeaders]
	val, st := FindHeader(nil, ev, name)
	if st == HeaderPresent && len(val) == 0 || st != HeaderPresent && len(val) != 0 {
		t.Fatalf("FindHeader = %q, %v", val, st)
	}
	v2, ok := AppendHeaderValue(nil, hdr, name)
	if st == HeaderPresent && (!ok || !bytes.Equal(v2, val)) || ok && len(v2) > 0 && st != HeaderPresent {
		t.Fatalf("AppendHeaderValue = %q, %v; FindHeader = %q, %v", v2, ok, val, st)
	}
	if strings.ContainsAny(name, ":") || strings.Contains(strings.ToUpper(name), "%0A") || name != string(trimOWS([]byte(name))) || name == "" {
		return // names a header cannot have
	}
	red := RedactHeader(nil, hdr, name, []byte("REDACTED"))
	if bytes.IndexByte(hdr, '\t') >= 0 { // not a field: tabs end headers
		if bytes.Count(red, tab) != bytes.Count(hdr, tab) {
			t.Fatalf("redaction of %q changed the tabs: %q", hdr, red)
		}
		return
	}
	raw, found, _ := RawHeader(red, name)
	if found != rawFound(hdr, name) {
		t.Fatalf("redaction changed whether %q is found in %q", name, hdr)
	}
	if found && string(raw) != "REDACTED" {
		t.Fatalf("after redaction %q = %q", name, raw)
	}
	if !found && !bytes.Equal(red, hdr) {
		t.Fatalf("redaction of an absent header changed %q to %q", hdr, red)
	}
}

func rawFound(hdr []byte, name string) bool {
	_, found, _ := RawHeader(hdr, name)
	return found
}
