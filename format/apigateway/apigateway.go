// Package apigateway parses Amazon API Gateway access log records: the
// line API Gateway writes for each request from the stage's access log
// format, a template of $context variables the operator chose.
//
// Two kinds of template are read:
//
//   - JSON templates (NewJSONParser). A Mapping says which keys carry
//     which value; DefaultMapping knows AWS's documented example keys and
//     the usual snake_case ones. API Gateway substitutes values into the
//     template without escaping them, so a quote or backslash in a value
//     (a user agent, a path) can break the JSON (DataBiosphere/azul issue
//     #4348). Such a record is rejected with the byte offset and the key
//     it broke at; it is never repaired by guessing.
//   - AWS's CLF template (NewCLFParser), below, optionally followed by
//     $context.extendedRequestId as in the current documentation's example
//     (which also drops the space before the quote; both forms parse).
//
// The CLF template:
//
//	$context.identity.sourceIp $context.identity.caller $context.identity.user [$context.requestTime] "$context.httpMethod $context.resourcePath $context.protocol" $context.status $context.responseLength $context.requestId
//
// Unset variables render as "-". The request time comes from
// requestTimeEpoch or requestTime, never from the CloudWatch Logs event
// that carried the record (that timestamp is ingestion-side).
//
// # The Event
//
// keymeter.Event's fields are named after CloudFront's; an API Gateway
// event fills the closest ones:
//
//	Time            requestTimeEpoch, else requestTime: when API Gateway
//	                received the request (CloudFront logs the response end)
//	Status          status
//	BytesSent       responseLength: the payload, without headers
//	BytesReceived   -1: API Gateway does not log it
//	TimeTaken       responseLatency, else integrationLatency (ms)
//	Fields[FieldRequestID]  the dedupe ID (see below)
//	Fields[FieldMethod]     httpMethod
//	Fields[FieldURIStem]    path, else resourcePath (the CLF template has only
//	                        resourcePath; Extra says which one it was)
//	Fields[FieldClientIP]   identity.sourceIp (CloudFront's edge address when
//	                        CloudFront fronts the API)
//	Fields[FieldUserAgent], Fields[FieldProtocol], Fields[FieldStatus]
//	Fields[FieldBytesSent]  responseLength as logged
//	Fields[FieldViewerHost] domainName
//
// Fields hold values as logged, after JSON unescaping: "-" stays "-" (use
// Event.Value). Extra reports "-" as nil.
//
// # Identity and deduplication
//
// A REST API's requestId can be set by the client (x-amzn-RequestId), so
// the event's request ID, the dedupe key, is extendedRequestId when the
// record carries one and requestId otherwise. Who made the request is in
// Extra: APIKeyID for REST APIs with API keys, Identity for the
// operator-chosen field of APIs without (HTTP APIs have no API keys), and
// APIKey when the template logs the key itself. APIKey is a secret: it is
// never put into the Event, and the caller must fingerprint it and drop it.
//
// # Ownership
//
// The parser is pure: no I/O, no clock. Parse fills a caller-owned
// keymeter.Event and the parser's Extra; their byte slices alias the
// record or the parser's internal buffer (for values with JSON escapes)
// and are valid until the next call to Parse. A typical record is parsed
// without allocating. A Parser is not safe for concurrent use; use one per
// goroutine.
package apigateway

import (
	"errors"
	"fmt"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/format/internal/lex"
)

// Errors a record can be rejected with (wrapped in *keymeter.ParseError).
var (
	ErrInvalidJSON  = errors.New("invalid JSON")
	ErrInvalidCLF   = errors.New("not a CLF access log record")
	ErrMissingField = errors.New("required field is missing or empty")
	ErrDuplicateKey = errors.New("key appears more than once")
	ErrNotScalar    = errors.New("value is an object or array, not a string or number")
	ErrBadNumber    = errors.New("not a valid number")
	ErrBadTime      = errors.New("not a valid time")
)

