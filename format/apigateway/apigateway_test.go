package apigateway

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// testMapping is DefaultMapping with an operator's identity choice, as an
// HTTP API with a Lambda authorizer (or the fixtures' template) needs.
func testMapping() Mapping {
	m := DefaultMapping()
	m.Identity = []string{"authorizer.principalId", "principal_id"}
	return m
}

// rendered is the readable form of one parsed record.
type rendered struct {
	Line   int             `json:"line"`
	Reject *renderedReject `json:"reject,omitempty"`
	*renderedEvent
}

type renderedEvent struct {
	Time   string            `json:"time,omitempty"`
	TimeUS int64             `json:"time_us,omitempty"`
	Status int32             `json:"status"`
	Sent   int64             `json:"bytes_sent"`
	Recv   int64             `json:"bytes_received"`
	Taken  int32             `json:"time_taken_ms"`
	Fields map[string]string `json:"fields,omitempty"`
	Extra  map[string]any    `json:"extra,omitempty"`
}

type renderedReject struct {
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason"`
}

var fieldNames = map[keymeter.Field]string{
	keymeter.FieldRequestID: "request_id", keymeter.FieldMethod: "method", keymeter.FieldURIStem: "uri_stem",
	keymeter.FieldClientIP: "client_ip", keymeter.FieldUserAgent: "user_agent", keymeter.FieldProtocol: "protocol",
	keymeter.FieldStatus: "status", keymeter.FieldBytesSent: "bytes_sent", keymeter.FieldViewerHost: "viewer_host",
}

