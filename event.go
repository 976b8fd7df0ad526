package keymeter

import (
	"fmt"
	"slices"
	"time"
)

// Source names the log an event came from. Every stored event keeps it, so
// that edge (CloudFront) and origin (API Gateway) counts are never mixed up.
type Source uint8

// Sources keymeter reads.
const (
	SourceUnknown            Source = iota
	SourceCloudFront                // CloudFront standard logs (S3 / files)
	SourceCloudFrontRealtime        // CloudFront real-time logs (Kinesis)
	SourceAPIGateway                // API Gateway access logs
	// SourceEdge is not a log but the join of CloudFront's two: one
	// request per request ID among the standard and the real-time log,
	// measured by its standard line when there is one and attributed by
	// whichever of the two shows its key (see EdgeJoinWindow). No event
	// is stored under it; stores derive it.
	SourceEdge
)

var sourceNames = [...]string{
	SourceUnknown:            "unknown",
	SourceCloudFront:         "cloudfront",
	SourceCloudFrontRealtime: "cloudfront-realtime",
	SourceAPIGateway:         "apigateway",
	SourceEdge:               "edge",
}

// String returns the source's stable name, as used in flags, tables and JSON.
func (s Source) String() string {
	if int(s) < len(sourceNames) {
		return sourceNames[s]
	}
	return fmt.Sprintf("source(%d)", uint8(s))
}

// ParseSource returns the Source with the given name.
func ParseSource(name string) (Source, error) {
	for i, n := range sourceNames {
		if i > 0 && n == name {
			return Source(i), nil
		}
	}
	return SourceUnknown, Errorf(EINVALID, "unknown source %q (want edge, cloudfront, cloudfront-realtime or apigateway)", name)
}

// Sources lists every source whose events are stored, in order: the
// logs, not the edge join.
func Sources() []Source {
	return []Source{SourceCloudFront, SourceCloudFrontRealtime, SourceAPIGateway}
}

// IsCloudFront reports whether s is one of CloudFront's logs, or their
// join: a source of edge counts.
func (s Source) IsCloudFront() bool {
	return s == SourceCloudFront || s == SourceCloudFrontRealtime || s == SourceEdge
}

// EdgeJoinWindow is how far apart, in whole UTC hours, the times of a
// standard line and a real-time record with the same request ID may be
// for both to be one request of SourceEdge. The two records of a request
// are logged within milliseconds of each other; the window is the
// default dedupe window (DefaultDedupeWindow), fixed rather than
// configurable so that what an invoice counted as one request stays one
// request forever.
const EdgeJoinWindow = 24 * time.Hour

// DefaultSources returns the sources a question with no source counts,
// given the sources that have events: the edge join when either
// CloudFront log has any (never the sum of both logs), and API Gateway
// when it has any, so that edge and origin are shown side by side and
// never added up. It returns nil when no source has events.
func DefaultSources(present []Source) []Source {
	var out []Source
	if slices.ContainsFunc(present, Source.IsCloudFront) {
		out = append(out, SourceEdge)
	}
	if slices.Contains(present, SourceAPIGateway) {
		out = append(out, SourceAPIGateway)
	}
	return out
}

// Attribution says whether and how a request was tied to an API key.
type Attribution uint8

// Attribution outcomes. An unattributed request is still stored and
// counted; it is never dropped.
const (
	Attributed   Attribution = iota // a key was found
	NoKey                           // the request carried no key where keymeter looks
	KeyTruncated                    // the key header was cut from a truncated header block
)

// NumAttributions is the number of Attribution values.
const NumAttributions = 3

var attributionNames = [...]string{Attributed: "", NoKey: "no_key", KeyTruncated: "key_truncated"}

// String returns the reason name stored and shown for unattributed
// requests, and "" for attributed ones.
func (a Attribution) String() string {
	if int(a) < len(attributionNames) {
		return attributionNames[a]
	}
	return fmt.Sprintf("attribution(%d)", uint8(a))
}

// Field identifies one log field by meaning. Standard and real-time
// CloudFront logs name some fields differently and swap the meaning of
// cs-host and x-host-header; a Field is the meaning, not the name. API
// Gateway events fill the closest CloudFront fields (see
// format/apigateway) and the API Gateway fields at the end.
type Field uint8

