package ingest

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/format/apigateway"
	"github.com/keymeter/keymeter/format/cloudfront"
	"github.com/keymeter/keymeter/format/cloudfrontrt"
	"github.com/keymeter/keymeter/format/cloudwatch"
)

// An object's format is recognised from a prefix of its decompressed
// content, peeked through the buffered reader the object is then read
// from, so that detection never reads an object twice (an S3 object is
// fetched once). Without a format asked for (Config.Format ""), each
// object is read with the format it looks like; with one, an object that
// looks like another format's is refused, with what it looks like, and is
// not recorded as ingested, so that a run with the right format reads it.
// An object that looks like nothing known is read with the format asked
// for, whose parser rejects its lines with their reasons.
//
// The API Gateway formats accept every envelope CloudWatch Logs and
// Firehose deliver access log lines in: each object is read as lines,
// subscription payloads or export lines, as it looks.

// sniffLen is how much of an object's decompressed content detection
// looks at: a few real-time records (about 1 KB each), and far more than
// a CloudFront header or a payload's first keys.
const sniffLen = 16 << 10

// shape is what an object's content looks like.
type shape uint8

const (
	shapeUnknown        shape = iota
	shapeEmpty                // nothing, or only blank lines
	shapeStandard             // CloudFront standard log
	shapeRealtime             // CloudFront real-time records
	shapeAPIGatewayJSON       // API Gateway access log lines, JSON
	shapeAPIGatewayCLF        // API Gateway access log lines, CLF
	shapeSubscription         // CloudWatch Logs subscription payloads
	shapeExport               // CloudWatch Logs export-to-S3 lines
)

// sniffed is what detection found.
type sniffed struct {
	shape shape
	// fields is, for real-time records, the field count of the first;
	// fits reports whether any record looked at has as many fields as
	// the configured field list.
	fields int
	fits   bool
	// detail says more, for messages: how a known shape was told
	// (" (#Version and #Fields lines)", " in a Lambda event ..."), or
	// what unknown data is ("text", "binary data").
	detail string
}

// sniff looks at prefix, the start of an object's decompressed content,
// and says what the object looks like. rtFields is the number of
// configured real-time log fields.
func sniff(prefix []byte, rtFields int) sniffed {
	return sniffDepth(prefix, rtFields, 0)
}

func sniffDepth(b []byte, rtFields, depth int) sniffed {
	b = skipLeadingBlank(b)
	switch {
	case len(b) == 0:
		return sniffed{shape: shapeEmpty}
	case len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b:
		// gzip inside gzip: Firehose's own compression over the gzip
		// data of a CloudWatch Logs subscription.
		if inner := inflatePrefix(bytes.NewReader(b)); depth == 0 && sniffDepth(inner, rtFields, 1).shape == shapeSubscription {
			return sniffed{shape: shapeSubscription, detail: ", compressed twice"}
		}
		return sniffed{shape: shapeUnknown, detail: "gzip data inside gzip"}
	case bytes.HasPrefix(b, []byte("H4sI")): // base64 of a gzip header
		n := 0
		for n < len(b) && isBase64(b[n]) {
			n++
		}
		dec := base64.NewDecoder(base64.StdEncoding, bytes.NewReader(b[:n&^3]))
		if inner := inflatePrefix(dec); depth == 0 && sniffDepth(inner, rtFields, 1).shape == shapeSubscription {
			return sniffed{shape: shapeSubscription, detail: ", base64-encoded"}
		}
		return sniffed{shape: shapeUnknown, detail: "text"}
	case b[0] == '{':
		switch cloudwatch.SniffJSON(b) {
		case cloudwatch.LambdaJSON:
			return sniffed{shape: shapeSubscription, detail: ` in a Lambda event ({"awslogs":...})`}
		case cloudwatch.PayloadJSON:
			return sniffed{shape: shapeSubscription}
		}
		return sniffed{shape: shapeAPIGatewayJSON}
	}
	// Lines: CloudFront headers first, then the first record.
	for len(b) > 0 && b[0] == '#' {
		line, rest := cutLine(b)
		if cloudfront.IsDirective(line) {
			return sniffed{shape: shapeStandard, detail: " (#Version and #Fields lines)"}
		}
		b = skipLeadingBlank(rest)
	}
	line, _ := cutLine(b)
	switch {
	case cloudfront.LooksLikeRecord(line):
		return sniffed{shape: shapeStandard, detail: " (date and time first)"}
	case cloudfrontrt.LooksLikeRecord(line):
		s := sniffed{shape: shapeRealtime, fields: cloudfrontrt.CountFields(line)}
		for i, rest := 0, b; i < 16 && len(rest) > 0; i++ {
			var l []byte
			l, rest = cutLine(rest)
			s.fits = s.fits || cloudfrontrt.CountFields(l) == rtFields
		}
		return s
	case cloudwatch.IsExportLine(line):
		return sniffed{shape: shapeExport}
	case apigateway.IsCLF(line):
		return sniffed{shape: shapeAPIGatewayCLF}
	}
	detail := "text"
	if p := b[:min(len(b), 512)]; bytes.IndexByte(p, 0) >= 0 || !utf8.Valid(trimPartialRune(p)) {
		detail = "binary data"
	}
	return sniffed{shape: shapeUnknown, detail: detail}
}