func render(line int, ok bool, err error, ev *keymeter.Event, x *Extra) *rendered {
	r := &rendered{Line: line}
	if err != nil {
		var pe *keymeter.ParseError
		if !errors.As(err, &pe) {
			r.Reject = &renderedReject{Reason: "NOT A ParseError: " + err.Error()}
			return r
		}
		r.Reject = &renderedReject{Field: pe.Field, Reason: pe.Err.Error()}
		return r
	}
	if !ok {
		return nil
	}
	r.renderedEvent = new(renderedEvent)
	r.TimeUS = ev.Time
	r.Time = time.UnixMicro(ev.Time).UTC().Format(time.RFC3339Nano)
	r.Status, r.Sent, r.Recv, r.Taken = ev.Status, ev.BytesSent, ev.BytesReceived, ev.TimeTaken
	r.Fields = map[string]string{}
	for f, v := range ev.Fields {
		if v == nil {
			continue
		}
		name, known := fieldNames[keymeter.Field(f)]
		if !known {
			name = "UNEXPECTED FIELD " + string(rune('0'+f))
		}
		r.Fields[name] = string(v)
	}
	r.Extra = map[string]any{}
	for name, v := range map[string][]byte{
		"request_id": x.RequestID, "extended_request_id": x.ExtendedRequestID, "path": x.Path,
		"resource_path": x.ResourcePath, "route_key": x.RouteKey, "api_key_id": x.APIKeyID, "api_key": x.APIKey,
		"identity": x.Identity, "caller": x.Caller, "user": x.User, "stage": x.Stage, "api_id": x.APIID,
	} {
		if v != nil {
			r.Extra[name] = string(v)
		}
	}
	r.Extra["integration_latency_ms"] = x.IntegrationLatency
	r.Extra["response_latency_ms"] = x.ResponseLatency
	return r
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(name, ".gz") {
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

// parseAll parses every line of a fixture and renders the results.
func parseAll(t *testing.T, p *Parser, data []byte) []*rendered {
	t.Helper()
	var out []*rendered
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	var ev keymeter.Event
	for n := 1; sc.Scan(); n++ {
		ok, err := p.Parse(sc.Bytes(), &ev)
		if r := render(n, ok, err, &ev, p.Extra()); r != nil {
			out = append(out, r)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func checkGolden(t *testing.T, name string, got any) {
	t.Helper()
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(b, want) {
		t.Errorf("%s differs from the golden file; got:\n%s", path, b)
	}
}

func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		fixture string
		clf     bool
	}{
		{"clo-opensearch_microbatch_apigateway1.log", false},
		{"clo-opensearch_microbatch_apigateway2.gz", false},
		{"keymeter_json-template.log", false},
		{"keymeter_clf-template.log", true},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			p := NewJSONParser(testMapping())
			if tc.clf {
				p = NewCLFParser()
			}
			checkGolden(t, strings.TrimSuffix(strings.TrimSuffix(tc.fixture, ".gz"), ".log"), parseAll(t, p, readFixture(t, tc.fixture)))
		})
	}
}

// TestFixtureSpotChecks states by hand what the golden file of the first
// fixture must say, so that a regenerated golden file cannot silently
// bless a wrong parse.
func TestFixtureSpotChecks(t *testing.T) {
	rs := parseAll(t, NewJSONParser(testMapping()), readFixture(t, "clo-opensearch_microbatch_apigateway1.log"))
	if len(rs) != 20 {
		t.Fatalf("got %d records, want 20", len(rs))
	}
	r := rs[0]
	if r.Reject != nil {
		t.Fatalf("first record rejected: %+v", r.Reject)
	}
	// "request_time_epoch": "1678451388661" is 2023-03-10T12:29:48.661Z.
	if r.Time != "2023-03-10T12:29:48.661Z" {
		t.Errorf("time = %s", r.Time)
	}
	want := map[string]string{
		"request_id": "BkJdhGC0yK4FcBA=", // extended_request_id, not request_id
		"method":     "OPTIONS", "uri_stem": "/prod/ontology", "client_ip": "13.248.48.6",
		"protocol": "HTTP/1.1", "status": "200", "bytes_sent": "0",
		"viewer_host": "ify5mncve5.execute-api.us-west-1.amazonaws.com",
		"user_agent":  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:102.0) Gecko/20100101 Firefox/102.0",
	}
	for k, v := range want {
		if r.Fields[k] != v {
			t.Errorf("field %s = %q, want %q", k, r.Fields[k], v)
		}
	}
	if r.Status != 200 || r.Sent != 0 || r.Recv != -1 || r.Taken != 8 {
		t.Errorf("typed = status %d sent %d recv %d taken %d, want 200 0 -1 8", r.Status, r.Sent, r.Recv, r.Taken)
	}
	for k, v := range map[string]any{
		"request_id": "ebf87aa3-bf0b-44a7-ab91-1571f567c956", "resource_path": "/ontology", "stage": "prod",
		"api_id": "ify5mncve5", "integration_latency_ms": int32(0), "response_latency_ms": int32(8),
	} {
		if r.Extra[k] != v {
			t.Errorf("extra %s = %v, want %v", k, r.Extra[k], v)
		}
	}
	// "-" values are absent: api_key, api_key_id, principal_id, user.
	for _, k := range []string{"api_key", "api_key_id", "identity", "user", "caller"} {
		if _, ok := r.Extra[k]; ok {
			t.Errorf("extra %s present for a '-' value: %v", k, r.Extra[k])
		}
	}
	// The second fixture has an authorizer principal.
	rs = parseAll(t, NewJSONParser(testMapping()), readFixture(t, "clo-opensearch_microbatch_apigateway2.gz"))
	if len(rs) != 16 || rs[0].Extra["identity"] != "root_admin" || rs[0].Taken != 24 {
		t.Errorf("apigateway2 first record: %d records, identity %v, time taken %d", len(rs), rs[0].Extra["identity"], rs[0].Taken)
	}
}

// parseOne parses a single record with the test mapping.
func parseOne(t *testing.T, rec string) (*keymeter.Event, *Extra, error) {
	t.Helper()
	p := NewJSONParser(testMapping())
	ev := new(keymeter.Event)
	ok, err := p.Parse([]byte(rec), ev)
	if err == nil && !ok {
		t.Fatalf("Parse(%q) = false, nil", rec)
	}
	return ev, p.Extra(), err
}

func mustParse(t *testing.T, rec string) (*keymeter.Event, *Extra) {
	t.Helper()
	ev, x, err := parseOne(t, rec)
	if err != nil {
		t.Fatalf("Parse(%q): %v", rec, err)
	}
	return ev, x
}