// CloudFront fields, in the order of the 33-field standard log. Fields
// after FieldRangeEnd exist only in real-time logs; fields after FieldASN
// only in API Gateway access logs.
const (
	FieldDate                       Field = iota // date (standard logs)
	FieldTime                                    // time (standard logs)
	FieldEdgeLocation                            // x-edge-location
	FieldBytesSent                               // sc-bytes
	FieldClientIP                                // c-ip
	FieldMethod                                  // cs-method
	FieldDistributionDomain                      // cs(Host) in standard logs, x-host-header in real-time logs
	FieldURIStem                                 // cs-uri-stem (path only in standard logs)
	FieldStatus                                  // sc-status
	FieldReferer                                 // cs(Referer) / cs-referer
	FieldUserAgent                               // cs(User-Agent) / cs-user-agent
	FieldQuery                                   // cs-uri-query
	FieldCookie                                  // cs(Cookie) / cs-cookie
	FieldEdgeResult                              // x-edge-result-type
	FieldRequestID                               // x-edge-request-id
	FieldViewerHost                              // x-host-header in standard logs, cs-host in real-time logs
	FieldProtocol                                // cs-protocol
	FieldBytesReceived                           // cs-bytes
	FieldTimeTaken                               // time-taken
	FieldForwardedFor                            // x-forwarded-for
	FieldSSLProtocol                             // ssl-protocol
	FieldSSLCipher                               // ssl-cipher
	FieldEdgeResponseResult                      // x-edge-response-result-type
	FieldProtocolVersion                         // cs-protocol-version
	FieldFLEStatus                               // fle-status
	FieldFLEEncryptedFields                      // fle-encrypted-fields
	FieldClientPort                              // c-port
	FieldTimeToFirstByte                         // time-to-first-byte
	FieldEdgeDetailedResult                      // x-edge-detailed-result-type
	FieldContentType                             // sc-content-type
	FieldContentLen                              // sc-content-len
	FieldRangeStart                              // sc-range-start
	FieldRangeEnd                                // sc-range-end
	FieldTimestamp                               // timestamp (real-time logs: epoch seconds with milliseconds)
	FieldServerIP                                // s-ip
	FieldClientIPVersion                         // c-ip-version
	FieldCountry                                 // c-country
	FieldAcceptEncoding                          // cs-accept-encoding
	FieldAccept                                  // cs-accept
	FieldCacheBehaviorPathPattern                // cache-behavior-path-pattern
	FieldHeaders                                 // cs-headers
	FieldHeaderNames                             // cs-header-names
	FieldHeadersCount                            // cs-headers-count
	FieldPrimaryDistributionID                   // primary-distribution-id
	FieldPrimaryDistributionDNSName              // primary-distribution-dns-name
	FieldOriginFBL                               // origin-fbl
	FieldOriginLBL                               // origin-lbl
	FieldASN                                     // asn
	FieldResourcePath                            // $context.resourcePath (REST APIs: "/pets/{petId}")
	FieldRouteKey                                // $context.routeKey (HTTP APIs: "GET /pets")
	FieldStage                                   // $context.stage
	FieldAPIID                                   // $context.apiId
	FieldAPIRequestID                            // $context.requestId (FieldRequestID holds the dedupe ID)
	FieldAPIKeyID                                // $context.identity.apiKeyId: attributes REST API requests
	FieldIdentity                                // the operator's identity field (HTTP APIs): attributes requests
	// FieldAPIKey is $context.identity.apiKey, the API key itself: a
	// secret. Ingest fingerprints it; no Layout may name it.
	FieldAPIKey
	NumFields // number of Field values
)

// Event is one request as a log reported it. Parsers fill a caller-owned
// Event and reuse it for the next record: every byte slice aliases the
// parser's input and is valid only until the next call.
//
// Fields holds each field exactly as logged (still percent-encoded, "-"
// for empty), so that stores can reproduce the log; the typed members are
// the parsed values of the numeric and time fields. A typed member is -1
// when the log did not carry a value ("-" or an absent field).
type Event struct {
	Source Source
	// Time is when the edge finished responding, in Unix microseconds UTC.
	Time int64
	// Status is the HTTP status; CloudFront's "000" (viewer went away) is 0.
	Status int32
	// BytesSent (sc-bytes) and BytesReceived (cs-bytes) include headers.
	BytesSent     int64
	BytesReceived int64
	// TimeTaken and TimeToFirstByte are in milliseconds.
	TimeTaken       int32
	TimeToFirstByte int32
	ClientPort      int32
	ContentLen      int64
	RangeStart      int64
	RangeEnd        int64
	FLEEncrypted    int32
	// Fields holds the raw value of every field the record carried, indexed
	// by Field; nil when the record's layout lacks the field.
	Fields [NumFields][]byte
}

// Reset clears e for reuse without releasing anything it points to.
func (e *Event) Reset() {
	*e = Event{
		Status: -1, BytesSent: -1, BytesReceived: -1, TimeTaken: -1, TimeToFirstByte: -1,
		ClientPort: -1, ContentLen: -1, RangeStart: -1, RangeEnd: -1, FLEEncrypted: -1,
	}
}

// Value returns field f as logged, with CloudFront's "-" (and an absent
// field) reported as empty.
func (e *Event) Value(f Field) []byte {
	v := e.Fields[f]
	if len(v) == 1 && v[0] == '-' {
		return nil
	}
	return v
}
