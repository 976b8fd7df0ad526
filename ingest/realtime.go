package ingest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"

	"github.com/zeebo/xxh3"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/format/apigateway"
	"github.com/keymeter/keymeter/format/cloudfrontrt"
)

// Real-time records log request headers (cs-headers), so the API key is
// looked for in the key header first, then in the query string. Either
// way, the key never reaches the store: the key header's value is
// replaced by the key's fingerprint, key parameters in other headers
// (a cookie, a referer; a header list's "%0A" ends a value as a tab
// does) by theirs, and a key header that cannot be read whole
// (CloudFront's 800-byte cut left only its start) by "redacted".

// redactedValue replaces a key header's value that cannot be
// fingerprinted: cut short, empty, or a repeat of the header.
var redactedValue = []byte("redacted")

// headerBufs are an encoder's buffers for the header fields.
type headerBufs struct {
	value    []byte // the key header's value, decoded
	repl     []byte // what replaces it
	redacted []byte // cs-headers with the key header hidden
	params   []byte // ... and key parameters in other headers too
	reject   []byte
}

// redactHeaders attributes ev from the key header, as
// cloudfrontrt.FindHeader sees it, and replaces ev's cs-headers by a copy
// with the key header's value and the key parameters of other headers
// hidden. The fingerprint is valid when the state is HeaderPresent.
func (e *encoder) redactHeaders(ev *keymeter.Event) (keymeter.KeyFingerprint, cloudfrontrt.HeaderState) {
	var fp keymeter.KeyFingerprint
	var state cloudfrontrt.HeaderState
	e.hdr.value, state = cloudfrontrt.FindHeader(e.hdr.value[:0], ev, e.keyHeader)
	headers := ev.Fields[keymeter.FieldHeaders]
	if len(headers) == 0 {
		return fp, state
	}
	repl := redactedValue
	if state == cloudfrontrt.HeaderPresent {
		fp = e.keys.fingerprint(e.hdr.value)
		e.hdr.repl = append(e.hdr.repl[:0], fp.Fingerprint...)
		repl = e.hdr.repl
	}
	// When the header seems absent, it may still be there with an empty
	// value, and then again with a key: unless cs-header-names says it
	// was not sent at all, look.
	if names := ev.Fields[keymeter.FieldHeaderNames]; state != cloudfrontrt.HeaderAbsent || len(names) <= 1 ||
		cloudfrontrt.HeaderListed(names, e.keyHeader) {
		e.hdr.redacted = cloudfrontrt.RedactHeader(e.hdr.redacted[:0], headers, e.keyHeader, repl)
		headers = e.hdr.redacted
	}
	if e.keys.mayContainKey(headers) {
		headers, _, _ = e.keys.redactField(&e.hdr.params, headers)
	}
	ev.Fields[keymeter.FieldHeaders] = headers
	return fp, state
}

// redactText returns the reason or the field name of a reject with every
// key in it hidden, as redactRecord hides them in its text: a reason
// quotes the value it rejects, and a layout that does not fit the
// records (a wrong --fields of the right length) can put any field,
// a query with its key, where a number was expected.
func (e *encoder) redactText(s string) string {
	if s == "" {
		return s
	}
	return string(e.redactRecord(nil, []byte(s)))
}

// redactRecord appends a record as read (a rejected one) to dst with
// every key in it hidden, wherever the record's fields are: key
// parameters, the key header of real-time logs, and the JSON members of
// API Gateway records that carry the key itself ($context.identity.apiKey).
func (e *encoder) redactRecord(dst, record []byte) []byte {
	if e.apiKeyNames != nil {
		// Rejects are rare: this allocates.
		record = apigateway.RedactMembers(nil, record, e.apiKeyNames, func(dst, key []byte) []byte {
			return append(dst, e.keys.fingerprint(key).Fingerprint...)
		})
	}
	if e.keyHeader != "" {
		repl := redactedValue
		if v, ok := cloudfrontrt.AppendRecordHeaderValue(e.hdr.value[:0], record, e.keyHeader); ok {
			e.hdr.value = v
			repl = []byte(e.keys.fingerprint(v).Fingerprint)
		}
		e.hdr.reject = cloudfrontrt.RedactHeader(e.hdr.reject[:0], record, e.keyHeader, repl)
		record = e.hdr.reject
	}
	out, _, _ := e.keys.redact(dst, record)
	return out
}

// recordIDSeed derives the seed of record hashes from the secret.
func recordIDSeed(secret []byte) uint64 {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("keymeter record id"))
	return binary.BigEndian.Uint64(mac.Sum(nil))
}

// rowID returns a row's identity: the 128-bit hash of its request ID or,
// for a record logged without x-edge-request-id (a real-time log
// configuration may leave it out), of the whole record as logged (without
// its line end), seeded with a value derived from the secret so that the
// hash of a record holding a key tells nothing about the key. Redelivered
// records are byte for byte the same, so they still dedupe; two requests
// that differ in nothing logged count once.
func (e *encoder) rowID(ev *keymeter.Event, record []byte) [2]uint64 {
	id := ev.Fields[keymeter.FieldRequestID]
	if id != nil || record == nil {
		h := xxh3.Hash128(id)
		return [2]uint64{h.Hi, h.Lo}
	}
	for n := len(record); n > 0 && (record[n-1] == '\n' || record[n-1] == '\r'); n-- {
		record = record[:n-1]
	}
	h := xxh3.Hash128Seed(record, e.idSeed)
	return [2]uint64{h.Hi, h.Lo}
}
