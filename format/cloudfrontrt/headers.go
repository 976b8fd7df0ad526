package cloudfrontrt

import (
	"bytes"
	"strings"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/format/cloudfront"
	"github.com/keymeter/keymeter/format/internal/lex"
)

// DefaultKeyHeader is the request header that carries the API key unless
// configured otherwise.
const DefaultKeyHeader = "x-api-key"

// The header fields of a real-time record, as CloudFront writes them:
//
//	cs-headers       host:api.example.com%0Ax-api-key:abc123%0Auser-agent:curl/8.0%0A
//	cs-header-names  host%0Ax-api-key%0Auser-agent%0A
//
// Each header ends with "%0A" (an encoded line feed), names keep the case
// the client sent, and values are percent-encoded like every other field.
// CloudFront cuts cs-headers to 800 bytes by dropping whole headers that
// do not fit, while cs-header-names and cs-headers-count still list them.
// A header can therefore be known to have been sent and still be missing.

// HeaderState says what a record's header fields tell about one header.
type HeaderState uint8

// Header states.
const (
	// HeaderAbsent: the header is not in cs-headers and not listed in
	// cs-header-names, or it was sent with an empty value, or the record
	// does not carry cs-headers at all.
	HeaderAbsent HeaderState = iota
	// HeaderPresent: the header and its whole value are in cs-headers.
	HeaderPresent
	// HeaderTruncated: the header was sent (cs-header-names lists it) but
	// CloudFront's 800-byte cut dropped it from cs-headers, or left only
	// part of it.
	HeaderTruncated
)

var headerStateNames = [...]string{HeaderAbsent: "absent", HeaderPresent: "present", HeaderTruncated: "truncated"}

// String returns "absent", "present" or "truncated".
func (s HeaderState) String() string {
	if int(s) < len(headerStateNames) {
		return headerStateNames[s]
	}
	return "headerstate(?)"
}

// Attribution returns the attribution of a request whose key header is in
// state s, when nothing else in the record carries a key: Attributed,
// NoKey or KeyTruncated.
func (s HeaderState) Attribution() keymeter.Attribution {
	switch s {
	case HeaderPresent:
		return keymeter.Attributed
	case HeaderTruncated:
		return keymeter.KeyTruncated
	}
	return keymeter.NoKey
}

// FindHeader looks up header name (matched case-insensitively) in the
// header fields of a parsed record and says whether it is present, absent
// or truncated. When it is present, its value, percent-decoded once and
// stripped of surrounding spaces and tabs, is appended to dst; FindHeader
// returns dst, extended or not.
//
// The header is truncated when cs-header-names lists it but cs-headers
// lacks it, or holds only the start of it. When the record has no
// cs-header-names, a header missing from cs-headers counts as truncated
// if cs-headers-count says that headers were dropped (the key may have
// been one of them; there is no telling), and as absent otherwise.
//
// Ingest attributes a request from the key header with FindHeader,
// falls back to the query string when the state is not HeaderPresent,
// and records state.Attribution() when no key is found anywhere.
func FindHeader(dst []byte, ev *keymeter.Event, name string) ([]byte, HeaderState) {
	headers := ev.Fields[keymeter.FieldHeaders]
	raw, found, complete := lookup(headers, name)
	switch {
	case found && complete:
		start := len(dst)
		dst = cloudfront.Unescape(dst, raw)
		n := copy(dst[start:], trimOWS(dst[start:]))
		dst = dst[:start+n]
		if n == 0 {
			return dst, HeaderAbsent
		}
		return dst, HeaderPresent
	case found: // the last header of a cut list: its value may be partial
		return dst, HeaderTruncated
	}
	if names := ev.Fields[keymeter.FieldHeaderNames]; !isNull(names) {
		if HeaderListed(names, name) {
			return dst, HeaderTruncated
		}
		return dst, HeaderAbsent
	}
	if HeadersDropped(headers, ev.Fields[keymeter.FieldHeadersCount]) > 0 {
		return dst, HeaderTruncated
	}
	return dst, HeaderAbsent
}

// HeadersDropped returns how many of the headers that cs-headers-count
// counts are missing from cs-headers (a partial last header counts as
// missing): more than zero when CloudFront's 800-byte cut dropped some.
// It returns 0 when either field is not logged or the count is not a
// number.
func HeadersDropped(csHeaders, csHeadersCount []byte) int {
	want, ok := lex.Int(csHeadersCount)
	if !ok || want > 1<<20 {
		return 0
	}
	have := 0
	if !isNull(csHeaders) {
		for list := csHeaders; len(list) > 0; {
			_, rest, terminated := nextEntry(list)
			if terminated {
				have++
			}
			list = rest
		}
	}
	return max(0, int(want)-have)
}

// AppendHeaderValue appends the value of header name (matched
// case-insensitively) in cs-headers, percent-decoded once and stripped of
// surrounding spaces and tabs, to dst and returns the extended buffer.
// found is false, and dst is returned as it was, when the header is not
// there or only part of it is (a cut list that does not end in "%0A").
func AppendHeaderValue(dst, csHeaders []byte, name string) (_ []byte, found bool) {
	raw, found, complete := lookup(csHeaders, name)
	if !found || !complete {
		return dst, false
	}
	start := len(dst)
	dst = cloudfront.Unescape(dst, raw)
	n := copy(dst[start:], trimOWS(dst[start:]))
	return dst[:start+n], true
}