// inflatePrefix returns what the gzip stream in r decompresses to, up to
// sniffLen bytes; a stream cut short yields what it held.
func inflatePrefix(r io.Reader) []byte {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(zr, sniffLen))
	return b
}

func isBase64(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '='
}

// skipLeadingBlank drops leading blank lines and spaces.
func skipLeadingBlank(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\n' || b[0] == '\r' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

// cutLine returns b's first line, without its newline, and the rest.
func cutLine(b []byte) (line, rest []byte) {
	line, rest, _ = bytes.Cut(b, []byte{'\n'})
	return line, rest
}

// trimPartialRune drops a UTF-8 sequence cut at the end of b.
func trimPartialRune(b []byte) []byte {
	for i := 1; i <= 3 && i <= len(b); i++ {
		if utf8.RuneStart(b[len(b)-i]) {
			if !utf8.FullRune(b[len(b)-i:]) {
				return b[:len(b)-i]
			}
			break
		}
	}
	return b
}

// formatOf names the format that reads a shape.
func formatOf(s shape) string {
	switch s {
	case shapeStandard:
		return "cloudfront"
	case shapeRealtime:
		return "cloudfront-realtime"
	case shapeAPIGatewayJSON, shapeAPIGatewayCLF:
		return "apigateway"
	case shapeSubscription:
		return "apigateway-cloudwatch"
	case shapeExport:
		return "apigateway-export"
	}
	return ""
}

// describe says what an object of this shape looks like, for messages.
func (s sniffed) describe() string {
	switch s.shape {
	case shapeStandard:
		return "a CloudFront standard log" + s.detail
	case shapeRealtime:
		return fmt.Sprintf("CloudFront real-time log records (%d tab-separated fields)", s.fields)
	case shapeAPIGatewayJSON:
		return "API Gateway access log lines (JSON)"
	case shapeAPIGatewayCLF:
		return "API Gateway access log lines (CLF)"
	case shapeSubscription:
		return "a CloudWatch Logs subscription payload" + s.detail
	case shapeExport:
		return "a CloudWatch Logs export to S3 (time and message lines)"
	}
	return s.detail
}

// what names the logs a format reads, for messages.
func what(f Format) string {
	switch f.Source {
	case keymeter.SourceCloudFront:
		return "a CloudFront standard log"
	case keymeter.SourceCloudFrontRealtime:
		return "CloudFront real-time log records"
	}
	return "API Gateway access logs"
}

// choose returns the format to read an object with, given what it looks
// like, or why it is not read.
func (in *Ingester) choose(s sniffed) (Format, string) {
	asked := in.format
	detecting := asked.NewParser == nil
	if s.shape == shapeEmpty {
		if detecting {
			return formats["cloudfront"], ""
		}
		return asked, ""
	}
	if s.shape == shapeUnknown {
		if detecting {
			return Format{}, "not a log format keymeter recognises (" + s.detail + "): it is neither a CloudFront standard log, " +
				"CloudFront real-time log records, API Gateway access log lines (JSON or CLF), a CloudWatch Logs subscription payload " +
				"nor a CloudWatch Logs export"
		}
		return asked, "" // the parser says what is wrong with each line
	}
	got := formats[formatOf(s.shape)]
	switch {
	case detecting && s.shape == shapeRealtime && !s.fits:
		return Format{}, fmt.Sprintf("looks like CloudFront real-time log records with %d tab-separated fields, but the configured field list has %d: "+
			"set --fields (realtime_fields) to the fields of the distribution's real-time log configuration and use --format cloudfront-realtime", s.fields, in.rtFields)
	case detecting:
		return got, ""
	case got.Source != asked.Source:
		fix := got.Name
		if got.Source == keymeter.SourceAPIGateway {
			fix = "apigateway"
		}
		return Format{}, "looks like " + s.describe() + ", not " + what(asked) + "; use --format " + fix
	case asked.Source == keymeter.SourceAPIGateway:
		return got, "" // every envelope of API Gateway access logs
	}
	return asked, ""
}