// Extra holds the API Gateway values that keymeter.Event has no field
// for. Each slice is nil when the record lacks the value or logs it empty
// ("", "-" or null); slices alias the record or the parser's buffer and
// are valid until the next call to Parse.
type Extra struct {
	RequestID         []byte // $context.requestId
	ExtendedRequestID []byte // $context.extendedRequestId
	Path              []byte // $context.path
	ResourcePath      []byte // $context.resourcePath
	RouteKey          []byte // $context.routeKey
	// APIKeyID is the ID of the API key the request carried: what a REST
	// API's requests are attributed by.
	APIKeyID []byte
	// APIKey is the API key itself: a secret. Fingerprint it, never store it.
	APIKey []byte
	// Identity is the value of the operator's identity key (Mapping.Identity).
	Identity []byte
	Caller   []byte // $context.identity.caller
	User     []byte // $context.identity.user
	Stage    []byte // $context.stage
	APIID    []byte // $context.apiId
	// IntegrationLatency and ResponseLatency are in milliseconds, -1 when
	// not logged.
	IntegrationLatency int32
	ResponseLatency    int32
}

// Parser parses API Gateway access log records of one template.
type Parser struct {
	clf bool
	// keys maps each mapped key to the slots it fills.
	keys map[string][]target
	// names holds the candidate keys of each slot, for reject reasons.
	names     [numSlots][]string
	idField   string // names the request ID keys in reject reasons
	timeField string // names the time keys in reject reasons

	// Per record.
	vals  [numSlots][]byte
	score [numSlots]uint16 // who filled vals[s]: rank, plus nullScore when empty
	seen  [numSlots]uint64 // candidate ranks met, to catch duplicate keys
	path  []byte           // dotted key path of the value being scanned
	buf   []byte           // values with escapes, decoded
	extra Extra
}

// target is one slot a key fills, and the key's rank among the slot's
// candidates.
type target struct {
	slot slot
	rank uint8
}

const (
	noScore   = 0xffff
	nullScore = 0x100
)

// NewJSONParser returns a parser for records of a JSON template laid out
// as m says. m should pass Validate; with a mapping that names no request
// ID or no time key, every record is rejected.
func NewJSONParser(m Mapping) *Parser {
	p := &Parser{keys: make(map[string][]target)}
	lists, _ := m.lists()
	for s, keys := range lists {
		if len(keys) > maxCandidates {
			keys = keys[:maxCandidates]
		}
		p.names[s] = keys
		for r, k := range keys {
			dup := false
			for _, t := range p.keys[k] {
				dup = dup || t.slot == slot(s)
			}
			if !dup {
				p.keys[k] = append(p.keys[k], target{slot(s), uint8(r)})
			}
		}
	}
	p.idField = joinFirst(p.names[sExtendedRequestID], p.names[sRequestID])
	p.timeField = joinFirst(p.names[sRequestTimeEpoch], p.names[sRequestTime])
	return p
}

// NewCLFParser returns a parser for AWS's CLF template (see the package
// documentation). Reject reasons name the fields after the $context
// variables: "status", "requestTime", ...
func NewCLFParser() *Parser {
	p := &Parser{clf: true}
	for s, name := range [numSlots]string{
		sRequestID: "requestId", sExtendedRequestID: "extendedRequestId", sRequestTime: "requestTime",
		sMethod: "httpMethod", sResourcePath: "resourcePath", sProtocol: "protocol", sStatus: "status",
		sResponseLength: "responseLength", sClientIP: "identity.sourceIp", sCaller: "identity.caller",
		sUser: "identity.user",
	} {
		if name != "" {
			p.names[s] = []string{name}
		}
	}
	p.idField = "extendedRequestId/requestId"
	p.timeField = "requestTime"
	return p
}

