package ingest

import (
	"bytes"

	"github.com/zeebo/xxh3"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/format/apigateway"
	"github.com/keymeter/keymeter/format/cloudfront"
	"github.com/keymeter/keymeter/format/cloudfrontrt"
)

// encoder turns parsed events into batch rows: it attributes each event
// to a key, hides the key, and replaces repeated strings by dictionary
// IDs. Each worker goroutine has its own.
type encoder struct {
	source keymeter.Source
	layout keymeter.Layout
	keys   *keyFinder
	origin originIDs // API Gateway identities, see attributeOrigin
	// keyHeader is the request header that carries the key, for formats
	// whose records log headers; "" otherwise.
	keyHeader string
	idSeed    uint64
	hdr       headerBufs
	// apiKeyNames are the JSON names that can carry a raw API key in
	// API Gateway records, for redacting rejected ones
	// (apigateway.KeyMemberNames).
	apiKeyNames [][]byte
	// sent remembers the dictionary entries and key fingerprints already
	// put into a batch, so that each is handed to the store about once.
	sent     map[uint64]struct{}
	scratch  []byte
	redacted [len(redactable)][]byte
	clean    cleanValues // values of the repeating redactable fields without keys
}

// cleanValues remembers values known to hold no key parameter, so that
// a value that repeats (a user agent, an Accept header) is looked
// through about once. It is a direct-mapped cache of fixed size: a value
// is only ever taken for clean when equal, byte for byte, to one that was.
type cleanValues struct {
	slots [64]struct {
		n int
		b [256]byte
	}
}

func (c *cleanValues) slot(v []byte) int {
	return (len(v)*31 + int(v[len(v)/2])*7 + int(v[len(v)-1])) & (len(c.slots) - 1)
}

// has reports whether v is known to be clean; v must not be empty.
func (c *cleanValues) has(v []byte) bool {
	s := &c.slots[c.slot(v)]
	return s.n == len(v) && bytes.Equal(s.b[:s.n], v)
}

// add remembers that v, which must not be empty, is clean.
func (c *cleanValues) add(v []byte) {
	if len(v) <= len(c.slots[0].b) {
		s := &c.slots[c.slot(v)]
		s.n = copy(s.b[:], v)
	}
}

// maxSent bounds the memory of encoder.sent; it is cleared when full,
// which only costs a few repeated dictionary entries.
const maxSent = 1 << 20

// redactable lists the fields a client controls that can carry a key
// parameter: the query, the path (and API Gateway's path), and the
// headers logged on their own. cs-headers is redacted with the key
// header (redactHeaders); header names cannot hold an '='.
var redactable = [...]keymeter.Field{
	keymeter.FieldQuery, keymeter.FieldURIStem, keymeter.FieldReferer, keymeter.FieldCookie,
	keymeter.FieldUserAgent, keymeter.FieldForwardedFor, keymeter.FieldAccept, keymeter.FieldAcceptEncoding,
}

// repeats marks the redactable fields whose values repeat from request
// to request (they go to dictionaries), for encoder.clean.
var repeats = func() (r [len(redactable)]bool) {
	for i, f := range redactable {
		r[i] = f == keymeter.FieldUserAgent || f == keymeter.FieldAccept || f == keymeter.FieldAcceptEncoding
	}
	return r
}()

// newEncoder returns an encoder for the format asked for.
func (in *Ingester) newEncoder(keys *keyFinder) *encoder {
	return in.newEncoderFor(keys, in.format)
}

// newEncoderFor returns an encoder of events of format f.
func (in *Ingester) newEncoderFor(keys *keyFinder, f Format) *encoder {
	e := &encoder{
		source: f.Source,
		layout: keymeter.LayoutOf(f.Source),
		keys:   keys,
		idSeed: in.idSeed,
		sent:   make(map[uint64]struct{}),
	}
	if f.HeaderKeys {
		e.keyHeader = in.cfg.KeyHeader
	}
	if e.source == keymeter.SourceAPIGateway {
		e.apiKeyNames = apigateway.KeyMemberNames(in.cfg.APIGateway.Mapping)
	}
	return e
}

