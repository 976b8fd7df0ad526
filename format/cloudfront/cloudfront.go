// Package cloudfront parses CloudFront standard access logs (the legacy
// format delivered to S3, and standard logging v2 in W3C/plain form): a
// "#Version:" line, a "#Fields:" line naming the columns, then one
// tab-separated record per line.
//
// The column layout always comes from the most recent #Fields line, never
// from fixed positions, so the 19-, 23-, 26- and 33-field layouts of
// different years, reordered fields and trailing empty fields all parse.
// A file without a #Fields line is read with the historical layout whose
// field count matches the record.
//
// The parser does no I/O and keeps no per-record allocations: it fills a
// caller-owned keymeter.Event whose byte slices alias the input line.
package cloudfront

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/keymeter/keymeter"
)

// skip marks a column whose name keymeter does not know; its values are
// ignored.
const skip = keymeter.NumFields

// standardNames is the 33-field layout of CloudFront standard logs, in
// order. Older layouts are prefixes of it.
var standardNames = []string{
	"date", "time", "x-edge-location", "sc-bytes", "c-ip", "cs-method", "cs(Host)", "cs-uri-stem",
	"sc-status", "cs(Referer)", "cs(User-Agent)", "cs-uri-query", "cs(Cookie)", "x-edge-result-type",
	"x-edge-request-id", "x-host-header", "cs-protocol", "cs-bytes", "time-taken", "x-forwarded-for",
	"ssl-protocol", "ssl-cipher", "x-edge-response-result-type", "cs-protocol-version", "fle-status",
	"fle-encrypted-fields", "c-port", "time-to-first-byte", "x-edge-detailed-result-type",
	"sc-content-type", "sc-content-len", "sc-range-start", "sc-range-end",
}

// historicalCounts are the field counts of the layouts CloudFront has
// used, each a prefix of standardNames: 2014, 2015, Dec 2017, Dec 2019.
var historicalCounts = []int{19, 23, 26, 33}

// fieldByName maps every column name keymeter understands to its meaning.
// Standard logging v2 may use real-time names; both are accepted.
var fieldByName = map[string]keymeter.Field{
	"date":                          keymeter.FieldDate,
	"time":                          keymeter.FieldTime,
	"timestamp":                     keymeter.FieldTimestamp,
	"timestamp(ms)":                 keymeter.FieldTimestamp,
	"x-edge-location":               keymeter.FieldEdgeLocation,
	"sc-bytes":                      keymeter.FieldBytesSent,
	"c-ip":                          keymeter.FieldClientIP,
	"cs-method":                     keymeter.FieldMethod,
	"cs(host)":                      keymeter.FieldDistributionDomain,
	"cs-uri-stem":                   keymeter.FieldURIStem,
	"sc-status":                     keymeter.FieldStatus,
	"cs(referer)":                   keymeter.FieldReferer,
	"cs-referer":                    keymeter.FieldReferer,
	"cs(user-agent)":                keymeter.FieldUserAgent,
	"cs-user-agent":                 keymeter.FieldUserAgent,
	"cs-uri-query":                  keymeter.FieldQuery,
	"cs(cookie)":                    keymeter.FieldCookie,
	"cs-cookie":                     keymeter.FieldCookie,
	"x-edge-result-type":            keymeter.FieldEdgeResult,
	"x-edge-request-id":             keymeter.FieldRequestID,
	"x-host-header":                 keymeter.FieldViewerHost,
	"cs-protocol":                   keymeter.FieldProtocol,
	"cs-bytes":                      keymeter.FieldBytesReceived,
	"time-taken":                    keymeter.FieldTimeTaken,
	"x-forwarded-for":               keymeter.FieldForwardedFor,
	"ssl-protocol":                  keymeter.FieldSSLProtocol,
	"ssl-cipher":                    keymeter.FieldSSLCipher,
	"x-edge-response-result-type":   keymeter.FieldEdgeResponseResult,
	"cs-protocol-version":           keymeter.FieldProtocolVersion,
	"fle-status":                    keymeter.FieldFLEStatus,
	"fle-encrypted-fields":          keymeter.FieldFLEEncryptedFields,
	"c-port":                        keymeter.FieldClientPort,
	"time-to-first-byte":            keymeter.FieldTimeToFirstByte,
	"x-edge-detailed-result-type":   keymeter.FieldEdgeDetailedResult,
	"sc-content-type":               keymeter.FieldContentType,
	"sc-content-len":                keymeter.FieldContentLen,
	"sc-range-start":                keymeter.FieldRangeStart,
	"sc-range-end":                  keymeter.FieldRangeEnd,
	"s-ip":                          keymeter.FieldServerIP,
	"c-ip-version":                  keymeter.FieldClientIPVersion,
	"c-country":                     keymeter.FieldCountry,
	"cs-accept-encoding":            keymeter.FieldAcceptEncoding,
	"cs-accept":                     keymeter.FieldAccept,
	"cache-behavior-path-pattern":   keymeter.FieldCacheBehaviorPathPattern,
	"primary-distribution-id":       keymeter.FieldPrimaryDistributionID,
	"primary-distribution-dns-name": keymeter.FieldPrimaryDistributionDNSName,
	"origin-fbl":                    keymeter.FieldOriginFBL,
	"origin-lbl":                    keymeter.FieldOriginLBL,
	"asn":                           keymeter.FieldASN,
}

