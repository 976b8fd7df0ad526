package ingest

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"testing"
)

func gzipped(b []byte) []byte {
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	w.Write(b)
	w.Close()
	return z.Bytes()
}

// TestSniff checks the detection rules on the shapes the end-to-end
// tests do not reach: prefixes cut short, blank lines first, comments,
// and look-alikes.
func TestSniff(t *testing.T) {
	payload := []byte(`{"owner":"123456789012","logGroup":"g","messageType":"DATA_MESSAGE","logEvents":[]}`)
	tests := []struct {
		name   string
		data   []byte
		want   shape
		fields int
	}{
		{"blank lines only", []byte("\n\r\n  \n"), shapeEmpty, 0},
		{"header after blank lines", []byte("\n\n#Version: 1.0\n#Fields: date time\n"), shapeStandard, 0},
		{"a comment, then a headerless record", []byte("# copied from S3\n2025-10-01\t00:00:01\tIAD89-C1\t100\n"), shapeStandard, 0},
		{"a payload with its type after other keys", payload, shapeSubscription, 0},
		{"a payload cut inside its events", []byte(`{"messageType":"DATA_MESSAGE","logEvents":[{"id":"1","message":"{\"a\":`), shapeSubscription, 0},
		{"a JSON line naming awslogs in a nested value", []byte(`{"requestId":"r","authorizer":{"awslogs":"x"}}` + "\n"), shapeAPIGatewayJSON, 0},
		{"a JSON line with messageType inside a string", []byte(`{"requestId":"r","userAgent":"\"messageType\": x"}` + "\n"), shapeAPIGatewayJSON, 0},
		{"a payload gzip inside gzip (the outer gzip removed)", gzipped(payload), shapeSubscription, 0},
		{"lines gzip inside gzip (the outer gzip removed)", gzipped([]byte("#Version: 1.0\n")), shapeUnknown, 0},
		{"base64 gzip", []byte(base64.StdEncoding.EncodeToString(gzipped(payload)) + "\n"), shapeSubscription, 0},
		{"a real-time record, IPv6 and no fraction", []byte("1759276800\t2001:db8::1\t200\n"), shapeRealtime, 3},
		{"a CLF line from an IPv6 address", []byte(`2001:db8::1 - - [06/Mar/2019:18:40:23 +0200] "GET /pets HTTP/1.1" 404 - id` + "\n"), shapeAPIGatewayCLF, 0},
		{"an export line", []byte("2019-03-06T16:40:21.473Z {\"requestId\":\"r\"}\n"), shapeExport, 0},
		{"a date without tabs", []byte("2025-10-01 00:00:01 GET /\n"), shapeUnknown, 0},
		{"a UTF-8 text cut mid-rune", append([]byte("caf"), 0xc3), shapeUnknown, 0},
	}
	for _, tt := range tests {
		got := sniff(tt.data, 3)
		if got.shape != tt.want || got.fields != tt.fields {
			t.Errorf("%s: %+v, want shape %d with %d fields", tt.name, got, tt.want, tt.fields)
		}
	}
	if s := sniff(append([]byte("caf"), 0xc3), 3); s.detail != "text" {
		t.Errorf("a cut rune makes %q", s.detail)
	}
	if s := sniff([]byte{'P', 'A', 'R', '1', 0, 1}, 3); s.detail != "binary data" {
		t.Errorf("binary data is %q", s.detail)
	}
}
