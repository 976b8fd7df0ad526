package lake

import (
	"strconv"

	"github.com/parquet-go/parquet-go"

	"github.com/keymeter/keymeter"
)

// Facts are what ingest knows of an event beyond what its log said.
// Batch.Add copies what it keeps; with strings the caller interns (key
// fingerprints, customers, object URIs), adding an event allocates
// nothing.
type Facts struct {
	// Key is the fingerprint (keymeter.KeyFingerprint.Fingerprint) of the
	// key the request is attributed to, or an origin identity
	// (keymeter.OriginIdentity); "" when unattributed. Never a raw key.
	Key string
	// Customer owns Key; "" when nobody does.
	Customer    string
	Attribution keymeter.Attribution
	// Object is the URI of the object the event was read from.
	Object string
}

// attributionNames are the values of the attribution column.
var attributionNames = [keymeter.NumAttributions][]byte{
	keymeter.Attributed:   []byte("attributed"),
	keymeter.NoKey:        []byte("no_key"),
	keymeter.KeyTruncated: []byte("key_truncated"),
}

var dash = []byte("-")

// rowBuilder buffers rows column by column, as parquet.Values, with the
// bytes of their strings in one arena. A table's fill function appends
// one value per column, in column order.
type rowBuilder struct {
	// vals holds the buffered values column after column: column c of row
	// n is vals[c*chunkRows+n].
	vals     []parquet.Value
	arena    []byte
	n        int   // buffered rows
	at       int   // where the next value goes
	col      int   // its column
	loadedAt int64 // Unix microseconds
}

func newRowBuilder(t *Table) *rowBuilder {
	return &rowBuilder{vals: make([]parquet.Value, len(t.Columns)*chunkRows), arena: make([]byte, 0, 512*chunkRows)}
}

// start prepares for the next row's values.
func (r *rowBuilder) start() { r.at, r.col = r.n, 0 }

// end counts the row just filled.
func (r *rowBuilder) end() { r.n++ }

// column returns the values buffered in column c.
func (r *rowBuilder) column(c int) []parquet.Value { return r.vals[c*chunkRows : c*chunkRows+r.n] }

// reset drops the buffered rows, keeping the memory. Every value is
// set again before it is read, so the old ones need no clearing.
func (r *rowBuilder) reset() {
	r.n = 0
	r.arena = r.arena[:0]
}

// set stores a value of a required column, which needs no levels.
func (r *rowBuilder) set(v parquet.Value) {
	r.vals[r.at] = v
	r.at += chunkRows
	r.col++
}

// setOpt stores a non-null value of a nullable column.
func (r *rowBuilder) setOpt(v parquet.Value) {
	r.vals[r.at] = v.Level(0, 1, r.col)
	r.at += chunkRows
	r.col++
}

// null stores a null of a nullable column: the zero Value, whose
// definition level is 0.
func (r *rowBuilder) null() {
	r.vals[r.at] = parquet.Value{}
	r.at += chunkRows
	r.col++
}

// copied returns v copied into the arena.
func (r *rowBuilder) copied(v []byte) []byte {
	start := len(r.arena)
	r.arena = append(r.arena, v...)
	return r.arena[start:len(r.arena):len(r.arena)]
}

// field appends a log field as logged to a non-null string column, "-"
// when absent.
func (r *rowBuilder) field(v []byte) {
	if v == nil {
		v = dash
	}
	r.set(parquet.ByteArrayValue(r.copied(v)))
}

// optField appends a log field to a nullable string column: NULL when the
// log said "-" or lacked the field.
func (r *rowBuilder) optField(v []byte) {
	if v == nil || len(v) == 1 && v[0] == '-' {
		r.null()
		return
	}
	r.setOpt(parquet.ByteArrayValue(r.copied(v)))
}

// copiedString returns s copied into the arena.
func (r *rowBuilder) copiedString(s string) []byte {
	start := len(r.arena)
	r.arena = append(r.arena, s...)
	return r.arena[start:len(r.arena):len(r.arena)]
}

// optString appends s to a nullable string column, NULL when empty.
func (r *rowBuilder) optString(s string) {
	if s == "" {
		r.null()
		return
	}
	r.setOpt(parquet.ByteArrayValue(r.copiedString(s)))
}

func (r *rowBuilder) string(s string) { r.set(parquet.ByteArrayValue(r.copiedString(s))) }

// optInt32 and the others append a number to a nullable column, NULL when
// negative (keymeter.Event's "no value").
func (r *rowBuilder) optInt32(v int32) {
	if v < 0 {
		r.null()
		return
	}
	r.setOpt(parquet.Int32Value(v))
}

func (r *rowBuilder) optInt64(v int64) {
	if v < 0 {
		r.null()
		return
	}
	r.setOpt(parquet.Int64Value(v))
}

// optSeconds appends milliseconds as seconds, exactly as the store's
// views compute them (CAST(ms AS DOUBLE) / 1000).
func (r *rowBuilder) optSeconds(ms int32) {
	if ms < 0 {
		r.null()
		return
	}
	r.setOpt(parquet.DoubleValue(float64(ms) / 1000))
}