func joinFirst(a, b []string) string {
	switch {
	case len(a) > 0 && len(b) > 0:
		return a[0] + "/" + b[0]
	case len(a) > 0:
		return a[0]
	case len(b) > 0:
		return b[0]
	}
	return "request ID or time (the mapping names no key)"
}

// Extra returns the API Gateway values of the record last parsed, valid
// until the next call to Parse.
func (p *Parser) Extra() *Extra { return &p.extra }

// Parse parses one record: a line of the access log (for CloudWatch Logs,
// a log event's message), with or without its line terminator. It returns
// false and a nil error for a blank record, true when ev and Extra hold a
// request, and a *keymeter.ParseError when the record must be rejected.
// ev's byte slices alias record or the parser's buffer.
func (p *Parser) Parse(record []byte, ev *keymeter.Event) (bool, error) {
	record = trimSpace(record)
	if len(record) == 0 {
		return false, nil
	}
	ev.Reset()
	ev.Source = keymeter.SourceAPIGateway
	p.extra = Extra{}
	for s := range p.vals {
		p.vals[s], p.score[s], p.seen[s] = nil, noScore, 0
	}
	var err error
	if p.clf {
		err = p.parseCLF(record)
	} else {
		err = p.parseJSON(record)
	}
	if err == nil {
		err = p.fill(ev)
	}
	if err != nil {
		return false, err
	}
	return true, nil
}

// set records v as the value of every slot the key just scanned fills.
func (p *Parser) set(tg []target, v []byte) error {
	for _, t := range tg {
		bit := uint64(1) << t.rank
		if p.seen[t.slot]&bit != 0 {
			return &keymeter.ParseError{Field: string(p.path), Err: ErrDuplicateKey}
		}
		p.seen[t.slot] |= bit
		score := uint16(t.rank)
		if isNull(v) {
			score |= nullScore
		}
		if score < p.score[t.slot] {
			p.vals[t.slot], p.score[t.slot] = v, score
		}
	}
	return nil
}

// name returns the key that filled slot s, or its first candidate.
func (p *Parser) name(s slot) string {
	names := p.names[s]
	if r := int(p.score[s] &^ nullScore); r < len(names) {
		return names[r]
	}
	if len(names) > 0 {
		return names[0]
	}
	return "?"
}