// AppendRecordHeaderValue is AppendHeaderValue for a whole record whose
// layout is not known (a rejected one, whose fields may not be where the
// configured field list puts them): it looks for header name in every
// tab-separated field and appends the first whole, non-empty value it
// finds. found is false, and dst is returned as it was, when there is
// none.
func AppendRecordHeaderValue(dst, record []byte, name string) (_ []byte, found bool) {
	for rest := record; len(rest) > 0; {
		field := rest
		if i := bytes.IndexByte(rest, '\t'); i >= 0 {
			field, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		if v, ok := AppendHeaderValue(dst, field, name); ok && len(v) > len(dst) {
			return v, true
		}
	}
	return dst, false
}

// IsHeaderName reports whether name can be an HTTP header name (an RFC
// 9110 token), which a request header must be to be found in cs-headers:
// printable ASCII without spaces, separators ("(),/:;<=>?@[\]{}) or
// '%', which CloudFront's encoding of the list would make ambiguous.
func IsHeaderName(name string) bool {
	for _, c := range []byte(name) {
		if c <= ' ' || c >= 127 || strings.IndexByte(`"(),/:;<=>?@[\]{}%`, c) >= 0 {
			return false
		}
	}
	return name != ""
}

// RawHeader returns the value of header name (matched case-insensitively)
// in cs-headers as logged, still percent-encoded, aliasing csHeaders.
// complete is false when the header is the unterminated last one of a
// cut list, so that its value may be partial.
func RawHeader(csHeaders []byte, name string) (value []byte, found, complete bool) {
	return lookup(csHeaders, name)
}

// HeaderListed reports whether cs-header-names lists header name, matched
// case-insensitively.
func HeaderListed(csHeaderNames []byte, name string) bool {
	if isNull(csHeaderNames) {
		return false
	}
	for list := csHeaderNames; len(list) > 0; {
		entry, rest, _ := nextEntry(list)
		if equalFold(trimOWS(entry), name) {
			return true
		}
		list = rest
	}
	return false
}

// RedactHeader appends csHeaders to dst with the value of every header
// called name (matched case-insensitively) replaced by repl, and returns
// the extended buffer. A partial last header is replaced too. csHeaders
// may also be a whole record: a tab ends a header as "%0A" does, so the
// key is hidden wherever cs-headers sits (for reject texts). repl must be
// safe in a logged field: no tabs, no "%0A" (a key fingerprint is fine).
// Use it so that the raw key never reaches the store.
func RedactHeader(dst, csHeaders []byte, name string, repl []byte) []byte {
	for rest := csHeaders; ; {
		i := bytes.IndexByte(rest, '\t')
		if i < 0 {
			return redactList(dst, rest, name, repl)
		}
		dst = redactList(dst, rest[:i], name, repl)
		dst = append(dst, '\t')
		rest = rest[i+1:]
	}
}

// redactList is RedactHeader for a list without tabs.
func redactList(dst, list []byte, name string, repl []byte) []byte {
	if isNull(list) {
		return append(dst, list...)
	}
	for len(list) > 0 {
		entry, rest, terminated := nextEntry(list)
		if c := bytes.IndexByte(entry, ':'); c >= 0 && equalFold(trimOWS(entry[:c]), name) {
			dst = append(dst, entry[:c+1]...)
			dst = append(dst, repl...)
		} else {
			dst = append(dst, entry...)
		}
		if terminated {
			dst = append(dst, list[len(entry):len(entry)+len(sep)]...) // the separator as logged
		}
		list = rest
	}
	return dst
}

// sep is the logged line feed that ends each header; "%0a" is accepted
// too.
const sep = "%0A"

// lookup finds header name in cs-headers.
func lookup(csHeaders []byte, name string) (value []byte, found, complete bool) {
	if isNull(csHeaders) {
		return nil, false, false
	}
	for list := csHeaders; len(list) > 0; {
		entry, rest, terminated := nextEntry(list)
		if c := bytes.IndexByte(entry, ':'); c >= 0 && equalFold(trimOWS(entry[:c]), name) {
			return entry[c+1:], true, terminated
		}
		list = rest
	}
	return nil, false, false
}

// nextEntry splits the first entry off a %0A-terminated list. terminated
// is false for a last entry without "%0A".
func nextEntry(list []byte) (entry, rest []byte, terminated bool) {
	for i := 0; ; {
		j := bytes.IndexByte(list[i:], '%')
		if j < 0 {
			return list, nil, false
		}
		j += i
		if j+2 < len(list) && list[j+1] == '0' && (list[j+2] == 'A' || list[j+2] == 'a') {
			return list[:j], list[j+3:], true
		}
		i = j + 1
	}
}

// equalFold reports whether b equals s, ignoring ASCII case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// trimOWS strips spaces and tabs from both ends of b.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