// realtimeNames names the fields that standard logs lack.
var realtimeNames = map[keymeter.Field]string{
	keymeter.FieldTimestamp:                  "timestamp",
	keymeter.FieldServerIP:                   "s-ip",
	keymeter.FieldClientIPVersion:            "c-ip-version",
	keymeter.FieldCountry:                    "c-country",
	keymeter.FieldAcceptEncoding:             "cs-accept-encoding",
	keymeter.FieldAccept:                     "cs-accept",
	keymeter.FieldCacheBehaviorPathPattern:   "cache-behavior-path-pattern",
	keymeter.FieldHeaders:                    "cs-headers",
	keymeter.FieldHeaderNames:                "cs-header-names",
	keymeter.FieldHeadersCount:               "cs-headers-count",
	keymeter.FieldPrimaryDistributionID:      "primary-distribution-id",
	keymeter.FieldPrimaryDistributionDNSName: "primary-distribution-dns-name",
	keymeter.FieldOriginFBL:                  "origin-fbl",
	keymeter.FieldOriginLBL:                  "origin-lbl",
	keymeter.FieldASN:                        "asn",
}

// FieldName returns the standard-log name of field f ("cs(Host)",
// "x-edge-request-id", ...), as used in reject reasons.
func FieldName(f keymeter.Field) string {
	if int(f) < len(standardNames) {
		return standardNames[f]
	}
	if name, ok := realtimeNames[f]; ok {
		return name
	}
	return fmt.Sprintf("field(%d)", f)
}

// Errors a record can be rejected with (wrapped in *keymeter.ParseError).
var (
	ErrFieldCount   = errors.New("wrong number of fields")
	ErrNoLayout     = errors.New("no #Fields line before this record")
	ErrBadHeader    = errors.New("unusable #Fields line")
	ErrMissingField = errors.New("required field is empty")
	ErrBadNumber    = errors.New("not a valid number")
	ErrBadTime      = errors.New("not a valid date or time")
)

// Parser parses the lines of one CloudFront standard log stream. Use one
// Parser per file: the layout set by a #Fields line applies to the lines
// after it. The zero value is ready to use.
type Parser struct {
	cols     []keymeter.Field // meaning of each column of the current layout
	declared int              // columns the current #Fields line declares; 0 when none
	inferred [4][]keymeter.Field
	header   error // why the current #Fields line is unusable, if it is
	split    [][]byte
}