// fill sets ev and Extra from the located values and checks the ones a
// request cannot do without.
func (p *Parser) fill(ev *keymeter.Event) error {
	v := &p.vals
	x := &p.extra
	x.RequestID = nonNull(v[sRequestID])
	x.ExtendedRequestID = nonNull(v[sExtendedRequestID])
	x.Path = nonNull(v[sPath])
	x.ResourcePath = nonNull(v[sResourcePath])
	x.RouteKey = nonNull(v[sRouteKey])
	x.APIKeyID = nonNull(v[sAPIKeyID])
	x.APIKey = nonNull(v[sAPIKey])
	x.Identity = nonNull(v[sIdentity])
	x.Caller = nonNull(v[sCaller])
	x.User = nonNull(v[sUser])
	x.Stage = nonNull(v[sStage])
	x.APIID = nonNull(v[sAPIID])

	id := x.ExtendedRequestID
	if id == nil {
		id = x.RequestID
	}
	if id == nil {
		return &keymeter.ParseError{Field: p.idField, Err: ErrMissingField}
	}
	ev.Fields[keymeter.FieldRequestID] = id

	switch {
	case !isNull(v[sRequestTimeEpoch]):
		us, ok := parseEpoch(v[sRequestTimeEpoch])
		if !ok {
			return p.valueError(sRequestTimeEpoch, ErrBadTime, epochProblem(v[sRequestTimeEpoch]))
		}
		ev.Time = us
	case !isNull(v[sRequestTime]):
		us, ok := ParseCLFTime(v[sRequestTime])
		if !ok {
			return p.valueError(sRequestTime, ErrBadTime, clfTimeProblem(v[sRequestTime]))
		}
		ev.Time = us
	default:
		return &keymeter.ParseError{Field: p.timeField, Err: ErrMissingField}
	}

	if s := v[sStatus]; !isNull(s) {
		n, ok := lex.Digits(s)
		if !ok || len(s) > 3 {
			return p.numberError(sStatus, "a status has 1 to 3 digits")
		}
		ev.Status = int32(n)
	}
	if s := v[sResponseLength]; !isNull(s) {
		n, ok := lex.Uint(s)
		if !ok {
			n, ok = lex.Int(s) // leading zeros, or 19 digits
		}
		if !ok {
			return p.numberError(sResponseLength, "larger than 9223372036854775807")
		}
		ev.BytesSent = n
	}
	x.IntegrationLatency, x.ResponseLatency = -1, -1
	for _, l := range [...]struct {
		s   slot
		dst *int32
	}{{sIntegrationLatency, &x.IntegrationLatency}, {sResponseLatency, &x.ResponseLatency}} {
		if s := v[l.s]; !isNull(s) {
			n, ok := lex.Uint(s)
			if !ok {
				n, ok = lex.Int(s) // leading zeros, or 19 digits
			}
			if !ok || n > 1<<31-1 {
				return p.numberError(l.s, "more than 2147483647 milliseconds")
			}
			*l.dst = int32(n)
		}
	}
	switch {
	case x.ResponseLatency >= 0:
		ev.TimeTaken = x.ResponseLatency
	case x.IntegrationLatency >= 0:
		ev.TimeTaken = x.IntegrationLatency
	}

	ev.Fields[keymeter.FieldMethod] = v[sMethod]
	ev.Fields[keymeter.FieldURIStem] = v[sPath]
	if isNull(v[sPath]) && v[sResourcePath] != nil {
		ev.Fields[keymeter.FieldURIStem] = v[sResourcePath]
	}
	ev.Fields[keymeter.FieldClientIP] = v[sClientIP]
	ev.Fields[keymeter.FieldUserAgent] = v[sUserAgent]
	ev.Fields[keymeter.FieldProtocol] = v[sProtocol]
	ev.Fields[keymeter.FieldStatus] = v[sStatus]
	ev.Fields[keymeter.FieldBytesSent] = v[sResponseLength]
	ev.Fields[keymeter.FieldViewerHost] = v[sDomainName]
	return nil
}

// TimeField returns the name of the key (or, for CLF, the $context
// variable) the last record's time was read from: the epoch key when it
// had a value, else the CLF-time key. Reject reasons about the time name
// it.
func (p *Parser) TimeField() string {
	if !isNull(p.vals[sRequestTimeEpoch]) {
		return p.name(sRequestTimeEpoch)
	}
	return p.name(sRequestTime)
}

// valueError reports a bad value in slot s: err, the value quoted (its
// start, if long) and why it is bad.
func (p *Parser) valueError(s slot, err error, why string) error {
	v := p.vals[s]
	if len(v) > 40 {
		v = append(v[:40:40], "..."...)
	}
	return &keymeter.ParseError{Field: p.name(s), Err: fmt.Errorf("%w: %q (%s)", err, v, why)}
}

// numberError reports a bad number in slot s: what lex.NumberProblem
// finds wrong with it, or tooBig when it is a well-formed whole number
// out of range.
func (p *Parser) numberError(s slot, tooBig string) error {
	why := lex.NumberProblem(p.vals[s], true)
	if why == "" {
		why = tooBig
	}
	return p.valueError(s, ErrBadNumber, why)
}

// isNull reports whether a value means "no value": absent, "" or "-".
func isNull(v []byte) bool {
	return len(v) == 0 || len(v) == 1 && v[0] == '-'
}

func nonNull(v []byte) []byte {
	if isNull(v) {
		return nil
	}
	return v
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	return b
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

// errorf builds a reject reason; only rejected records pay for it.
func errorf(base error, format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{base}, args...)...)
}