// optDecimal appends v in decimal to a nullable string column.
func (r *rowBuilder) optDecimal(v int64) {
	if v < 0 {
		r.null()
		return
	}
	start := len(r.arena)
	r.arena = strconv.AppendInt(r.arena, v, 10)
	r.setOpt(parquet.ByteArrayValue(r.arena[start:len(r.arena):len(r.arena)]))
}

func (r *rowBuilder) int64(v int64)      { r.set(parquet.Int64Value(v)) }
func (r *rowBuilder) date(days int32)    { r.set(parquet.Int32Value(days)) }
func (r *rowBuilder) timestamp(us int64) { r.set(parquet.Int64Value(us)) }

// keymeter appends keymeter's own columns (see keymeterColumns).
func (r *rowBuilder) keymeter(f *Facts, key bool) {
	if key {
		r.optString(f.Customer)
		r.optString(f.Key)
	}
	r.set(parquet.ByteArrayValue(attributionNames[f.Attribution]))
	r.string(f.Object)
	r.timestamp(r.loadedAt)
}

const (
	microsPerSecond = 1_000_000
	microsPerDay    = 86_400 * microsPerSecond
)

// dayOf returns the day of t (Unix microseconds) since 1970-01-01, UTC.
func dayOf(t int64) int32 {
	d := t / microsPerDay
	if t%microsPerDay < 0 {
		d--
	}
	return int32(d)
}

// appendClock appends the time of day of t as HH:MM:SS.
func appendClock(dst []byte, t int64) []byte {
	s := (t - int64(dayOf(t))*microsPerDay) / microsPerSecond
	h, m, sec := s/3600, s/60%60, s%60
	return append(dst, byte('0'+h/10), byte('0'+h%10), ':', byte('0'+m/10), byte('0'+m%10), ':', byte('0'+sec/10), byte('0'+sec%10))
}

func fillCloudFront(r *rowBuilder, ev *keymeter.Event, f *Facts) {
	r.date(dayOf(ev.Time))
	start := len(r.arena)
	r.arena = appendClock(r.arena, ev.Time)
	r.set(parquet.ByteArrayValue(r.arena[start:len(r.arena):len(r.arena)]))
	r.field(ev.Fields[keymeter.FieldEdgeLocation])
	r.optInt64(ev.BytesSent)
	r.field(ev.Fields[keymeter.FieldClientIP])
	r.field(ev.Fields[keymeter.FieldMethod])
	r.field(ev.Fields[keymeter.FieldDistributionDomain])
	r.field(ev.Fields[keymeter.FieldURIStem])
	r.optInt32(ev.Status)
	r.field(ev.Fields[keymeter.FieldReferer])
	r.field(ev.Fields[keymeter.FieldUserAgent])
	r.field(ev.Fields[keymeter.FieldQuery])
	r.field(ev.Fields[keymeter.FieldCookie])
	r.field(ev.Fields[keymeter.FieldEdgeResult])
	r.field(ev.Fields[keymeter.FieldRequestID])
	r.field(ev.Fields[keymeter.FieldViewerHost])
	r.field(ev.Fields[keymeter.FieldProtocol])
	r.optInt64(ev.BytesReceived)
	r.optSeconds(ev.TimeTaken)
	r.field(ev.Fields[keymeter.FieldForwardedFor])
	r.field(ev.Fields[keymeter.FieldSSLProtocol])
	r.field(ev.Fields[keymeter.FieldSSLCipher])
	r.field(ev.Fields[keymeter.FieldEdgeResponseResult])
	r.field(ev.Fields[keymeter.FieldProtocolVersion])
	r.field(ev.Fields[keymeter.FieldFLEStatus])
	r.optInt32(ev.FLEEncrypted)
	r.optInt32(ev.ClientPort)
	r.optSeconds(ev.TimeToFirstByte)
	r.field(ev.Fields[keymeter.FieldEdgeDetailedResult])
	r.field(ev.Fields[keymeter.FieldContentType])
	r.optInt64(ev.ContentLen)
	r.optInt64(ev.RangeStart)
	r.optInt64(ev.RangeEnd)
	r.keymeter(f, true)
}