func mustReject(t *testing.T, rec string, field string, target error, reason string) {
	t.Helper()
	_, _, err := parseOne(t, rec)
	var pe *keymeter.ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("Parse(%q) error = %v, want a *keymeter.ParseError", rec, err)
	}
	if pe.Field != field || !errors.Is(err, target) || !strings.Contains(pe.Err.Error(), reason) {
		t.Errorf("Parse(%q) = field %q, %q; want field %q, %v containing %q", rec, pe.Field, pe.Err, field, target, reason)
	}
}

const base = `"requestId":"r-1","requestTimeEpoch":"1551890421473"`

func TestEscapedQuote(t *testing.T) {
	ev, _ := mustParse(t, `{`+base+`,"userAgent":"say \"hi\" \\o/ \u00e9\ud83d\ude00 \/"}`)
	if got, want := string(ev.Fields[keymeter.FieldUserAgent]), "say \"hi\" \\o/ é😀 /"; got != want {
		t.Errorf("user agent = %q, want %q", got, want)
	}
	// A lone surrogate decodes to U+FFFD, as in encoding/json.
	ev, _ = mustParse(t, `{`+base+`,"userAgent":"a\ud800b"}`)
	if got := string(ev.Fields[keymeter.FieldUserAgent]); got != "a\uFFFDb" {
		t.Errorf("lone surrogate = %q", got)
	}
}

func TestUnescapedQuoteRejected(t *testing.T) {
	mustReject(t, `{`+base+`,"userAgent":"say "hi" there","status":"200"}`,
		"userAgent", ErrInvalidJSON, "an unescaped quote inside the value?")
	mustReject(t, `{`+base+`,"path":"C:\dir"}`, "path", ErrInvalidJSON, `invalid escape \d`)
	mustReject(t, `{`+base+`,"path":"/a`, "path", ErrInvalidJSON, "unterminated string")
	mustReject(t, `{`+base+`,"path":"/a"`, "path", ErrInvalidJSON, "ends inside an object")
	mustReject(t, `{`+base+`}{"requestId":"r-2"}`, "", ErrInvalidJSON, "after the end of the object")
	mustReject(t, `- - - [06/Mar/2019:16:40:21 +0000] "GET / HTTP/1.1" 200 0 x`, "", ErrInvalidJSON, "is the log format CLF?")
	mustReject(t, "{"+base+",\"path\":\"a\tb\"}", "path", ErrInvalidJSON, "control character")
}

func TestNumbersAsStringsOrNumbers(t *testing.T) {
	for _, rec := range []string{
		`{` + base + `,"status":"200","responseLength":"1234","responseLatency":"56"}`,
		`{` + base + `,"status":200,"responseLength":1234,"responseLatency":56}`,
		`{` + base + `, "status" : 200 , "responseLength": 1234 ,"responseLatency":  "56"  }`,
	} {
		ev, _ := mustParse(t, rec)
		if ev.Status != 200 || ev.BytesSent != 1234 || ev.TimeTaken != 56 || ev.BytesReceived != -1 {
			t.Errorf("%s: status %d sent %d taken %d recv %d", rec, ev.Status, ev.BytesSent, ev.TimeTaken, ev.BytesReceived)
		}
	}
	mustReject(t, `{`+base+`,"status":200.0}`, "status", ErrBadNumber, "")
	mustReject(t, `{`+base+`,"status":"2000"}`, "status", ErrBadNumber, "")
	mustReject(t, `{`+base+`,"responseLength":-5}`, "responseLength", ErrBadNumber, "")
	mustReject(t, `{`+base+`,"status":01}`, "status", ErrInvalidJSON, "expected ','")
}

