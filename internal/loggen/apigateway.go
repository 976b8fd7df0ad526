package loggen

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/url"
	"strconv"
	"time"
)

// The origin view: when CloudFront fronts an API Gateway REST API, each
// request the edge passes on is logged a second time by API Gateway, in
// its access log, with the API key's ID instead of the key. These
// functions write that view of the same generated requests, and the
// CloudWatch Logs envelopes API Gateway's logs are delivered in.

// APIKeyID returns the ID API Gateway gives the key: 10 lower-case
// letters and digits, derived from the key.
func (k *Key) APIKeyID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	h := hash64("apikeyid", k.Key)
	b := make([]byte, 10)
	for i := range b {
		b[i] = alphabet[h%uint64(len(alphabet))]
		h /= uint64(len(alphabet))
		if h == 0 {
			h = hash64("apikeyid-more", k.Key, strconv.Itoa(i))
		}
	}
	return string(b)
}

func hash64(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

// ReachesOrigin reports whether the edge passed the request to the
// origin, by keymeter's reconciliation rules: it was not answered from
// the cache (Hit, RefreshHit) or by a redirect, and is not an error of
// the edge's own (LimitExceeded, CapacityExceeded, Error with status 000
// or 5xx).
func (r *Record) ReachesOrigin() bool {
	switch r.Result {
	case "Hit", "RefreshHit", "Redirect", "LimitExceeded", "CapacityExceeded":
		return false
	case "Error":
		return r.Status != 0 && r.Status < 500
	}
	return true
}

// OriginTime is when API Gateway received the request: the edge's time
// (when it finished responding) less the time taken, but never before
// the start of the edge's day, so that daily totals of both views agree.
func (r *Record) OriginTime() time.Time {
	t := r.Time.Add(-time.Duration(r.TimeTakenMs) * time.Millisecond)
	if day := r.Time.Truncate(24 * time.Hour); t.Before(day) {
		t = day
	}
	return t
}

// OriginRequestID is API Gateway's requestId for the request: a UUID.
func (r *Record) OriginRequestID() string {
	a, b := hash64("requestId", r.RequestID), hash64("requestId2", r.RequestID)
	var u [16]byte
	binary.BigEndian.PutUint64(u[:8], a)
	binary.BigEndian.PutUint64(u[8:], b)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:])
}

// ExtendedRequestID is API Gateway's extendedRequestId for the request.
func (r *Record) ExtendedRequestID() string {
	var b [10]byte
	binary.BigEndian.PutUint64(b[:8], hash64("extendedRequestId", r.RequestID))
	return base64.StdEncoding.EncodeToString(b[:])
}

// EventID is the ID CloudWatch Logs gives the request's log event: 56
// digits.
func (r *Record) EventID() string {
	s := ""
	for i := 0; len(s) < 56; i++ {
		s += fmt.Sprintf("%019d", hash64("eventId", r.RequestID, strconv.Itoa(i))%1e19)
	}
	return s[:56]
}

// APIGatewayOptions say how the origin view is written.
type APIGatewayOptions struct {
	// LogAPIKey logs $context.identity.apiKey, the key itself, beside its
	// ID: a secret keymeter must never store.
	LogAPIKey bool
}

