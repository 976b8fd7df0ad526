package ingest

import (
	"errors"
	"fmt"
	"io"
	"path"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/format/apigateway"
	"github.com/keymeter/keymeter/format/cloudwatch"
)

// API Gateway access logs reach keymeter in three envelopes, one format
// each. All three store SourceAPIGateway events and deduplicate on the
// request's ID (extendedRequestId, else requestId, which API Gateway
// requires in every access log format), so the same request read through
// two deliveries is counted once. CloudWatch's log event ID is not used:
// export lines do not carry it, and the request ID already identifies a
// redelivered event.
//
//   - "apigateway": one access log line per record (files of lines, or
//     the records Firehose writes when it is the stage's destination).
//   - "apigateway-cloudwatch": CloudWatch Logs subscription payloads
//     (gzip JSON, alone as in a Kinesis record, base64 in a Lambda event,
//     or concatenated as Firehose writes them to S3). CONTROL_MESSAGE
//     payloads are skipped; a well-formed payload that is not usable is
//     rejected and the next one read.
//   - "apigateway-export": CloudWatch Logs export-to-S3 objects of
//     "<time> <message>" lines.
//
// Whichever of the three is asked for, each object is read with the one
// whose envelope it looks like (Ingester.choose), and a Kinesis record
// that is gzip with the payload reader: the names differ only in how an
// object that looks like none of them is read.
//
// The request time always comes from the access log line, never from
// CloudWatch's timestamp. Objects named aws-logs-write-test (the
// permission check CloudWatch Logs writes to an export destination) are
// skipped.
func init() {
	formats["apigateway"] = Format{
		Name:      "apigateway",
		Source:    keymeter.SourceAPIGateway,
		NewParser: newAPIGatewayParser,
		Skip:      skipWriteTest,
	}
	formats["apigateway-cloudwatch"] = Format{
		Name:       "apigateway-cloudwatch",
		Source:     keymeter.SourceAPIGateway,
		NewParser:  newAPIGatewayParser,
		NewRecords: newCloudWatchRecords,
		Skip:       skipWriteTest,
	}
	formats["apigateway-export"] = Format{
		Name:   "apigateway-export",
		Source: keymeter.SourceAPIGateway,
		NewParser: func(cfg *Config) (Parser, error) {
			p, err := newAPIGatewayParser(cfg)
			if err != nil {
				return nil, err
			}
			return &exportParser{line: p.(*apigwParser)}, nil
		},
		Skip: skipWriteTest,
	}
}

// API Gateway access log templates (APIGateway.Template).
const (
	TemplateAuto = "auto" // JSON for records starting with '{', CLF otherwise
	TemplateJSON = "json" // a JSON template, read with APIGateway.Mapping
	TemplateCLF  = "clf"  // AWS's CLF template
)

// APIGateway configures the API Gateway formats. The zero value reads
// JSON and CLF records, JSON ones with apigateway.DefaultMapping.
type APIGateway struct {
	// Template is TemplateAuto (or ""), TemplateJSON or TemplateCLF.
	Template string
	// Mapping says which keys of a JSON template carry which value; nil
	// means apigateway.DefaultMapping(). A request is attributed to its
	// APIKeyID, else to the fingerprint of its APIKey, else to its
	// Identity.
	Mapping *apigateway.Mapping
}

// mapping returns the mapping JSON records are read with.
func (a *APIGateway) mapping() apigateway.Mapping {
	if a.Mapping == nil {
		return apigateway.DefaultMapping()
	}
	return *a.Mapping
}

// Validate reports every problem with the configuration at once, as
// Config.Validate does.
func (a *APIGateway) Validate() error {
	return joinProblems(a.problems())
}

// problems returns every problem with the configuration: the template,
// and the mapping of a template that may be JSON.
func (a *APIGateway) problems() []*ConfigError {
	var out []*ConfigError
	switch a.Template {
	case "", TemplateAuto, TemplateJSON, TemplateCLF:
	default:
		out = append(out, &ConfigError{Setting: SettingAPIGatewayTemplate, Err: fmt.Errorf("%q is not auto, json or clf", a.Template)})
	}
	if a.Template != TemplateCLF {
		if err := a.mapping().Validate(); err != nil {
			out = append(out, &ConfigError{Setting: SettingAPIGatewayMapping, Err: err})
		}
	}
	return out
}

// apigwParser parses access log lines of the configured template and
// moves the values keymeter.Event has fields for out of apigateway.Extra.
type apigwParser struct {
	json, clf *apigateway.Parser // nil when the template rules them out
	last      *apigateway.Parser // the one that parsed the last record
}

// newAPIGatewayParser returns a parser of cfg.APIGateway's template,
// which New validated.
func newAPIGatewayParser(cfg *Config) (Parser, error) {
	a := &cfg.APIGateway
	p := &apigwParser{}
	if a.Template != TemplateCLF {
		p.json = apigateway.NewJSONParser(a.mapping())
	}
	if a.Template != TemplateJSON {
		p.clf = apigateway.NewCLFParser()
	}
	return p, nil
}