func TestDashMeansEmpty(t *testing.T) {
	ev, x := mustParse(t, `{`+base+`,"status":"-","responseLength":-,"integrationLatency":"-","responseLatency":"7","apiKeyId":"-","path":"-","resourcePath":"/pets"}`)
	if ev.Status != -1 || ev.BytesSent != -1 || ev.TimeTaken != 7 || x.IntegrationLatency != -1 {
		t.Errorf("status %d sent %d taken %d integration %d", ev.Status, ev.BytesSent, ev.TimeTaken, x.IntegrationLatency)
	}
	if x.APIKeyID != nil || x.Path != nil {
		t.Errorf("'-' not reported as empty: apiKeyId %q path %q", x.APIKeyID, x.Path)
	}
	if got := string(ev.Fields[keymeter.FieldURIStem]); got != "/pets" {
		t.Errorf("uri stem = %q, want the resource path when path is '-'", got)
	}
	if string(ev.Fields[keymeter.FieldStatus]) != "-" || ev.Value(keymeter.FieldStatus) != nil {
		t.Errorf("raw status = %q, want '-' as logged", ev.Fields[keymeter.FieldStatus])
	}
	// Latency falls back to integrationLatency.
	ev, _ = mustParse(t, `{`+base+`,"integrationLatency":"9","responseLatency":"-"}`)
	if ev.TimeTaken != 9 {
		t.Errorf("time taken = %d, want integration latency 9", ev.TimeTaken)
	}
}

func TestSpaceAfterColonAndNoNewline(t *testing.T) {
	for _, rec := range []string{
		`{"requestId": "r-1", "requestTimeEpoch": "1551890421473", "status": "200"}`,
		"{\"requestId\": \"r-1\", \"requestTimeEpoch\": \"1551890421473\", \"status\": \"200\"}\r\n",
		"  {\"requestId\":\"r-1\",\"requestTimeEpoch\":1551890421473,\"status\":\"200\"}\n",
	} {
		ev, _ := mustParse(t, rec)
		if string(ev.Fields[keymeter.FieldRequestID]) != "r-1" || ev.Time != 1551890421473000 || ev.Status != 200 {
			t.Errorf("%q: id %q time %d status %d", rec, ev.Fields[keymeter.FieldRequestID], ev.Time, ev.Status)
		}
	}
	for _, blank := range []string{"", "\n", "  \r\n"} {
		ok, err := NewJSONParser(DefaultMapping()).Parse([]byte(blank), new(keymeter.Event))
		if ok || err != nil {
			t.Errorf("blank %q = %v, %v", blank, ok, err)
		}
	}
}

func TestDedupeID(t *testing.T) {
	ev, x := mustParse(t, `{`+base+`,"extendedRequestId":"Ext-1="}`)
	if string(ev.Fields[keymeter.FieldRequestID]) != "Ext-1=" || string(x.RequestID) != "r-1" || string(x.ExtendedRequestID) != "Ext-1=" {
		t.Errorf("id %q, extra %q / %q", ev.Fields[keymeter.FieldRequestID], x.RequestID, x.ExtendedRequestID)
	}
	ev, _ = mustParse(t, `{`+base+`,"extendedRequestId":"-"}`)
	if string(ev.Fields[keymeter.FieldRequestID]) != "r-1" {
		t.Errorf("id %q, want requestId when extendedRequestId is '-'", ev.Fields[keymeter.FieldRequestID])
	}
	ev, _ = mustParse(t, `{"extended_request_id":"E=","request_time":"06/Mar/2019:16:40:21 +0000"}`)
	if string(ev.Fields[keymeter.FieldRequestID]) != "E=" {
		t.Errorf("id %q", ev.Fields[keymeter.FieldRequestID])
	}
	mustReject(t, `{"requestId":"-","requestTimeEpoch":"1551890421473"}`, "extendedRequestId/requestId", ErrMissingField, "")
	mustReject(t, `{"requestId":"r-1"}`, "requestTimeEpoch/requestTime", ErrMissingField, "")
}

