package ingest

import (
	"bytes"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/format/cloudfront"
)

// DefaultKeyParams are the query-string parameters that carry an API key
// unless configured otherwise, in order of precedence.
var DefaultKeyParams = []string{"cf_api_key", "api_key", "apikey"}

// keyFinder finds API keys in logged query strings and hides them. It
// keeps fingerprints of the keys it has seen in memory only: raw keys
// never leave it.
type keyFinder struct {
	params [][]byte
	// first marks the bytes a key parameter's name can start with as
	// logged: their first letters, in either case, and '%'.
	first [256]bool
	fp    *keymeter.Fingerprinter
	cache map[string]keymeter.KeyFingerprint
	buf1  []byte
	buf2  []byte
}

// maxCachedKeys bounds the fingerprint cache; it is cleared when full.
const maxCachedKeys = 1 << 16

func newKeyFinder(params []string, secret []byte) *keyFinder {
	k := &keyFinder{fp: keymeter.NewFingerprinter(secret), cache: make(map[string]keymeter.KeyFingerprint)}
	k.first['%'] = true
	for _, p := range params {
		k.params = append(k.params, []byte(p))
		if p != "" {
			c := p[0]
			k.first[c] = true
			if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' {
				k.first[c^0x20] = true
			}
		}
	}
	return k
}

// fingerprint returns the fingerprint of a raw key.
func (k *keyFinder) fingerprint(key []byte) keymeter.KeyFingerprint {
	if f, ok := k.cache[string(key)]; ok {
		return f
	}
	f := k.fp.Fingerprint(key)
	if len(k.cache) >= maxCachedKeys {
		clear(k.cache)
	}
	k.cache[string(key)] = f
	return f
}

// keyOf returns the fingerprint of a key parameter's logged value,
// decoded as many times as p says the application decodes it (twice for
// a query parameter: once for CloudFront's encoding, once for the
// client's). A '+' stays a '+'.
func (k *keyFinder) keyOf(value []byte, p cloudfront.Param) keymeter.KeyFingerprint {
	if bytes.IndexByte(value, '%') < 0 {
		return k.fingerprint(value)
	}
	k.buf1, k.buf2 = cloudfront.UnescapeTimes(k.buf1[:0], k.buf2, value, p.ValueDecodings())
	return k.fingerprint(k.buf1)
}

// maxNameDecodings bounds how many times a parameter's name is decoded
// to compare it with the key parameters.
const maxNameDecodings = 4

// rank returns the precedence of a parameter name, or -1 when it is not a
// key parameter: the position of the configured name it equals, or,
// after all of them, of the one it equals but for ASCII letter case. The
// name is compared decoded (an encoded "api%5Fkey" is api_key) and
// without surrounding spaces.
func (k *keyFinder) rank(name []byte) int {
	if len(name) == 0 || !k.first[name[0]] {
		return -1 // most names, quickly
	}
	if bytes.IndexByte(name, '%') >= 0 { // rare
		k.buf1, k.buf2 = cloudfront.UnescapeTimes(k.buf1[:0], k.buf2, name, maxNameDecodings)
		name = bytes.TrimSpace(k.buf1)
	}
	for i, p := range k.params {
		if bytes.Equal(name, p) {
			return i
		}
	}
	for i, p := range k.params {
		if len(name) == len(p) && bytes.EqualFold(name, p) {
			return len(k.params) + i
		}
	}
	return -1
}

// redact appends v to dst with the value of every key parameter replaced
// by the fingerprint of that value, and returns the fingerprint of the
// key the request is attributed to, if v is its query string.
//
// It works on query strings, URLs, cookies, header lists and whole
// tab-separated lines alike, and finds key parameters however many times
// they were percent-encoded (cloudfront.NextParam gives the grammar): a
// key in a query inside the path ("/a%3Fapi_key%3DKEY"), in a URL passed
// as a parameter ("next=%252Fa%253Fapi_key%253DKEY"), or named in
// another letter case ("API_KEY=KEY"). A key's value is never cut at
// ';', so in a cookie the pairs after a key are hidden with it, but no
// part of a key is ever left visible.
//
// The key returned is the one the application reads from the query
// string: a key parameter at its start or after an '&' (or ';'), with its
// '=' and that separator sent as they are (cloudfront.Param.InQuery; any other belongs to a
// path or to another parameter's value). Of those, the first one named
// exactly as configured wins, in the configured order; then the first one
// named so but for letter case, in the configured order.
func (k *keyFinder) redact(dst, v []byte) ([]byte, keymeter.KeyFingerprint, bool) {
	if !k.mayContainKey(v) {
		return append(dst, v...), keymeter.KeyFingerprint{}, false
	}
	out, hidden, fp, ok := k.hide(dst, v)
	if !hidden {
		out = append(dst, v...)
	}
	return out, fp, ok
}

// redactField is redact for a field of an event that mayContainKey
// said may hold one: it returns v itself when v holds no key, and else
// *buf, reset and filled with v redacted.
func (k *keyFinder) redactField(buf *[]byte, v []byte) ([]byte, keymeter.KeyFingerprint, bool) {
	out, hidden, fp, ok := k.hide((*buf)[:0], v)
	if !hidden {
		return v, fp, ok
	}
	*buf = out
	return out, fp, ok
}

// hide does the work of redact, but appends to dst only when v holds a
// key: hidden says whether it did.
func (k *keyFinder) hide(dst, v []byte) (out []byte, hidden bool, best keymeter.KeyFingerprint, found bool) {
	bestRank := -1
	var sc cloudfront.ParamScanner
	sc.Reset(v)
	at := 0 // v[:at] is in dst
	for from := 0; ; {
		p, ok := sc.Next(from)
		if !ok {
			break
		}
		r := k.rank(v[p.NameStart:p.NameEnd])
		if r >= 0 {
			p.ValueEnd = sc.ValueEnd(p)
		}
		if r < 0 || p.ValueEnd == p.ValueStart {
			from = p.ValueStart
			continue
		}
		fp := k.keyOf(v[p.ValueStart:p.ValueEnd], p)
		if p.InQuery() && (bestRank < 0 || r < bestRank) {
			best, bestRank = fp, r
		}
		dst = append(dst, v[at:p.ValueStart]...)
		dst = append(dst, fp.Fingerprint...)
		at, from, hidden = p.ValueEnd, p.ValueEnd, true
	}
	if hidden {
		dst = append(dst, v[at:]...)
	}
	return dst, hidden, best, bestRank >= 0
}

// mayContainKey reports whether v could hold a key parameter, cheaply.
func (k *keyFinder) mayContainKey(v []byte) bool {
	return cloudfront.MayHaveParam(v)
}
