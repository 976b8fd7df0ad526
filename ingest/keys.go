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
	params  [][]byte
	fp      *keymeter.Fingerprinter
	cache   map[string]keymeter.KeyFingerprint
	buf1    []byte
	buf2    []byte
	scratch []byte
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
// CloudFront logged it, and false when it carries none. See redact.
func (k *keyFinder) fromQuery(query []byte) (keymeter.KeyFingerprint, bool) {
	var fp keymeter.KeyFingerprint
	var ok bool
	k.scratch, fp, ok = k.redact(k.scratch[:0], query)
	return fp, ok
}

// keyOf returns the fingerprint of a key parameter's logged value, which
// is decoded twice: once for CloudFront's encoding, once for the
// client's. A '+' stays a '+'.
func (k *keyFinder) keyOf(value []byte) keymeter.KeyFingerprint {
	if bytes.IndexByte(value, '%') < 0 {
		return k.fingerprint(value)
	}
	k.buf1 = cloudfront.Unescape(k.buf1[:0], value)
	k.buf2 = cloudfront.Unescape(k.buf2[:0], k.buf1)
	return k.fingerprint(k.buf2)
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
// by the fingerprint of that value, and returns the fingerprint of the
// key the request is attributed to: the value of the first configured
// parameter present (in order of precedence), if any.
//
// It works on query strings, URLs, cookies and whole tab-separated lines
// alike: every '=' is looked at, a parameter name starts after any of
// "?&;=/, " or a tab, and a key's value runs to the next '&', tab or the
// end. A key's value is never cut at ';', so in a cookie the pairs after
// a key are hidden with it, but no part of a key is ever left visible.
func (k *keyFinder) redact(dst, v []byte) ([]byte, keymeter.KeyFingerprint, bool) {
	var best keymeter.KeyFingerprint
	bestRank := len(k.params)
	if !k.mayContainKey(v) {
		return append(dst, v...), best, false
	}
	for {
		eqAt := bytes.IndexByte(v, '=')
		if eqAt < 0 {
			return append(dst, v...), best, bestRank < len(k.params)
		}
		nameStart := eqAt
		for nameStart > 0 && !nameBoundary[v[nameStart-1]] {
			nameStart--
		}
		valueEnd := eqAt + 1
		for valueEnd < len(v) && v[valueEnd] != '&' && v[valueEnd] != '\t' {
			valueEnd++
		}
		value := v[eqAt+1 : valueEnd]
		r := len(k.params)
		if len(value) > 0 {
			r = k.rank(v[nameStart:eqAt])
		}
		dst = append(dst, v[:eqAt+1]...)
		if r == len(k.params) {
			v = v[eqAt+1:]
			continue
		}
		fp := k.keyOf(value)
		if r < bestRank {
			best, bestRank = fp, r
		}
		dst = append(dst, fp.Fingerprint...)
		v = v[valueEnd:]
	}
}

// nameBoundary marks the bytes a parameter name can follow.
var nameBoundary = func() (t [256]bool) {
	for _, c := range []byte("?&;=/, \t") {
		t[c] = true
	}
	return t
}()

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