func TestTimes(t *testing.T) {
	for rec, want := range map[string]string{
		`{"requestId":"r","requestTime":"06/Mar/2019:16:40:21 +0000"}`:                                    "2019-03-06T16:40:21Z",
		`{"requestId":"r","requestTime":"06/Mar/2019:18:40:21 +0200"}`:                                    "2019-03-06T16:40:21Z",
		`{"requestId":"r","requestTime":"29/Feb/2024:23:59:59 -0130"}`:                                    "2024-03-01T01:29:59Z",
		`{"requestId":"r","requestTimeEpoch":"1551890421473","requestTime":"01/Jan/2000:00:00:00 +0000"}`: "2019-03-06T16:40:21.473Z",
		`{"requestId":"r","requestTimeEpoch":"1551890421"}`:                                               "2019-03-06T16:40:21Z",
		`{"requestId":"r","requestTimeEpoch":"-","requestTime":"06/Mar/2019:16:40:21 +0000"}`:             "2019-03-06T16:40:21Z",
	} {
		ev, _ := mustParse(t, rec)
		if got := time.UnixMicro(ev.Time).UTC().Format(time.RFC3339Nano); got != want {
			t.Errorf("%s: time %s, want %s", rec, got, want)
		}
	}
	mustReject(t, `{"requestId":"r","requestTimeEpoch":"15518904"}`, "requestTimeEpoch", ErrBadTime, "")
	mustReject(t, `{"requestId":"r","request_time":"29/Feb/2019:00:00:00 +0000"}`, "request_time", ErrBadTime, "")
	mustReject(t, `{"requestId":"r","requestTime":"06/Mrz/2019:16:40:21 +0000"}`, "requestTime", ErrBadTime, "")
}

func TestNestedIdentityAndSecrets(t *testing.T) {
	ev, x := mustParse(t, `{`+base+`,"identity":{"sourceIp":"192.0.2.1","userAgent":"ua","apiKey":"SECRET","apiKeyId":"kid"},"authorizer":{"principalId":"tenant-7","claims":{"sub":"u"}},"tags":[{"apiKey":"not me"}]}`)
	if string(ev.Fields[keymeter.FieldClientIP]) != "192.0.2.1" || string(ev.Fields[keymeter.FieldUserAgent]) != "ua" {
		t.Errorf("client ip %q ua %q", ev.Fields[keymeter.FieldClientIP], ev.Fields[keymeter.FieldUserAgent])
	}
	if string(x.APIKey) != "SECRET" || string(x.APIKeyID) != "kid" || string(x.Identity) != "tenant-7" {
		t.Errorf("api key %q id %q identity %q", x.APIKey, x.APIKeyID, x.Identity)
	}
	for f, v := range ev.Fields {
		if bytes.Contains(v, []byte("SECRET")) {
			t.Errorf("the API key leaked into event field %d", f)
		}
	}
	// A flat key with dots is the same path.
	_, x = mustParse(t, `{`+base+`,"authorizer.principalId":"tenant-8"}`)
	if string(x.Identity) != "tenant-8" {
		t.Errorf("flat dotted key: identity %q", x.Identity)
	}
	// A mapped key whose value is an object cannot be read.
	p := NewJSONParser(Mapping{RequestID: []string{"requestId"}, RequestTimeEpoch: []string{"requestTimeEpoch"}, Identity: []string{"authorizer"}})
	_, err := p.Parse([]byte(`{`+base+`,"authorizer":{"principalId":"x"}}`), new(keymeter.Event))
	var pe *keymeter.ParseError
	if !errors.As(err, &pe) || pe.Field != "authorizer" || !errors.Is(err, ErrNotScalar) {
		t.Errorf("object for a mapped key: %v", err)
	}
}

func TestCandidatePreference(t *testing.T) {
	// The first candidate with a non-empty value wins, whatever the order
	// of keys in the record.
	_, x := mustParse(t, `{`+base+`,"api_key_id":"second","apiKeyId":"first"}`)
	if string(x.APIKeyID) != "first" {
		t.Errorf("apiKeyId = %q, want the first candidate", x.APIKeyID)
	}
	_, x = mustParse(t, `{`+base+`,"apiKeyId":"-","api_key_id":"second"}`)
	if string(x.APIKeyID) != "second" {
		t.Errorf("apiKeyId = %q, want the non-empty candidate", x.APIKeyID)
	}
	mustReject(t, `{`+base+`,"status":"200","status":"500"}`, "status", ErrDuplicateKey, "")
	// An operator may map one key to two values.
	m := testMapping()
	m.Identity = []string{"apiKeyId"}
	p := NewJSONParser(m)
	if _, err := p.Parse([]byte(`{`+base+`,"apiKeyId":"k"}`), new(keymeter.Event)); err != nil || string(p.Extra().Identity) != "k" || string(p.Extra().APIKeyID) != "k" {
		t.Errorf("one key, two values: %v %+v", err, p.Extra())
	}
}

