package cloudwatch

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files")

type renderedEvent struct {
	ID        string   `json:"id"`
	Timestamp int64    `json:"timestamp_ms"`
	Time      string   `json:"time"`
	Message   string   `json:"message"`
	Type      string   `json:"message_type"`
	Owner     string   `json:"owner"`
	LogGroup  string   `json:"log_group"`
	LogStream string   `json:"log_stream"`
	Filters   []string `json:"subscription_filters"`
}

// readAll reads every event of r, rendered, until the first error other
// than a skipped payload.
func readAll(r *Reader) (events []renderedEvent, skipped []string, err error) {
	for {
		ev, err := r.Next()
		if errors.Is(err, ErrBadPayload) {
			skipped = append(skipped, err.Error())
			continue
		}
		if err == io.EOF {
			return events, skipped, nil
		}
		if err != nil {
			return events, skipped, err
		}
		events = append(events, renderedEvent{
			ID: string(ev.ID), Timestamp: ev.Timestamp, Message: string(ev.Message),
			Time: time.UnixMilli(ev.Timestamp).UTC().Format(time.RFC3339Nano),
			Type: ev.Envelope.MessageType, Owner: ev.Envelope.Owner,
			LogGroup: ev.Envelope.LogGroup, LogStream: ev.Envelope.LogStream,
			Filters: append([]string(nil), ev.Envelope.SubscriptionFilters...),
		})
	}
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func mustReadAll(t *testing.T, input []byte) []renderedEvent {
	t.Helper()
	events, skipped, err := readAll(NewReader(bytes.NewReader(input)))
	if err != nil || skipped != nil {
		t.Fatalf("read: %v (skipped %v)", err, skipped)
	}
	return events
}

func TestGolden(t *testing.T) {
	for _, name := range []string{
		"aws-lambda-go_cloudwatch-logs-event.json",
		"aws-lambda-go_cloudwatch-logs-event.decoded.json",
		"otel-contrib_valid_cloudwatch_log.json",
		"otel-contrib_valid_cloudwatch_log_control.json",
		"otel-contrib_multiple_json_objects.json",
	} {
		t.Run(name, func(t *testing.T) {
			got := append([]renderedEvent{}, mustReadAll(t, fixture(t, name))...)
			b, err := json.MarshalIndent(got, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			b = append(b, '\n')
			path := filepath.Join("testdata", strings.TrimSuffix(name, ".json")+".golden")
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
		})
	}
}

func TestLambdaEventMatchesDecoded(t *testing.T) {
	lambda := mustReadAll(t, fixture(t, "aws-lambda-go_cloudwatch-logs-event.json"))
	decoded := mustReadAll(t, fixture(t, "aws-lambda-go_cloudwatch-logs-event.decoded.json"))
	want := []renderedEvent{
		{ID: "eventId1", Timestamp: 1440442987000, Time: "2015-08-24T19:03:07Z", Message: "[ERROR] First test message",
			Type: DataMessage, Owner: "123456789123", LogGroup: "testLogGroup", LogStream: "testLogStream", Filters: []string{"testFilter"}},
		{ID: "eventId2", Timestamp: 1440442987001, Time: "2015-08-24T19:03:07.001Z", Message: "[ERROR] Second test message",
			Type: DataMessage, Owner: "123456789123", LogGroup: "testLogGroup", LogStream: "testLogStream", Filters: []string{"testFilter"}},
	}
	for name, got := range map[string][]renderedEvent{"lambda event": lambda, "decoded": decoded} {
		if !equalEvents(got, want) {
			t.Errorf("%s: got %+v, want %+v", name, got, want)
		}
	}
	// The same payload as a Kinesis record's data (gzip), and as base64.
	raw := fixture(t, "aws-lambda-go_cloudwatch-logs-event.decoded.json")
	if got := mustReadAll(t, gz(t, raw)); !equalEvents(got, want) {
		t.Errorf("gzip: got %+v", got)
	}
	if got := mustReadAll(t, []byte(base64.StdEncoding.EncodeToString(gz(t, raw)))); !equalEvents(got, want) {
		t.Errorf("base64 gzip: got %+v", got)
	}
}

func equalEvents(a, b []renderedEvent) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

func TestControlMessageYieldsNothing(t *testing.T) {
	ctl := fixture(t, "otel-contrib_valid_cloudwatch_log_control.json")
	if got := mustReadAll(t, ctl); len(got) != 0 {
		t.Errorf("control message yielded %+v", got)
	}
	// A control message between data messages is skipped silently.
	data := fixture(t, "aws-lambda-go_cloudwatch-logs-event.decoded.json")
	got := mustReadAll(t, bytes.Join([][]byte{data, ctl, data}, nil))
	if len(got) != 4 {
		t.Errorf("data+control+data yielded %d events, want 4", len(got))
	}
}

func TestConcatenatedObjects(t *testing.T) {
	got := mustReadAll(t, fixture(t, "otel-contrib_multiple_json_objects.json"))
	if len(got) != 2 || got[0].Message != "some text" || got[0].LogGroup != "/my/first/log/group" ||
		got[1].Message != "some other text" || got[1].LogGroup != "/my/second/log/group" ||
		got[1].ID != "39494969221575739759196034780948230027606320717924401152" {
		t.Errorf("got %+v", got)
	}
}

func TestConcatenatedGzipMembers(t *testing.T) {
	a := fixture(t, "aws-lambda-go_cloudwatch-logs-event.decoded.json")
	b := fixture(t, "otel-contrib_valid_cloudwatch_log.json")
	want := mustReadAll(t, append(append([]byte(nil), a...), b...))
	if len(want) != 5 {
		t.Fatalf("plain concatenation: %d events, want 5", len(want))
	}
	// Firehose: one gzip member per record, members back to back.
	got := mustReadAll(t, append(gz(t, a), gz(t, b)...))
	if !equalEvents(got, want) {
		t.Errorf("two gzip members: got %+v, want %+v", got, want)
	}
}

func TestTruncatedGzip(t *testing.T) {
	a := fixture(t, "aws-lambda-go_cloudwatch-logs-event.decoded.json")
	b := fixture(t, "otel-contrib_valid_cloudwatch_log.json")
	whole := append(gz(t, a), gz(t, b)...)
	cut := whole[:len(whole)-len(gz(t, b))/2]
	events, skipped, err := readAll(NewReader(bytes.NewReader(cut)))
	if len(events) != 2 || events[0].ID != "eventId1" || events[1].ID != "eventId2" {
		t.Errorf("events before the cut: %+v", events)
	}
	if err == nil || errors.Is(err, ErrBadPayload) || skipped != nil {
		t.Fatalf("err = %v, skipped %v; want a read error", err, skipped)
	}
	// The error sticks.
	r := NewReader(bytes.NewReader(cut))
	for {
		if _, err := r.Next(); err != nil {
			if _, err2 := r.Next(); err2 != err {
				t.Errorf("second Next = %v, want the same error %v", err2, err)
			}
			break
		}
	}
}

func TestBadPayloadSkipped(t *testing.T) {
	data := fixture(t, "aws-lambda-go_cloudwatch-logs-event.decoded.json")
	for _, bad := range []string{
		`{"messageType":"SOMETHING_ELSE","logEvents":[]}`,
		`{"owner":"1","logEvents":[]}`,
		`{"messageType":"DATA_MESSAGE"}`,
		`{"messageType":"DATA_MESSAGE","logEvents":[{"id":"","timestamp":1,"message":"x"}]}`,
		`{"messageType":"DATA_MESSAGE","logEvents":[{"id":"1","timestamp":1.5,"message":"x"}]}`,
		`{"messageType":"DATA_MESSAGE","logEvents":[{"id":"1","timestamp":1}]}`,
		`{"messageType":"DATA_MESSAGE","logEvents":{}}`,
		`{"messageType":"DATA_MESSAGE","messageType":"DATA_MESSAGE","logEvents":[]}`,
		`{"awslogs":{"data":"not base64!"}}`,
		`{"awslogs":{"data":"aGVsbG8="}}`,
		`[1,2]`,
	} {
		events, skipped, err := readAll(NewReader(strings.NewReader(string(data) + bad + string(data))))
		if err != nil || len(skipped) != 1 || len(events) != 4 {
			t.Errorf("%s: err %v, skipped %v, %d events; want 4 events around one skipped payload", bad, err, skipped, len(events))
		}
	}
	// Invalid JSON ends the stream.
	_, _, err := readAll(NewReader(strings.NewReader(`{"messageType":"DATA_MESSAGE",}` + string(data))))
	if err == nil || errors.Is(err, ErrBadPayload) {
		t.Errorf("invalid JSON: err = %v", err)
	}
	if _, err := NewReader(strings.NewReader("hello")).Next(); !errors.Is(err, ErrFormat) {
		t.Errorf("plain text: %v", err)
	}
	if _, err := NewReader(strings.NewReader(" \n")).Next(); err != io.EOF {
		t.Errorf("blank input: %v, want io.EOF", err)
	}
}

func TestEscapedMessage(t *testing.T) {
	line := `{"requestId":"r","userAgent":"a \"b\" \\ é 😀"}`
	msg, _ := json.Marshal(line) // escapes quotes and backslashes
	in := `{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s","subscriptionFilters":["f"],` +
		`"logEvents":[{"id":"1","timestamp":1,"message":` + string(msg) + `,"extractedFields":{"a":[1,true,null]}},` +
		`{"id":"2","timestamp":2,"message":"\u00e9\ud83d\ude00\/"}]}`
	got := mustReadAll(t, []byte(in))
	if len(got) != 2 || got[0].Message != line || got[1].Message != "é😀/" {
		t.Errorf("got %+v", got)
	}
}

func TestResetReuse(t *testing.T) {
	r := NewReader(strings.NewReader(""))
	data := fixture(t, "aws-lambda-go_cloudwatch-logs-event.decoded.json")
	lambda := fixture(t, "aws-lambda-go_cloudwatch-logs-event.json")
	for i := range 3 {
		for _, in := range [][]byte{data, gz(t, data), lambda} {
			r.ResetBytes(in)
			events, skipped, err := readAll(r)
			if err != nil || skipped != nil || len(events) != 2 || events[1].Message != "[ERROR] Second test message" {
				t.Fatalf("round %d: %v %v %+v", i, err, skipped, events)
			}
		}
	}
}

func TestParseExportLine(t *testing.T) {
	for line, want := range map[string]struct {
		time, msg string
	}{
		"2019-03-06T16:40:21.473Z hello world\n":  {"2019-03-06T16:40:21.473Z", "hello world"},
		"2019-03-06T16:40:21.000Z {\"a\": \"b\"}": {"2019-03-06T16:40:21Z", `{"a": "b"}`},
		"2019-03-06T16:40:21Z  two spaces\r\n":    {"2019-03-06T16:40:21Z", " two spaces"},
		"2024-02-29T23:59:59.9999Z x":             {"2024-02-29T23:59:59.999Z", "x"},
		"2019-03-06T16:40:21.4Z":                  {"2019-03-06T16:40:21.4Z", ""},
	} {
		ms, msg, err := ParseExportLine([]byte(line))
		if err != nil {
			t.Errorf("%q: %v", line, err)
			continue
		}
		if got := time.UnixMilli(ms).UTC().Format(time.RFC3339Nano); got != want.time || string(msg) != want.msg {
			t.Errorf("%q = %s %q, want %s %q", line, got, msg, want.time, want.msg)
		}
	}
	for _, bad := range []string{
		"", "hello", "2019-03-06 16:40:21.473Z x", "2019-03-06T16:40:21.473+01:00 x", "2019-02-29T16:40:21Z x",
		"2019-03-06T16:40:21.Z x", "2019-03-06T16:40:21.473Zx", "1551890421473 message",
	} {
		if _, _, err := ParseExportLine([]byte(bad)); !errors.Is(err, ErrExportLine) {
			t.Errorf("%q: err = %v, want ErrExportLine", bad, err)
		}
	}
}

func TestSplitAcrossReads(t *testing.T) {
	// Payloads cut at every possible point by the reads beneath, with a
	// message holding brackets, quotes and escaped backslashes.
	line := `{"a":"}]\\\"{[", "b":"\\"}`
	msg, _ := json.Marshal(line)
	p := `{"messageType":"DATA_MESSAGE","logEvents":[{"id":"1","timestamp":1,"message":` + string(msg) + `}]}`
	in := []byte(p + "\n" + p + p + " \r\n")
	for _, r := range map[string]io.Reader{
		"one byte":       iotest.OneByteReader(bytes.NewReader(in)),
		"half":           iotest.HalfReader(bytes.NewReader(in)),
		"gzip, one byte": iotest.OneByteReader(bytes.NewReader(gz(t, in))),
	} {
		events, skipped, err := readAll(NewReader(r))
		if err != nil || skipped != nil || len(events) != 3 {
			t.Fatalf("err %v, skipped %v, %d events", err, skipped, len(events))
		}
		for _, e := range events {
			if e.Message != line {
				t.Errorf("message %q, want %q", e.Message, line)
			}
		}
	}
	// A payload bigger than the initial buffer.
	big := strings.Repeat("x", 200<<10)
	in = []byte(`{"messageType":"DATA_MESSAGE","logEvents":[{"id":"1","timestamp":1,"message":"` + big + `"}]}`)
	events, _, err := readAll(NewReader(iotest.HalfReader(bytes.NewReader(in))))
	if err != nil || len(events) != 1 || events[0].Message != big {
		t.Errorf("big payload: err %v, %d events", err, len(events))
	}
}
