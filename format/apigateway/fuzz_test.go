package apigateway

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"math/big"
	"regexp"
	"strconv"
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

// FuzzNumbers checks status, responseLength and requestTimeEpoch, logged
// as strings, against a reference reading: a status is 1 to 3 digits, a
// length a whole number an int64 holds, an epoch 13 digits of
// milliseconds or 10 of seconds (with an optional fraction), leading
// zeros aside; anything else is rejected with the value and a reason.
func FuzzNumbers(f *testing.F) {
	f.Add("200", "1234", "1551890421473")
	f.Add("0", "0009223372036854775807", "1551890421.5")
	f.Add("2000", "-1", "15518904")
	digits := regexp.MustCompile(`^[0-9]+$`)
	seconds := regexp.MustCompile(`^0*[1-9][0-9]{9}(\.[0-9]{0,9})?$`)
	millis := regexp.MustCompile(`^0*[1-9][0-9]{12}$`)
	p := NewJSONParser(DefaultMapping())
	var ev keymeter.Event
	f.Fuzz(func(t *testing.T, status, length, epoch string) {
		for _, s := range []string{status, length, epoch} {
			if s == "" || s == "-" || strings.ContainsAny(s, "\"\\") || strings.IndexFunc(s, func(r rune) bool { return r < 0x20 }) >= 0 {
				return
			}
		}
		rec := `{"requestId":"r","requestTimeEpoch":"` + epoch + `","status":"` + status + `","responseLength":"` + length + `"}`
		ok, err := p.Parse([]byte(rec), &ev)

		n, lerr := strconv.ParseInt(length, 10, 64)
		lengthOK := digits.MatchString(length) && lerr == nil
		statusOK := digits.MatchString(status) && len(status) <= 3
		var wantTime int64
		epochOK := true
		switch {
		case millis.MatchString(epoch):
			ms, _ := strconv.ParseInt(epoch, 10, 64)
			wantTime = ms * 1000
		case seconds.MatchString(epoch):
			r, _ := new(big.Rat).SetString(strings.TrimSuffix(epoch, "."))
			r.Mul(r, big.NewRat(1e6, 1))
			wantTime = new(big.Int).Quo(r.Num(), r.Denom()).Int64()
		default:
			epochOK = false
		}
		if !lengthOK || !statusOK || !epochOK {
			var pe *keymeter.ParseError
			if ok || !errors.As(err, &pe) || !strings.HasSuffix(pe.Err.Error(), ")") || !strings.Contains(pe.Err.Error(), `: "`) {
				t.Fatalf("%s: got %v, %v; want a reject that quotes the value and says why", rec, ok, err)
			}
			return
		}
		if !ok || err != nil {
			t.Fatalf("%s: rejected: %v", rec, err)
		}
		s, _ := strconv.ParseInt(status, 10, 64)
		if ev.BytesSent != n || int64(ev.Status) != s || ev.Time != wantTime {
			t.Fatalf("%s: read status %d, length %d, time %d; want %d, %d, %d", rec, ev.Status, ev.BytesSent, ev.Time, s, n, wantTime)
		}
	})
}
