package ingest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"strings"

	"github.com/zeebo/xxh3"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/format/cloudfrontrt"
)

// Real-time records log request headers (cs-headers), so the API key is
// looked for in the key header first, then in the query string. Either
// way, the key never reaches the store: the key header's value is
// replaced by the key's fingerprint, key parameters in other headers
// (a cookie, a referer) by theirs, and a key header that cannot be read
// whole (CloudFront's 800-byte cut left only its start) by "redacted".

// redactedValue replaces a key header's value that cannot be
// fingerprinted: cut short, empty, or a repeat of the header.
var redactedValue = []byte("redacted")

// headerBufs are an encoder's buffers for the header fields.
type headerBufs struct {
	value    []byte // the key header's value, decoded
	repl     []byte // what replaces it
	redacted []byte // cs-headers with the key header hidden
	params   []byte // ... and key parameters in other headers too
	reject   [2][]byte
}

// checkHeaderName returns an EINVALID error unless name can be an HTTP
// header name.
func checkHeaderName(name string) error {
	if name == "" || strings.ContainsAny(name, ":%\t\r\n ()<>@,;\\\"/[]?={}") {
		return keymeter.Errorf(keymeter.EINVALID, "%q is not an HTTP header name (want e.g. x-api-key)", name)
	}
	return nil
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
	if e.keys.mayHaveHeaderParams(headers) {
		e.hdr.params = e.keys.redactHeaderParams(e.hdr.params[:0], headers)
		headers = e.hdr.params
	}
	ev.Fields[keymeter.FieldHeaders] = headers
	return fp, state
}

// redactRecord appends a record as read (a rejected one) to dst with
// every key in it hidden, wherever the record's fields are: key
// parameters, the key header of real-time logs, and the JSON members of
// API Gateway records that carry the key itself ($context.identity.apiKey).
func (e *encoder) redactRecord(dst, record []byte) []byte {
	if e.apiKeyNames != nil {
		// Rejects are rare: this allocates.
		record = redactJSONKeys(nil, record, e.apiKeyNames, e.keys.fingerprint)
	}
	if e.keyHeader != "" {
		repl := redactedValue
		for rest := record; len(rest) > 0; {
			field := rest
			if i := bytes.IndexByte(rest, '\t'); i >= 0 {
				field, rest = rest[:i], rest[i+1:]
			} else {
				rest = nil
			}
			if v, ok := cloudfrontrt.AppendHeaderValue(e.hdr.value[:0], field, e.keyHeader); ok && len(v) > 0 {
				e.hdr.value = v
				repl = []byte(e.keys.fingerprint(v).Fingerprint)
				break
			}
		}
		e.hdr.reject[0] = cloudfrontrt.RedactHeader(e.hdr.reject[0][:0], record, e.keyHeader, repl)
		e.hdr.reject[1] = e.keys.redactHeaderParams(e.hdr.reject[1][:0], e.hdr.reject[0])
		record = e.hdr.reject[1]
	}
	out, _, _ := e.keys.redact(dst, record)
	return out
}

// mayHaveHeaderParams reports, cheaply, whether a header list could hold
// a key parameter: whether the name before some '=' (back to a ':' or
// any character redact takes to start a name) is a key parameter, or
// could be one once decoded.
func (k *keyFinder) mayHaveHeaderParams(list []byte) bool {
	for i := 0; ; {
		j := bytes.IndexByte(list[i:], '=')
		if j < 0 {
			return false
		}
		j += i
		start := j
		for start > i && !nameBoundary[list[start-1]] && list[start-1] != ':' {
			start--
		}
		name := list[start:j]
		if bytes.IndexByte(name, '%') >= 0 {
			return true
		}
		for _, p := range k.params {
			if bytes.Equal(name, p) {
				return true
			}
		}
		i = j + 1
	}
}

// redactHeaderParams appends a header list (cs-headers: "name:value"
// entries each ended by "%0A"; a tab ends one too, so that whole records
// work) to dst with every key parameter in a header's value replaced by
// its fingerprint, as redact does in a query string: keys in a cookie or
// a referer URL.
func (k *keyFinder) redactHeaderParams(dst, list []byte) []byte {
	for len(list) > 0 {
		end, next := entryEnd(list)
		entry := list[:end]
		if c := bytes.IndexByte(entry, ':'); c >= 0 && k.mayContainKey(entry[c+1:]) {
			dst = append(dst, entry[:c+1]...)
			dst, _, _ = k.redact(dst, entry[c+1:])
		} else {
			dst = append(dst, entry...)
		}
		dst = append(dst, list[end:next]...)
		list = list[next:]
	}
	return dst
}

// entryEnd returns where the first entry of a header list ends, at
// "%0A" (or "%0a") or a tab, and where the next one starts.
func entryEnd(list []byte) (end, next int) {
	tab := bytes.IndexByte(list, '\t')
	if tab < 0 {
		tab = len(list)
	}
	for i := 0; i < tab; {
		j := bytes.IndexByte(list[i:tab], '%')
		if j < 0 {
			break
		}
		j += i
		if j+2 < len(list) && list[j+1] == '0' && (list[j+2] == 'A' || list[j+2] == 'a') {
			return j, j + 3
		}
		i = j + 1
	}
	if tab < len(list) {
		return tab, tab + 1
	}
	return len(list), len(list)
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
