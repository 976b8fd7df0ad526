// Package cloudfrontrt parses CloudFront real-time log records: one
// request per record, tab-separated, as CloudFront puts them on a Kinesis
// data stream and as Firehose concatenates them into S3 objects.
//
// A real-time record has no header naming its columns. It carries the
// fields of the distribution's real-time log configuration, and always in
// CloudFront's fixed canonical order, whatever order the operator listed
// them in. A Parser is therefore built from the configured field list
// (NewParser sorts it into canonical order), and a record whose field
// count does not fit that list is rejected rather than guessed at.
//
// Real-time logs differ from standard logs in ways that matter for
// metering: timestamp is epoch seconds with milliseconds; cs-uri-stem
// includes the query string (the Parser splits it off); cs-host is the
// viewer's Host header and x-host-header the distribution domain, the
// reverse of standard logs; and cs-headers carries request headers, so the
// API key can be read from a header (see FindHeader), subject to
// CloudFront's 800-byte cut.
//
// The package does no I/O and keeps no per-record allocations: Parse fills
// a caller-owned keymeter.Event whose byte slices alias the record.
package cloudfrontrt

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/format/cloudfront"
)

// canonical is every real-time log field, in the order CloudFront writes
// them. s-ip is not in the documented list (2023) but has been observed in
// 2024-2025 records between c-ip and time-to-first-byte.
var canonical = [...]struct {
	name       string
	field      keymeter.Field
	documented bool
}{
	{"timestamp", keymeter.FieldTimestamp, true},
	{"c-ip", keymeter.FieldClientIP, true},
	{"s-ip", keymeter.FieldServerIP, false},
	{"time-to-first-byte", keymeter.FieldTimeToFirstByte, true},
	{"sc-status", keymeter.FieldStatus, true},
	{"sc-bytes", keymeter.FieldBytesSent, true},
	{"cs-method", keymeter.FieldMethod, true},
	{"cs-protocol", keymeter.FieldProtocol, true},
	{"cs-host", keymeter.FieldViewerHost, true}, // the viewer's Host header
	{"cs-uri-stem", keymeter.FieldURIStem, true},
	{"cs-bytes", keymeter.FieldBytesReceived, true},
	{"x-edge-location", keymeter.FieldEdgeLocation, true},
	{"x-edge-request-id", keymeter.FieldRequestID, true},
	{"x-host-header", keymeter.FieldDistributionDomain, true}, // the distribution's domain
	{"time-taken", keymeter.FieldTimeTaken, true},
	{"cs-protocol-version", keymeter.FieldProtocolVersion, true},
	{"c-ip-version", keymeter.FieldClientIPVersion, true},
	{"cs-user-agent", keymeter.FieldUserAgent, true},
	{"cs-referer", keymeter.FieldReferer, true},
	{"cs-cookie", keymeter.FieldCookie, true},
	{"cs-uri-query", keymeter.FieldQuery, true},
	{"x-edge-response-result-type", keymeter.FieldEdgeResponseResult, true},
	{"x-forwarded-for", keymeter.FieldForwardedFor, true},
	{"ssl-protocol", keymeter.FieldSSLProtocol, true},
	{"ssl-cipher", keymeter.FieldSSLCipher, true},
	{"x-edge-result-type", keymeter.FieldEdgeResult, true},
	{"fle-encrypted-fields", keymeter.FieldFLEEncryptedFields, true},
	{"fle-status", keymeter.FieldFLEStatus, true},
	{"sc-content-type", keymeter.FieldContentType, true},
	{"sc-content-len", keymeter.FieldContentLen, true},
	{"sc-range-start", keymeter.FieldRangeStart, true},
	{"sc-range-end", keymeter.FieldRangeEnd, true},
	{"c-port", keymeter.FieldClientPort, true},
	{"x-edge-detailed-result-type", keymeter.FieldEdgeDetailedResult, true},
	{"c-country", keymeter.FieldCountry, true},
	{"cs-accept-encoding", keymeter.FieldAcceptEncoding, true},
	{"cs-accept", keymeter.FieldAccept, true},
	{"cache-behavior-path-pattern", keymeter.FieldCacheBehaviorPathPattern, true},
	{"cs-headers", keymeter.FieldHeaders, true},
	{"cs-header-names", keymeter.FieldHeaderNames, true},
	{"cs-headers-count", keymeter.FieldHeadersCount, true},
	{"primary-distribution-id", keymeter.FieldPrimaryDistributionID, true},
	{"primary-distribution-dns-name", keymeter.FieldPrimaryDistributionDNSName, true},
	{"origin-fbl", keymeter.FieldOriginFBL, true},
	{"origin-lbl", keymeter.FieldOriginLBL, true},
	{"asn", keymeter.FieldASN, true},
}