func TestReuse(t *testing.T) {
	// Values from one record must not leak into the next.
	p := NewJSONParser(testMapping())
	ev := new(keymeter.Event)
	if _, err := p.Parse([]byte(`{`+base+`,"status":"200","apiKeyId":"k","userAgent":"a\"b"}`), ev); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Parse([]byte(`{"requestId":"r-2","requestTimeEpoch":"1551890421473"}`), ev); err != nil {
		t.Fatal(err)
	}
	if ev.Status != -1 || p.Extra().APIKeyID != nil || ev.Fields[keymeter.FieldUserAgent] != nil || string(ev.Fields[keymeter.FieldRequestID]) != "r-2" {
		t.Errorf("stale values: status %d key %q ua %q", ev.Status, p.Extra().APIKeyID, ev.Fields[keymeter.FieldUserAgent])
	}
}

func TestCLF(t *testing.T) {
	p := NewCLFParser()
	ev := new(keymeter.Event)
	ok, err := p.Parse([]byte(`203.0.113.7 AIDAX arn:aws:iam::1:user/a [06/Mar/2019:16:40:21 +0000] "GET /pets/{petId} HTTP/1.1" 200 42 c6af9ac6-7b61-11e6-9a41-93e8deadbeef`+"\n"), ev)
	if !ok || err != nil {
		t.Fatalf("Parse = %v, %v", ok, err)
	}
	x := p.Extra()
	if ev.Time != time.Date(2019, 3, 6, 16, 40, 21, 0, time.UTC).UnixMicro() || ev.Status != 200 || ev.BytesSent != 42 || ev.TimeTaken != -1 {
		t.Errorf("time %d status %d sent %d taken %d", ev.Time, ev.Status, ev.BytesSent, ev.TimeTaken)
	}
	for f, want := range map[keymeter.Field]string{
		keymeter.FieldClientIP: "203.0.113.7", keymeter.FieldMethod: "GET", keymeter.FieldURIStem: "/pets/{petId}",
		keymeter.FieldProtocol: "HTTP/1.1", keymeter.FieldRequestID: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
	} {
		if got := string(ev.Fields[f]); got != want {
			t.Errorf("field %d = %q, want %q", f, got, want)
		}
	}
	if string(x.Caller) != "AIDAX" || string(x.User) != "arn:aws:iam::1:user/a" || x.ExtendedRequestID != nil {
		t.Errorf("extra %+v", x)
	}
	_, err = p.Parse([]byte(`203.0.113.7 - - [06/Mar/2019:16:40:21 +0000] "GET /pets HTTP/1.1" 200 42 rid`), ev)
	var pe *keymeter.ParseError
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Parse([]byte(`203.0.113.7 - - [06/Mar/2019:16:40:21] "GET /pets HTTP/1.1" 200 42 rid`), ev)
	if !errors.As(err, &pe) || pe.Field != "requestTime" || !errors.Is(err, ErrBadTime) {
		t.Errorf("time without offset: %v", err)
	}
}

func TestValidate(t *testing.T) {
	if err := DefaultMapping().Validate(); err != nil {
		t.Errorf("DefaultMapping: %v", err)
	}
	err := Mapping{Status: []string{"status", "", "a..b", "status"}}.Validate()
	if err == nil {
		t.Fatal("bad mapping validated")
	}
	for _, want := range []string{"RequestID or ExtendedRequestID", "RequestTimeEpoch or RequestTime", "Status has an empty key", `"a..b"`, `"status" twice`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v; missing %q", err, want)
		}
	}
}

