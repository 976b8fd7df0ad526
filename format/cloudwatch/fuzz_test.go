package cloudwatch

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"unicode/utf8"
)

func FuzzSubscriptionReader(f *testing.F) {
	for _, name := range []string{
		"aws-lambda-go_cloudwatch-logs-event.json",
		"aws-lambda-go_cloudwatch-logs-event.decoded.json",
		"otel-contrib_valid_cloudwatch_log.json",
		"otel-contrib_valid_cloudwatch_log_control.json",
		"otel-contrib_multiple_json_objects.json",
	} {
		b := fixture(f, name)
		f.Add(b)
		f.Add(gz(f, b))
	}
	f.Add([]byte(`{"messageType":"DATA_MESSAGE","logEvents":[{"id":"1","timestamp":1,"message":"\u00e9\"x\"","x":[{}]}]}`))
	r := NewReader(nil)
	f.Fuzz(func(t *testing.T, in []byte) {
		r.ResetBytes(in)
		var messages []string
		skipped := 0
		for n := 0; ; n++ {
			if n > 1e5 {
				t.Fatal("no end in sight")
			}
			ev, err := r.Next()
			if errors.Is(err, ErrBadPayload) {
				skipped++
				continue
			}
			if err != nil {
				if err != io.EOF {
					if _, err2 := r.Next(); err2 != err {
						t.Fatalf("error did not stick: %v then %v", err, err2)
					}
				}
				break
			}
			if len(ev.ID) == 0 || ev.Envelope == nil || ev.Envelope.MessageType != DataMessage {
				t.Fatalf("event %+v from a payload that is not a data message", ev)
			}
			messages = append(messages, string(ev.Message))
		}
		// For a single plain JSON payload, encoding/json must agree.
		var p struct {
			MessageType string
			LogEvents   []struct {
				ID      string
				Message string
			}
		}
		if skipped > 0 || !json.Valid(in) || json.Unmarshal(in, &p) != nil || p.MessageType != DataMessage || bytes.Contains(in, []byte("awslogs")) {
			return
		}
		if len(p.LogEvents) != len(messages) {
			t.Fatalf("%d events, encoding/json says %d", len(messages), len(p.LogEvents))
		}
		for i, m := range messages {
			if utf8.ValidString(m) && m != p.LogEvents[i].Message {
				t.Fatalf("message %d = %q, encoding/json says %q", i, m, p.LogEvents[i].Message)
			}
		}
	})
}

func FuzzParseExportLine(f *testing.F) {
	f.Add([]byte("2019-03-06T16:40:21.473Z hello"))
	f.Add([]byte("2024-02-29T23:59:59Z\r\n"))
	f.Fuzz(func(t *testing.T, line []byte) {
		ms, msg, err := ParseExportLine(line)
		if err != nil {
			if !errors.Is(err, ErrExportLine) {
				t.Fatalf("error %v does not wrap ErrExportLine", err)
			}
			return
		}
		if !bytes.Contains(line, msg) || ms < -62167219200000 || ms > 253402300799999 {
			t.Fatalf("ParseExportLine(%q) = %d, %q", line, ms, msg)
		}
	})
}