// Parse implements Parser.
func (p *apigwParser) Parse(record []byte, ev *keymeter.Event) (bool, error) {
	ap := p.clf
	if p.json != nil && (p.clf == nil || startsJSON(record)) {
		ap = p.json
	}
	p.last = ap
	ok, err := ap.Parse(record, ev)
	if !ok || err != nil {
		return ok, err
	}
	x := ap.Extra()
	f := &ev.Fields
	f[keymeter.FieldResourcePath] = x.ResourcePath
	f[keymeter.FieldRouteKey] = x.RouteKey
	f[keymeter.FieldStage] = x.Stage
	f[keymeter.FieldAPIID] = x.APIID
	f[keymeter.FieldAPIRequestID] = x.RequestID
	f[keymeter.FieldAPIKeyID] = x.APIKeyID
	f[keymeter.FieldIdentity] = x.Identity
	f[keymeter.FieldAPIKey] = x.APIKey
	return true, nil
}

// TimeField names the key the last record's time was read from.
func (p *apigwParser) TimeField() string {
	if p.last == nil {
		return "requestTime"
	}
	return p.last.TimeField()
}

// startsJSON reports whether a record's first non-blank byte is '{'.
func startsJSON(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c == '{'
	}
	return false
}

// exportParser reads the lines of CloudWatch Logs export-to-S3 objects:
// the export's time, a space and the access log line.
type exportParser struct {
	line *apigwParser
}

// Parse implements Parser.
func (p *exportParser) Parse(record []byte, ev *keymeter.Event) (bool, error) {
	if len(trimBlank(record)) == 0 {
		return false, nil
	}
	_, msg, err := cloudwatch.ParseExportLine(record)
	if err != nil {
		return false, &keymeter.ParseError{Err: err}
	}
	return p.line.Parse(msg, ev)
}

// TimeField names the key the last record's time was read from.
func (p *exportParser) TimeField() string { return p.line.TimeField() }

func trimBlank(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}

// cloudWatchRecords yields the messages of the log events in a stream of
// CloudWatch Logs subscription payloads.
type cloudWatchRecords struct {
	rd *cloudwatch.Reader
}

func newCloudWatchRecords(r io.Reader) RecordReader {
	return &cloudWatchRecords{rd: cloudwatch.NewReader(r)}
}

// Next implements RecordReader. A payload that is well-formed but not
// usable comes back as a *keymeter.ParseError, which rejects it; reading
// goes on with the next payload.
func (c *cloudWatchRecords) Next() ([]byte, error) {
	ev, err := c.rd.Next()
	switch {
	case err == nil:
		return ev.Message, nil
	case errors.Is(err, cloudwatch.ErrBadPayload):
		return nil, &keymeter.ParseError{Err: err}
	}
	return nil, err
}

// Reset makes c read the payloads in r, keeping its buffers: for Kinesis
// records, each of which holds one payload.
func (c *cloudWatchRecords) Reset(r io.Reader) { c.rd.Reset(r) }

// writeTest is the object CloudWatch Logs writes to an export
// destination to check its permissions.
const writeTest = "aws-logs-write-test"

func skipWriteTest(uri string) string {
	if path.Base(uri) == writeTest {
		return "not a log: CloudWatch Logs' permission check of the export destination"
	}
	return ""
}

// originIDs caches the KeyFingerprints of origin identities, per
// namespace, so that attributing a request does not allocate.
type originIDs struct {
	apiKeyIDs map[string]keymeter.KeyFingerprint
	callers   map[string]keymeter.KeyFingerprint
}

func (o *originIDs) get(ns string, v []byte) keymeter.KeyFingerprint {
	m := &o.callers
	if ns == keymeter.IdentityAPIKeyID {
		m = &o.apiKeyIDs
	}
	if fp, ok := (*m)[string(v)]; ok {
		return fp
	}
	if *m == nil || len(*m) >= maxCachedKeys {
		*m = make(map[string]keymeter.KeyFingerprint)
	}
	fp := keymeter.OriginIdentity(ns, v)
	(*m)[string(v)] = fp
	return fp
}

// attributeOrigin attributes an API Gateway request: to its API key ID
// when logged, else to the fingerprint of its API key when the template
// logs the key itself, else to the operator's identity field, else to
// the key found by redactFields (fp, ok). The raw key is dropped from ev.
func (e *encoder) attributeOrigin(ev *keymeter.Event, fp keymeter.KeyFingerprint, ok bool) (keymeter.KeyFingerprint, bool) {
	key := ev.Fields[keymeter.FieldAPIKey]
	ev.Fields[keymeter.FieldAPIKey] = nil
	switch {
	case ev.Value(keymeter.FieldAPIKeyID) != nil:
		return e.origin.get(keymeter.IdentityAPIKeyID, ev.Fields[keymeter.FieldAPIKeyID]), true
	case len(key) > 0 && !(len(key) == 1 && key[0] == '-'):
		return e.keys.fingerprint(key), true
	case ev.Value(keymeter.FieldIdentity) != nil:
		return e.origin.get(keymeter.IdentityCaller, ev.Fields[keymeter.FieldIdentity]), true
	}
	return fp, ok
}
