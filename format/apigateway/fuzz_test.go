package apigateway

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/keymeter/keymeter"
)

// seedLines adds every line of the given fixtures to f's corpus.
func seedLines(f *testing.F, names ...string) {
	for _, name := range names {
		sc := bufio.NewScanner(bytes.NewReader(readFixture(f, name)))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			f.Add(bytes.Clone(sc.Bytes()))
		}
	}
}

// checkAccepted states what every accepted record must satisfy, and that
// every reject is a *keymeter.ParseError.
func checkAccepted(t *testing.T, p *Parser, rec []byte, ok bool, err error, ev *keymeter.Event) {
	if err != nil {
		var pe *keymeter.ParseError
		if !errors.As(err, &pe) {
			t.Fatalf("Parse(%q) error %v is not a *keymeter.ParseError", rec, err)
		}
		return
	}
	if !ok {
		if len(trimSpace(rec)) != 0 {
			t.Fatalf("Parse(%q) = false, nil for a non-blank record", rec)
		}
		return
	}
	if ev.Source != keymeter.SourceAPIGateway {
		t.Fatalf("source %v", ev.Source)
	}
	if isNull(ev.Fields[keymeter.FieldRequestID]) {
		t.Fatalf("Parse(%q) accepted a record without a request ID", rec)
	}
	x := p.Extra()
	if x.ExtendedRequestID != nil && !bytes.Equal(ev.Fields[keymeter.FieldRequestID], x.ExtendedRequestID) {
		t.Fatalf("request ID %q is not the extended request ID %q", ev.Fields[keymeter.FieldRequestID], x.ExtendedRequestID)
	}
	if ev.Status != -1 && (ev.Status < 0 || ev.Status > 999) || ev.BytesSent < -1 || ev.TimeTaken < -1 || ev.BytesReceived != -1 {
		t.Fatalf("Parse(%q): typed values out of range: %+v", rec, ev)
	}
	for _, v := range [][]byte{x.RequestID, x.ExtendedRequestID, x.APIKeyID, x.APIKey, x.Identity, x.Path} {
		if v != nil && isNull(v) {
			t.Fatalf("Extra holds an empty value %q", v)
		}
	}
}

func FuzzJSONParser(f *testing.F) {
	seedLines(f, "clo-opensearch_microbatch_apigateway1.log", "clo-opensearch_microbatch_apigateway2.gz", "keymeter_json-template.log")
	f.Add([]byte(`{"requestId":"r","requestTimeEpoch":1551890421473,"userAgent":"x\\\"\u00e9\ud83d\ude00"}`))
	f.Add([]byte(`{"requestId":"r","requestTimeEpoch":1,"a":[1,{"b":null}],"c":true,"d":-1.5e3,"e":"\ud800\u00e9"}`))
	p := NewJSONParser(testMapping())
	var ev keymeter.Event
	f.Fuzz(func(t *testing.T, rec []byte) {
		ok, err := p.Parse(rec, &ev)
		checkAccepted(t, p, rec, ok, err, &ev)
		checkAgainstEncodingJSON(t, rec, err, &ev)
	})
}

// checkAgainstEncodingJSON compares the scanner with encoding/json: it
// must not call valid JSON invalid, must not accept invalid JSON (bare
// "-" values aside), and must decode strings the same way.
func checkAgainstEncodingJSON(t *testing.T, rec []byte, err error, ev *keymeter.Event) {
	valid := json.Valid(rec)
	if errors.Is(err, ErrInvalidJSON) {
		if valid && !strings.Contains(err.Error(), "nested too deeply") && !strings.Contains(err.Error(), "must be one JSON object") {
			t.Fatalf("Parse(%q) called valid JSON invalid: %v", rec, err)
		}
		return
	}
	scanned := err == nil || errors.Is(err, ErrMissingField) || errors.Is(err, ErrBadNumber) || errors.Is(err, ErrBadTime)
	if !scanned || len(trimSpace(rec)) == 0 {
		return
	}
	if !valid {
		if !bytes.Contains(rec, []byte("-")) {
			t.Fatalf("Parse(%q) accepted invalid JSON", rec)
		}
		return
	}
	if err != nil {
		return
	}
	var m map[string]any
	if json.Unmarshal(rec, &m) != nil {
		return
	}
	ua, isString := m["userAgent"].(string)
	got := ev.Fields[keymeter.FieldUserAgent]
	if isString && !isNull([]byte(ua)) && utf8.Valid(got) && ua != string(got) {
		t.Fatalf("Parse(%q): user agent %q, encoding/json says %q", rec, got, ua)
	}
}

func FuzzCLFParser(f *testing.F) {
	seedLines(f, "keymeter_clf-template.log")
	p := NewCLFParser()
	var ev keymeter.Event
	f.Fuzz(func(t *testing.T, rec []byte) {
		ok, err := p.Parse(rec, &ev)
		checkAccepted(t, p, rec, ok, err, &ev)
	})
}