// position maps a real-time field name to its index in canonical.
var position = func() map[string]int {
	m := make(map[string]int, len(canonical))
	for i, c := range canonical {
		m[c.name] = i
	}
	return m
}()

// names maps a Field to its real-time name.
var names = func() (n [keymeter.NumFields]string) {
	for _, c := range canonical {
		n[c.field] = c.name
	}
	return n
}()

// CanonicalFields returns the name of every real-time log field keymeter
// knows, in the order CloudFront writes them: the 45 documented fields
// and s-ip.
func CanonicalFields() []string {
	s := make([]string, len(canonical))
	for i, c := range canonical {
		s[i] = c.name
	}
	return s
}

// DefaultFields returns the field list a Parser uses when none is
// configured: the 45 documented fields, in canonical order (s-ip, which is
// observed but undocumented, is not among them).
func DefaultFields() []string {
	s := make([]string, 0, len(canonical))
	for _, c := range canonical {
		if c.documented {
			s = append(s, c.name)
		}
	}
	return s
}

// FieldName returns the real-time log name of field f ("cs-host",
// "x-edge-request-id", ...), as used in reject reasons.
func FieldName(f keymeter.Field) string {
	if int(f) < len(names) && names[f] != "" {
		return names[f]
	}
	return fmt.Sprintf("field(%d)", f)
}

// Errors a record can be rejected with (wrapped in *keymeter.ParseError).
// They are the standard-log parser's, so that callers can classify rejects
// the same way for both formats.
var (
	ErrFieldCount   = cloudfront.ErrFieldCount
	ErrMissingField = cloudfront.ErrMissingField
	ErrBadNumber    = cloudfront.ErrBadNumber
	ErrBadTime      = cloudfront.ErrBadTime
)

// Parser parses real-time log records laid out by one field list. It is
// immutable once built and safe for concurrent use.
type Parser struct {
	cols     []keymeter.Field // meaning of each column, in canonical order
	hasQuery bool             // cs-uri-query is configured
	hasSIP   bool             // s-ip is configured
}

// NewParser returns a parser for records carrying the given fields: the
// fields of the distribution's real-time log configuration, named as in
// the CloudFront API ("timestamp", "c-ip", "cs-headers", ...; see
// CanonicalFields), in any order. Names are matched case-insensitively and
// surrounding space is ignored. An empty list means DefaultFields.
//
// It returns a *keymeter.Error with code EINVALID when a name is unknown
// or repeated, or when the list lacks timestamp, without which a request
// cannot be metered.
func NewParser(fields []string) (*Parser, error) {
	if len(fields) == 0 {
		fields = DefaultFields()
	}
	var unknown, repeated []string
	seen := make(map[int]bool, len(fields))
	idx := make([]int, 0, len(fields))
	for _, name := range fields {
		n := strings.ToLower(strings.TrimSpace(name))
		i, ok := position[n]
		switch {
		case !ok:
			unknown = append(unknown, fmt.Sprintf("%q", name))
		case seen[i]:
			repeated = append(repeated, n)
		default:
			seen[i] = true
			idx = append(idx, i)
		}
	}
	if len(unknown) > 0 {
		word := "field"
		if len(unknown) > 1 {
			word = "fields"
		}
		return nil, keymeter.Errorf(keymeter.EINVALID,
			"unknown real-time log %s %s (real-time logs name fields as in the CloudFront API, e.g. cs-user-agent and cs-host; known: %s)",
			word, strings.Join(unknown, ", "), strings.Join(CanonicalFields(), " "))
	}
	if len(repeated) > 0 {
		return nil, keymeter.Errorf(keymeter.EINVALID, "real-time log field list names %s more than once", strings.Join(repeated, ", "))
	}
	if !seen[position["timestamp"]] {
		return nil, keymeter.Errorf(keymeter.EINVALID, "real-time log field list lacks timestamp, without which requests cannot be metered")
	}
	sort.Ints(idx)
	p := &Parser{cols: make([]keymeter.Field, len(idx))}
	for j, i := range idx {
		f := canonical[i].field
		p.cols[j] = f
		p.hasQuery = p.hasQuery || f == keymeter.FieldQuery
		p.hasSIP = p.hasSIP || f == keymeter.FieldServerIP
	}
	return p, nil
}

