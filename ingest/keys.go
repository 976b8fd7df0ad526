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
	fp     *keymeter.Fingerprinter
	cache  map[string]keymeter.KeyFingerprint
	buf1   []byte
	buf2   []byte
}

// maxCachedKeys bounds the fingerprint cache; it is cleared when full.
const maxCachedKeys = 1 << 16

func newKeyFinder(params []string, secret []byte) *keyFinder {
	k := &keyFinder{fp: keymeter.NewFingerprinter(secret), cache: make(map[string]keymeter.KeyFingerprint)}
	for _, p := range params {
		k.params = append(k.params, []byte(p))
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

// fromQuery returns the fingerprint of the API key in a query string as
// CloudFront logged it, and false when it carries none. The key is the
// value of the first configured parameter present, decoded twice: once
// for CloudFront's encoding, once for the client's. A '+' stays a '+'.
func (k *keyFinder) fromQuery(query []byte) (keymeter.KeyFingerprint, bool) {
	best, bestRank := []byte(nil), len(k.params)
	forEachParam(query, '&', func(name, value []byte) {
		if r := k.rank(name); r < bestRank && len(value) > 0 {
			best, bestRank = value, r
		}
	})
	if best == nil {
		return keymeter.KeyFingerprint{}, false
	}
	k.buf1 = cloudfront.Unescape(k.buf1[:0], best)
	k.buf2 = cloudfront.Unescape(k.buf2[:0], k.buf1)
	if len(k.buf2) == 0 {
		return keymeter.KeyFingerprint{}, false
	}
	return k.fingerprint(k.buf2), true
}

// rank returns the precedence of a parameter name, or len(params) when
// it is not a key parameter.
func (k *keyFinder) rank(name []byte) int {
	for i, p := range k.params {
		if bytes.Equal(name, p) {
			return i
		}
	}
	if bytes.IndexByte(name, '%') >= 0 { // an encoded name: rare
		k.buf1 = cloudfront.Unescape(k.buf1[:0], name)
		k.buf2 = cloudfront.Unescape(k.buf2[:0], k.buf1)
		decoded := bytes.TrimSpace(k.buf2)
		for i, p := range k.params {
			if bytes.Equal(decoded, p) {
				return i
			}
		}
	}
	return len(k.params)
}

// redact appends v to dst with the value of every key parameter replaced
// by the fingerprint of that value. It works on query strings, URLs,
// cookies and whole tab-separated lines alike: every '=' is looked at, a
// parameter name starts after any of "?&;=/, \t", and a key's value runs
// to the next '&', tab or the end. A key's value is never cut at ';', so
// in a cookie the pairs after a key are hidden with it, but no part of a
// key is ever left visible.
func (k *keyFinder) redact(dst, v []byte) []byte {
	if !k.mayContainKey(v) {
		return append(dst, v...)
	}
	for {
		eqAt := bytes.IndexByte(v, '=')
		if eqAt < 0 {
			return append(dst, v...)
		}
		nameStart := bytes.LastIndexAny(v[:eqAt], "?&;=/, \t") + 1
		valueEnd := bytes.IndexAny(v[eqAt+1:], "&\t")
		if valueEnd < 0 {
			valueEnd = len(v)
		} else {
			valueEnd += eqAt + 1
		}
		value := v[eqAt+1 : valueEnd]
		if len(value) == 0 || k.rank(v[nameStart:eqAt]) == len(k.params) {
			dst = append(dst, v[:eqAt+1]...)
			v = v[eqAt+1:]
			continue
		}
		dst = append(dst, v[:eqAt+1]...)
		k.buf1 = cloudfront.Unescape(k.buf1[:0], value)
		k.buf2 = cloudfront.Unescape(k.buf2[:0], k.buf1)
		dst = append(dst, k.fingerprint(k.buf2).Fingerprint...)
		v = v[valueEnd:]
	}
}

// mayContainKey reports whether v could hold a key parameter, cheaply.
func (k *keyFinder) mayContainKey(v []byte) bool {
	if bytes.IndexByte(v, '=') < 0 {
		return false
	}
	if bytes.IndexByte(v, '%') >= 0 {
		return true
	}
	for _, p := range k.params {
		if bytes.Contains(v, p) {
			return true
		}
	}
	return false
}

var eq = []byte{'='}

// forEachParam calls fn with the name and value of each sep-separated
// name=value pair of a query string, as logged.
func forEachParam(q []byte, sep byte, fn func(name, value []byte)) {
	for len(q) > 0 {
		pair := q
		if i := bytes.IndexByte(q, sep); i >= 0 {
			pair, q = q[:i], q[i+1:]
		} else {
			q = nil
		}
		if name, value, ok := bytes.Cut(pair, eq); ok {
			fn(name, value)
		}
	}
}
