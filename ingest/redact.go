package ingest

import (
	"bytes"
	"slices"
	"strings"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/format/apigateway"
)

// apiKeyNames returns the JSON key names that can carry an API key in an
// access log record: the configured and the default candidates for
// Mapping.APIKey, each in full and as its last dotted element (a nested
// {"identity":{"apiKey":...}} is found by its inner name).
func apiKeyNames(a *APIGateway) [][]byte {
	var names [][]byte
	add := func(n string) {
		if n != "" && !slices.ContainsFunc(names, func(b []byte) bool { return string(b) == n }) {
			names = append(names, []byte(n))
		}
	}
	keys := apigateway.DefaultMapping().APIKey
	if a.Mapping != nil {
		keys = append(slices.Clip(a.Mapping.APIKey), keys...)
	}
	for _, k := range keys {
		add(k)
		if i := strings.LastIndexByte(k, '.'); i >= 0 {
			add(k[i+1:])
		}
	}
	return names
}

// redactJSONKeys appends rec to dst with the value of every member named
// one of names replaced by the fingerprint of that value. It does not
// need rec to be valid JSON (rejected records often are not): it looks
// for every quoted name followed by a colon, and takes the value to the
// next quote for a quoted value, or to the next ',', '}' or blank
// otherwise (to the end of the record when there is none). Values that
// overlap (a quote inside a value can make a name seem to start inside
// another's value) are hidden together. Empty values, "-" and null are
// kept.
func redactJSONKeys(dst, rec []byte, names [][]byte, fingerprint func([]byte) keymeter.KeyFingerprint) []byte {
	type span struct{ start, end int }
	var spans []span
	for q := 0; q < len(rec); q++ {
		if rec[q] != '"' {
			continue
		}
		for _, n := range names {
			i := q + 1 + len(n)
			if i >= len(rec) || rec[i] != '"' || !bytes.Equal(rec[q+1:i], n) {
				continue
			}
			j := skipBlank(rec, i+1)
			if j >= len(rec) || rec[j] != ':' {
				continue
			}
			j = skipBlank(rec, j+1)
			start, end := j, j
			if j < len(rec) && rec[j] == '"' {
				start, end = j+1, j+1
				for end < len(rec) && rec[end] != '"' {
					if rec[end] == '\\' && end+1 < len(rec) {
						end++
					}
					end++
				}
				end = min(end, len(rec))
			} else {
				for end < len(rec) && strings.IndexByte(",} \t\r\n", rec[end]) < 0 {
					end++
				}
			}
			v := rec[start:end]
			if len(v) > 0 && string(v) != "-" && !(start == j && string(v) == "null") {
				spans = append(spans, span{start, end})
			}
			break
		}
	}
	at := 0
	for i := 0; i < len(spans); i++ {
		s := spans[i]
		for i+1 < len(spans) && spans[i+1].start < s.end {
			i++
			s.end = max(s.end, spans[i].end)
		}
		dst = append(dst, rec[at:s.start]...)
		dst = append(dst, fingerprint(rec[s.start:s.end]).Fingerprint...)
		at = s.end
	}
	return append(dst, rec[at:]...)
}

func skipBlank(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}