// Fields returns the parser's field names in canonical order: the order
// of the columns of the records it accepts.
func (p *Parser) Fields() []string {
	s := make([]string, len(p.cols))
	for i, f := range p.cols {
		s[i] = names[f]
	}
	return s
}

// Parse parses one record: a Kinesis record's data, or a line of a
// Firehose object. One trailing "\n" or "\r\n" is ignored. It returns
// false and a nil error for an empty record, true when ev holds a request,
// and a *keymeter.ParseError when the record must be rejected.
//
// ev.Fields holds every configured field as logged, with one exception:
// since real-time logs include the query string in cs-uri-stem,
// ev.Fields[keymeter.FieldURIStem] is the path before the '?'. The query
// part is in ev.Fields[keymeter.FieldQuery] as cs-uri-query logged it or,
// when cs-uri-query is not configured, as cs-uri-stem carried it ("-" when
// there was none). ev's byte slices alias record.
func (p *Parser) Parse(record []byte, ev *keymeter.Event) (bool, error) {
	if n := len(record); n > 0 && record[n-1] == '\n' {
		record = record[:n-1]
		if n > 1 && record[n-2] == '\r' {
			record = record[:n-2]
		}
	}
	if len(record) == 0 {
		return false, nil
	}
	ev.Reset()
	ev.Source = keymeter.SourceCloudFrontRealtime
	if n := bytes.Count(record, tab) + 1; n != len(p.cols) {
		return false, &keymeter.ParseError{Err: p.countError(n)}
	}
	rest := record
	last := len(p.cols) - 1
	for _, f := range p.cols[:last] {
		i := bytes.IndexByte(rest, '\t')
		ev.Fields[f] = rest[:i:i]
		rest = rest[i+1:]
	}
	ev.Fields[p.cols[last]] = rest
	if stem := ev.Fields[keymeter.FieldURIStem]; stem != nil {
		q := bytes.IndexByte(stem, '?')
		switch {
		case q >= 0:
			ev.Fields[keymeter.FieldURIStem] = stem[:q:q]
			if !p.hasQuery {
				ev.Fields[keymeter.FieldQuery] = stem[q+1:]
			}
		case !p.hasQuery && !isNull(stem):
			ev.Fields[keymeter.FieldQuery] = dash
		}
	}
	if err := parseTyped(ev); err != nil {
		return false, err
	}
	return true, nil
}

var (
	tab  = []byte{'\t'}
	dash = []byte{'-'}
)

// countError explains a record whose field count n does not fit the
// configured list.
func (p *Parser) countError(n int) error {
	var hint string
	switch {
	case n == 1:
		hint = "it has no tabs: is it a CloudFront real-time log record?"
	case n == len(p.cols)+1 && !p.hasSIP:
		hint = "if the real-time log configuration includes s-ip, add s-ip to the field list"
	default:
		hint = "the field list must name exactly the fields of the distribution's real-time log configuration, in any order; see aws cloudfront get-realtime-log-config"
	}
	return fmt.Errorf("%w: record has %d fields, the configured list has %d (%s)", ErrFieldCount, n, len(p.cols), hint)
}