// Parse parses one line, without its line terminator. It returns false
// and a nil error for blank, comment and header lines (a #Fields line sets
// the layout for the lines after it), true when ev holds a record, and a
// *keymeter.ParseError when the line must be rejected. ev's byte slices
// alias line.
func (p *Parser) Parse(line []byte, ev *keymeter.Event) (bool, error) {
	line = trimCR(line)
	if len(line) == 0 {
		return false, nil
	}
	if line[0] == '#' {
		return false, p.parseDirective(line)
	}
	ev.Reset()
	ev.Source = keymeter.SourceCloudFront
	if p.header != nil {
		return false, &keymeter.ParseError{Err: p.header}
	}
	split := p.split[:0]
	for rest := line; ; {
		end := bytes.IndexByte(rest, '\t')
		if end < 0 {
			split = append(split, rest)
			break
		}
		split = append(split, rest[:end])
		rest = rest[end+1:]
	}
	p.split = split
	n := len(split)
	cols := p.cols
	if p.declared == 0 {
		cols = p.inferLayout(split)
		if cols == nil {
			return false, &keymeter.ParseError{Err: fmt.Errorf("%w and %d fields match no CloudFront layout (19, 23, 26 or 33 fields)", ErrNoLayout, n)}
		}
	}
	if n < len(cols) {
		return false, &keymeter.ParseError{Err: fmt.Errorf("%w: %d fields, layout has %d (truncated record)", ErrFieldCount, n, len(cols))}
	}
	for _, v := range split[len(cols):] {
		if len(v) != 0 {
			return false, &keymeter.ParseError{Err: fmt.Errorf("%w: %d fields, layout has %d", ErrFieldCount, n, len(cols))}
		}
	}
	for i, f := range cols {
		if f != skip {
			ev.Fields[f] = split[i]
		}
	}
	if err := parseTyped(ev); err != nil {
		return false, err
	}
	return true, nil
}

func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}

// parseDirective handles a line starting with '#'.
func (p *Parser) parseDirective(line []byte) error {
	const prefix = "#Fields:"
	if !bytes.HasPrefix(line, []byte(prefix)) {
		return nil // #Version and other comments
	}
	names := bytes.Fields(line[len(prefix):])
	cols := make([]keymeter.Field, len(names))
	var seen [keymeter.NumFields]bool
	for i, name := range names {
		f, ok := fieldByName[string(bytes.ToLower(name))]
		if !ok || seen[f] {
			cols[i] = skip
			continue
		}
		seen[f] = true
		cols[i] = f
	}
	p.cols, p.declared, p.header = cols, len(cols), nil
	var missing []string
	if !seen[keymeter.FieldRequestID] {
		missing = append(missing, "x-edge-request-id")
	}
	if !seen[keymeter.FieldTimestamp] && (!seen[keymeter.FieldDate] || !seen[keymeter.FieldTime]) {
		missing = append(missing, "date and time")
	}
	if missing != nil {
		p.header = fmt.Errorf("%w: it lacks %s", ErrBadHeader, joinAnd(missing))
		return &keymeter.ParseError{Err: p.header}
	}
	return nil
}

func joinAnd(s []string) string {
	if len(s) == 2 {
		return s[0] + " and " + s[1]
	}
	return s[0]
}

// inferLayout returns the historical layout for a record split into
// fields, in a file without a #Fields line, allowing trailing empty
// fields.
func (p *Parser) inferLayout(split [][]byte) []keymeter.Field {
	n := len(split)
	for i := len(historicalCounts) - 1; i >= 0; i-- {
		c := historicalCounts[i]
		if n < c {
			continue
		}
		for _, v := range split[c:] {
			if len(v) != 0 {
				return nil
			}
		}
		if p.inferred[i] == nil {
			cols := make([]keymeter.Field, c)
			for j := range cols {
				cols[j] = keymeter.Field(j)
			}
			p.inferred[i] = cols
		}
		return p.inferred[i]
	}
	return nil
}