// encode appends ev, parsed from record, to b and returns how it was
// attributed. ev's fields that can carry a key are redacted in place of
// the originals.
func (e *encoder) encode(ev *keymeter.Event, record []byte, b *keymeter.Batch) keymeter.Attribution {
	row := keymeter.Row{
		Time:       ev.Time,
		Status:     ev.Status,
		BytesSent:  ev.BytesSent,
		BytesRecv:  ev.BytesReceived,
		TimeTaken:  ev.TimeTaken,
		TTFB:       ev.TimeToFirstByte,
		ClientPort: ev.ClientPort,
		FLEEncrypt: ev.FLEEncrypted,
		ContentLen: ev.ContentLen,
		RangeStart: ev.RangeStart,
		RangeEnd:   ev.RangeEnd,
	}
	row.ID = e.rowID(ev, record)

	fp, ok := e.redactFields(ev)
	switch {
	case e.source == keymeter.SourceAPIGateway:
		fp, ok = e.attributeOrigin(ev, fp, ok)
		if !ok {
			row.Attribution = keymeter.NoKey
		}
	case e.keyHeader != "":
		hfp, state := e.redactHeaders(ev)
		switch {
		case state == cloudfrontrt.HeaderPresent:
			fp, ok = hfp, true
		case !ok:
			row.Attribution = state.Attribution()
		}
	case !ok:
		row.Attribution = keymeter.NoKey
	}
	if ok {
		row.KeyID = fp.ID
		if e.markSent(fp.ID ^ keyTag) {
			b.Keys = append(b.Keys, fp)
		}
	}

	row.Dims = e.tuple(b, keymeter.DictDims, e.layout.Dims, ev)
	row.Client = e.tuple(b, keymeter.DictClient, e.layout.Client, ev)
	row.Path = e.path(b, ev.Fields[e.layout.Path])

	for i, f := range e.layout.Rest {
		if i > 0 {
			b.Rest = append(b.Rest, '\t')
		}
		b.Rest = appendField(b.Rest, ev.Fields[f])
	}
	row.RestEnd = uint32(len(b.Rest))
	b.Rows = append(b.Rows, row)
	return row.Attribution
}

// keyTag keeps key IDs and dictionary IDs apart in encoder.sent.
const keyTag = 0x9e3779b97f4a7c15

// redactFields replaces the fields of ev that may carry an API key by
// copies with every key replaced by its fingerprint, and returns the key
// found in the query string, which the request is attributed to. Keys
// anywhere else (a query encoded inside the path, a referer, a cookie)
// are hidden but are not the request's.
func (e *encoder) redactFields(ev *keymeter.Event) (keymeter.KeyFingerprint, bool) {
	var key keymeter.KeyFingerprint
	var found bool
	for i, f := range redactable {
		v := ev.Fields[f]
		if len(v) < len("k=v") || repeats[i] && e.clean.has(v) {
			continue
		}
		if !e.keys.mayContainKey(v) {
			if repeats[i] {
				e.clean.add(v)
			}
			continue
		}
		var fp keymeter.KeyFingerprint
		var ok bool
		ev.Fields[f], fp, ok = e.keys.redactField(&e.redacted[i], v)
		if ok && f == keymeter.FieldQuery {
			key, found = fp, true
		}
	}
	return key, found
}

// markSent records id and reports whether it was new.
func (e *encoder) markSent(id uint64) bool {
	if _, ok := e.sent[id]; ok {
		return false
	}
	if len(e.sent) >= maxSent {
		clear(e.sent)
	}
	e.sent[id] = struct{}{}
	return true
}

// tuple returns the dictionary ID of the values of fields in ev, adding
// the entry to b when it is new.
func (e *encoder) tuple(b *keymeter.Batch, kind keymeter.DictKind, fields []keymeter.Field, ev *keymeter.Event) uint64 {
	s := append(e.scratch[:0], byte(kind), byte(e.source))
	for _, f := range fields {
		s = append(s, '\t')
		s = appendField(s, ev.Fields[f])
	}
	e.scratch = s
	id := xxh3.Hash(s)
	if e.markSent(id) {
		values := make([]string, len(fields))
		for i, f := range fields {
			values[i] = string(appendField(nil, ev.Fields[f]))
		}
		b.Dict = append(b.Dict, keymeter.DictEntry{Kind: kind, Source: e.source, ID: id, Values: values})
	}
	return id
}

// path returns the dictionary ID of a request path as logged.
func (e *encoder) path(b *keymeter.Batch, v []byte) uint64 {
	s := append(e.scratch[:0], byte(keymeter.DictPath), byte(e.source), '\t')
	s = appendField(s, v)
	e.scratch = s
	id := xxh3.Hash(s)
	if e.markSent(id) {
		raw := string(appendField(nil, v))
		b.Dict = append(b.Dict, keymeter.DictEntry{
			Kind: keymeter.DictPath, Source: e.source, ID: id,
			Values: []string{raw, string(cloudfront.Unescape(nil, v))},
		})
	}
	return id
}

// appendField appends a raw field value, writing "-" for an absent one.
func appendField(dst, v []byte) []byte {
	if v == nil {
		return append(dst, '-')
	}
	return append(dst, v...)
}