// AppendAPIGatewayJSON appends the request's API Gateway access log line
// (with its newline), from a JSON template with AWS's documented example
// keys plus apiKeyId and extendedRequestId. Values are quoted strings, as
// the template writes them; unset ones are "-".
func (r *Record) AppendAPIGatewayJSON(dst []byte, o APIGatewayOptions) []byte {
	ua, err := url.PathUnescape(r.UA)
	if err != nil {
		ua = r.UA
	}
	keyID, key := "-", "-"
	if r.Key != nil {
		keyID = r.Key.APIKeyID()
		if o.LogAPIKey {
			key = r.Key.Key
		}
	}
	t := r.OriginTime()
	latency := max(r.TimeTakenMs-r.TTFBMs, 1)
	fields := [][2]string{
		{"requestId", r.OriginRequestID()},
		{"extendedRequestId", r.ExtendedRequestID()},
		{"ip", r.IP},
		{"caller", "-"},
		{"user", "-"},
		{"requestTime", t.Format("02/Jan/2006:15:04:05 -0700")},
		{"requestTimeEpoch", strconv.FormatInt(t.UnixMilli(), 10)},
		{"httpMethod", r.Method},
		{"resourcePath", r.Path},
		{"path", "/prod" + r.Path},
		{"status", strconv.Itoa(r.Status)},
		{"protocol", "HTTP/1.1"},
		{"responseLength", strconv.FormatInt(r.ContentLen, 10)},
		{"integrationLatency", strconv.Itoa(max(latency-5, 0))},
		{"responseLatency", strconv.Itoa(latency)},
		{"apiKeyId", keyID},
		{"apiKey", key},
		{"userAgent", ua},
		{"stage", "prod"},
		{"apiId", "a1b2c3d4e5"},
		{"domainName", "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"},
	}
	dst = append(dst, '{')
	for i, f := range fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendQuote(dst, f[0])
		dst = append(dst, ':')
		v, _ := json.Marshal(f[1])
		dst = append(dst, v...)
	}
	return append(dst, '}', '\n')
}

// CloudWatchEvent is one log event of a subscription payload.
type CloudWatchEvent struct {
	ID        string `json:"id"`
	Timestamp int64  `json:"timestamp"` // Unix milliseconds, ingestion side
	Message   string `json:"message"`
}

// CloudWatchEventOf returns the log event that carries the request's
// origin line: CloudWatch's timestamp is a little after the request.
func (r *Record) CloudWatchEventOf(o APIGatewayOptions) CloudWatchEvent {
	line := r.AppendAPIGatewayJSON(nil, o)
	return CloudWatchEvent{
		ID:        r.EventID(),
		Timestamp: r.OriginTime().Add(1500 * time.Millisecond).UnixMilli(),
		Message:   string(line[:len(line)-1]),
	}
}

// CloudWatchPayload returns the JSON of a DATA_MESSAGE subscription
// payload of log group group.
func CloudWatchPayload(group, stream string, events []CloudWatchEvent) []byte {
	p := struct {
		MessageType         string            `json:"messageType"`
		Owner               string            `json:"owner"`
		LogGroup            string            `json:"logGroup"`
		LogStream           string            `json:"logStream"`
		SubscriptionFilters []string          `json:"subscriptionFilters"`
		LogEvents           []CloudWatchEvent `json:"logEvents"`
	}{"DATA_MESSAGE", "123456789012", group, stream, []string{"keymeter"}, events}
	b, err := json.Marshal(p)
	if err != nil {
		panic(err)
	}
	return b
}

// CloudWatchControlMessage returns the JSON of the CONTROL_MESSAGE
// CloudWatch Logs sends to check a new destination.
func CloudWatchControlMessage() []byte {
	return []byte(`{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"",` +
		`"subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1759276800000,` +
		`"message":"CWL CONTROL MESSAGE: Checking health of destination Kinesis stream."}]}`)
}

// Gzip compresses b into one gzip member.
func Gzip(b []byte) []byte {
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	w.Write(b)
	w.Close()
	return z.Bytes()
}

// LambdaEvent wraps a gzip payload as a Lambda subscription receives it.
func LambdaEvent(gzipped []byte) []byte {
	return []byte(`{"awslogs":{"data":"` + base64.StdEncoding.EncodeToString(gzipped) + `"}}`)
}

// ExportLine returns the line of a CloudWatch Logs export-to-S3 object
// that holds e (with its newline).
func ExportLine(e CloudWatchEvent) string {
	return time.UnixMilli(e.Timestamp).UTC().Format("2006-01-02T15:04:05.000Z") + " " + e.Message + "\n"
}