// TestMappingErrors checks that each problem of a mapping comes as a
// *MappingError naming its members, so that a caller can say them in its
// own words (the config file's names) without rewriting the text.
func TestMappingErrors(t *testing.T) {
	err := Mapping{RequestID: []string{"rid"}, Status: []string{"Status", "Status"}}.Validate()
	var got []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var me *MappingError
		if !errors.As(e, &me) {
			t.Fatalf("%T %v is not a *MappingError", e, e)
		}
		got = append(got, strings.Join(me.Members, "|")+": "+me.Problem)
	}
	want := []string{"RequestTimeEpoch|RequestTime: must name a key", `Status: lists key "Status" twice`}
	if !slices.Equal(got, want) {
		t.Errorf("problems %q, want %q", got, want)
	}
	if s := err.Error(); s != "apigateway mapping: RequestTimeEpoch or RequestTime must name a key\n"+`apigateway mapping: Status lists key "Status" twice` {
		t.Errorf("%q", s)
	}
}

// TestNumericFields reads status, responseLength and the latencies in
// every form a template can render them (strings or numbers, "-" when
// unset), and rejects the rest with the value and what is wrong with it.
func TestNumericFields(t *testing.T) {
	tests := []struct {
		key, value string // value as it stands in the JSON
		get        func(*keymeter.Event, *Extra) int64
		want       int64
		reason     string // the reject's explanation, when rejected
	}{
		{"status", `"200"`, apiStatus, 200, ""},
		{"status", `200`, apiStatus, 200, ""},
		{"status", `"0"`, apiStatus, 0, ""},
		{"status", `"000"`, apiStatus, 0, ""},
		{"status", `"20"`, apiStatus, 20, ""},
		{"status", `"-"`, apiStatus, -1, ""},
		{"status", `-`, apiStatus, -1, ""},
		{"status", `null`, apiStatus, -1, ""},
		{"status", `"2000"`, apiStatus, 0, `"2000" (a status has 1 to 3 digits)`},
		{"status", `200.0`, apiStatus, 0, `"200.0" (not a whole number)`},
		{"status", `2e2`, apiStatus, 0, `"2e2" (exponent notation is not allowed)`},
		{"status", `"OK"`, apiStatus, 0, `"OK" (not a decimal number)`},
		{"responseLength", `"0"`, apiSent, 0, ""},
		{"responseLength", `"000042"`, apiSent, 42, ""},
		{"responseLength", `9223372036854775807`, apiSent, 1<<63 - 1, ""},
		{"responseLength", `"9223372036854775808"`, apiSent, 0, `"9223372036854775808" (larger than 9223372036854775807)`},
		{"responseLength", `-5`, apiSent, 0, `"-5" (negative)`},
		{"responseLatency", `"0"`, apiTaken, 0, ""},
		{"responseLatency", `56`, apiTaken, 56, ""},
		{"responseLatency", `"0056"`, apiTaken, 56, ""},
		{"responseLatency", `"2147483648"`, apiTaken, 0, `"2147483648" (more than 2147483647 milliseconds)`},
		{"responseLatency", `"12.5"`, apiTaken, 0, `"12.5" (not a whole number)`},
		{"integrationLatency", `"-"`, apiIntegration, -1, ""},
		{"integrationLatency", `7`, apiIntegration, 7, ""},
		{"integrationLatency", `"-7"`, apiIntegration, 0, `"-7" (negative)`},
	}
	for _, tt := range tests {
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			rec := `{` + base + `,"` + tt.key + `":` + tt.value + `}`
			if tt.reason != "" {
				mustReject(t, rec, tt.key, ErrBadNumber, tt.reason)
				return
			}
			ev, x := mustParse(t, rec)
			if got := tt.get(ev, x); got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

func apiStatus(ev *keymeter.Event, _ *Extra) int64     { return int64(ev.Status) }
func apiSent(ev *keymeter.Event, _ *Extra) int64       { return ev.BytesSent }
func apiTaken(ev *keymeter.Event, _ *Extra) int64      { return int64(ev.TimeTaken) }
func apiIntegration(_ *keymeter.Event, x *Extra) int64 { return int64(x.IntegrationLatency) }

// TestTimeFields reads requestTimeEpoch, as a string or a number, in
// milliseconds (REST and WebSocket APIs) or seconds (HTTP APIs say only
// "epoch-formatted"), and requestTime in CLF form; a value that is none of
// these is rejected with what is wrong with it.
func TestTimeFields(t *testing.T) {
	tests := []struct {
		members string
		want    string // the time, when accepted
		field   string // else the member rejected
		reason  string // and the explanation
	}{
		{`"requestTimeEpoch":"1761037381123"`, "2025-10-21T09:03:01.123Z", "", ""},
		{`"requestTimeEpoch":1761037381123`, "2025-10-21T09:03:01.123Z", "", ""},
		{`"requestTimeEpoch":"1761037381"`, "2025-10-21T09:03:01Z", "", ""},
		{`"requestTimeEpoch":1761037381`, "2025-10-21T09:03:01Z", "", ""},
		{`"requestTimeEpoch":"1761037381.123"`, "2025-10-21T09:03:01.123Z", "", ""},
		{`"requestTimeEpoch":1761037381.5`, "2025-10-21T09:03:01.5Z", "", ""},
		{`"requestTimeEpoch":"001761037381123"`, "2025-10-21T09:03:01.123Z", "", ""},
		{`"requestTime":"21/Oct/2025:09:03:01 +0000"`, "2025-10-21T09:03:01Z", "", ""},
		{`"requestTime":"21/Oct/2025:11:03:01 +0200"`, "2025-10-21T09:03:01Z", "", ""},
		{`"requestTime":"21/Oct/2025:09:03:01 +0000","requestTimeEpoch":"-"`, "2025-10-21T09:03:01Z", "", ""},
		{`"requestTime":"31/Dec/2016:23:59:60 +0000"`, "2016-12-31T23:59:59Z", "", ""},
		{`"requestTimeEpoch":"15518904"`, "", "requestTimeEpoch", `"15518904" (8 digits: want seconds (10 digits) or milliseconds (13 digits), a time from 2001 to 2286)`},
		{`"requestTimeEpoch":"17610373811234"`, "", "requestTimeEpoch", `(14 digits: want seconds (10 digits) or milliseconds (13 digits)`},
		{`"requestTimeEpoch":"1761037381123.5"`, "", "requestTimeEpoch", `"1761037381123.5" (milliseconds with a fraction)`},
		{`"requestTimeEpoch":"-1761037381123"`, "", "requestTimeEpoch", `"-1761037381123" (negative)`},
		{`"requestTimeEpoch":1.761037381123e12`, "", "requestTimeEpoch", `(exponent notation is not allowed)`},
		{`"requestTimeEpoch":"2025-10-21T09:03:01Z"`, "", "requestTimeEpoch", `(not a decimal number)`},
		{`"requestTime":"21/Oct/2025:09:03:01"`, "", "requestTime", `"21/Oct/2025:09:03:01" (want dd/MMM/yyyy:HH:mm:ss +hhmm)`},
		{`"requestTime":"29/Feb/2025:09:03:01 +0000"`, "", "requestTime", `(no such date or time)`},
		{`"requestTime":"21/Okt/2025:09:03:01 +0000"`, "", "requestTime", `(no such month: want Jan to Dec)`},
	}
	for _, tt := range tests {
		rec := `{"requestId":"r",` + tt.members + `}`
		if tt.field != "" {
			mustReject(t, rec, tt.field, ErrBadTime, tt.reason)
			continue
		}
		ev, _ := mustParse(t, rec)
		if got := time.UnixMicro(ev.Time).UTC().Format(time.RFC3339Nano); got != tt.want {
			t.Errorf("%s: time %s, want %s", rec, got, tt.want)
		}
	}
}

func TestIsCLF(t *testing.T) {
	for line, want := range map[string]bool{
		`2001:db8::1 - - [06/Mar/2019:18:40:23 +0200] "GET /pets HTTP/1.1" 404 - id`: true,
		`192.0.2.1 - - [06/Mar/2019:18:40:23 +0000]"GET /pets HTTP/1.1" 200 12 id`:   true,
		`192.0.2.1 - - [yesterday] "GET /pets HTTP/1.1" 200 12 id`:                   false,
		`192.0.2.1 - - [06/Mar/2019:18:40:23 +0000`:                                  false,
		`{"requestId":"r"}`: false,
	} {
		if got := IsCLF([]byte(line)); got != want {
			t.Errorf("IsCLF(%q) = %v", line, got)
		}
	}
}
