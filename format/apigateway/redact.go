package apigateway

import (
	"bytes"
	"slices"
	"strings"
)

// A record that cannot be parsed is kept as a reject, as it was logged,
// and may still carry the API key itself ($context.identity.apiKey). Its
// JSON is often broken (a quote in a user agent), so the key is found by
// the members that can hold it, not by parsing.

// KeyMemberNames returns the names of the JSON members that can carry
// the raw API key in a record read with m (nil: DefaultMapping): m's
// APIKey candidates, then DefaultMapping's, each in full and as its last
// dotted element (a nested {"identity":{"apiKey":...}} is found by its
// inner name). They are what RedactMembers looks for.
func KeyMemberNames(m *Mapping) [][]byte {
	var names [][]byte
	add := func(n string) {
		if n != "" && !slices.ContainsFunc(names, func(b []byte) bool { return string(b) == n }) {
			names = append(names, []byte(n))
		}
	}
	keys := DefaultMapping().APIKey
	if m != nil {
		keys = append(slices.Clip(m.APIKey), keys...)
	}
	for _, k := range keys {
		add(k)
		if i := strings.LastIndexByte(k, '.'); i >= 0 {
			add(k[i+1:])
		}
	}
	return names
}

// RedactMembers appends rec to dst with the value of every member named
// one of names replaced by what replace appends for that value (the
// key's fingerprint), and returns the extended buffer. It does not need
// rec to be valid JSON (rejected records often are not): it looks for
// every quoted name followed by a colon, and takes the value to the next
// quote for a quoted value, or to the next ',', '}' or blank otherwise
// (to the end of the record when there is none). Values that overlap (a
// quote inside a value can make a name seem to start inside another's
// value) are replaced together. Empty values, "-" and null are kept.
// It allocates, and is meant for rejects, which are rare.
func RedactMembers(dst, rec []byte, names [][]byte, replace func(dst, value []byte) []byte) []byte {
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
		dst = replace(dst, rec[s.start:s.end])
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