func fillRealTime(r *rowBuilder, ev *keymeter.Event, f *Facts) {
	// timestamp: epoch seconds with milliseconds, as logged.
	ms := ev.Time / 1000
	if ev.Time%1000 < 0 {
		ms--
	}
	start := len(r.arena)
	r.arena = strconv.AppendInt(r.arena, ms/1000, 10)
	frac := ms % 1000
	r.arena = append(r.arena, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
	r.set(parquet.ByteArrayValue(r.arena[start:len(r.arena):len(r.arena)]))

	r.field(ev.Fields[keymeter.FieldClientIP])
	r.optSeconds(ev.TimeToFirstByte)
	r.optInt64(int64(ev.Status))
	r.optInt64(ev.BytesSent)
	r.field(ev.Fields[keymeter.FieldMethod])
	r.field(ev.Fields[keymeter.FieldProtocol])
	r.field(ev.Fields[keymeter.FieldViewerHost])
	// cs-uri-stem as real-time logs log it: the path, then the query.
	stem, query := ev.Fields[keymeter.FieldURIStem], ev.Fields[keymeter.FieldQuery]
	if query == nil || len(query) == 1 && query[0] == '-' {
		r.field(stem)
	} else {
		start := len(r.arena)
		if stem == nil {
			stem = dash
		}
		r.arena = append(append(append(r.arena, stem...), '?'), query...)
		r.set(parquet.ByteArrayValue(r.arena[start:len(r.arena):len(r.arena)]))
	}
	r.optInt64(ev.BytesReceived)
	r.field(ev.Fields[keymeter.FieldEdgeLocation])
	r.field(ev.Fields[keymeter.FieldRequestID])
	r.field(ev.Fields[keymeter.FieldDistributionDomain])
	r.optSeconds(ev.TimeTaken)
	r.field(ev.Fields[keymeter.FieldProtocolVersion])
	r.field(ev.Fields[keymeter.FieldClientIPVersion])
	r.field(ev.Fields[keymeter.FieldUserAgent])
	r.field(ev.Fields[keymeter.FieldReferer])
	r.field(ev.Fields[keymeter.FieldCookie])
	r.field(query)
	r.field(ev.Fields[keymeter.FieldEdgeResponseResult])
	r.field(ev.Fields[keymeter.FieldForwardedFor])
	r.field(ev.Fields[keymeter.FieldSSLProtocol])
	r.field(ev.Fields[keymeter.FieldSSLCipher])
	r.field(ev.Fields[keymeter.FieldEdgeResult])
	r.optDecimal(int64(ev.FLEEncrypted))
	r.field(ev.Fields[keymeter.FieldFLEStatus])
	r.field(ev.Fields[keymeter.FieldContentType])
	r.optInt64(ev.ContentLen)
	r.optDecimal(ev.RangeStart)
	r.optDecimal(ev.RangeEnd)
	r.optInt64(int64(ev.ClientPort))
	r.field(ev.Fields[keymeter.FieldEdgeDetailedResult])
	r.field(ev.Fields[keymeter.FieldCountry])
	r.field(ev.Fields[keymeter.FieldAcceptEncoding])
	r.field(ev.Fields[keymeter.FieldAccept])
	r.field(ev.Fields[keymeter.FieldCacheBehaviorPathPattern])
	r.field(ev.Fields[keymeter.FieldHeaders])
	r.field(ev.Fields[keymeter.FieldHeaderNames])
	if n, ok := parseCount(ev.Fields[keymeter.FieldHeadersCount]); ok {
		r.setOpt(parquet.Int64Value(n))
	} else {
		r.null()
	}
	r.field(ev.Fields[keymeter.FieldPrimaryDistributionID])
	r.field(ev.Fields[keymeter.FieldPrimaryDistributionDNSName])
	r.field(ev.Fields[keymeter.FieldOriginFBL])
	r.field(ev.Fields[keymeter.FieldOriginLBL])
	r.field(ev.Fields[keymeter.FieldASN])
	r.field(ev.Fields[keymeter.FieldServerIP])
	r.keymeter(f, true)
}

// parseCount parses a non-negative decimal integer.
func parseCount(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func fillAPIGateway(r *rowBuilder, ev *keymeter.Event, f *Facts) {
	r.timestamp(ev.Time)
	r.field(ev.Fields[keymeter.FieldRequestID])
	r.optField(ev.Fields[keymeter.FieldAPIRequestID])
	r.optField(ev.Fields[keymeter.FieldClientIP])
	// The caller: an API key ID, an identity, or a key's fingerprint.
	var keyID, identity, key string
	switch ns, v, ok := keymeter.IsOriginIdentity(f.Key); {
	case !ok:
		key = f.Key
	case ns == keymeter.IdentityAPIKeyID:
		keyID = v
	case ns == keymeter.IdentityCaller:
		identity = v
	}
	r.optString(keyID)
	r.optString(identity)
	r.optString(key)
	r.optString(f.Customer)
	r.optField(ev.Fields[keymeter.FieldMethod])
	r.optField(ev.Fields[keymeter.FieldURIStem])
	r.optField(ev.Fields[keymeter.FieldResourcePath])
	r.optField(ev.Fields[keymeter.FieldRouteKey])
	r.optField(ev.Fields[keymeter.FieldStage])
	r.optField(ev.Fields[keymeter.FieldAPIID])
	r.optField(ev.Fields[keymeter.FieldViewerHost])
	r.optField(ev.Fields[keymeter.FieldProtocol])
	r.optInt32(ev.Status)
	r.optInt64(ev.BytesSent)
	r.optInt32(ev.TimeTaken)
	r.optField(ev.Fields[keymeter.FieldUserAgent])
	r.keymeter(f, false)
}
