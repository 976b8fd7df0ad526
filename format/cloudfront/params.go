package cloudfront

import "bytes"

// Parameters (name=value pairs) are found in logged values however many
// times they were percent-encoded. CloudFront encodes a client's '%' as
// "%25", so a query the client put inside a path ("/a%3Fk%3Dv") is logged
// "/a%253Fk%253Dv", and a URL the client passed in a parameter
// ("next=%2Fa%3Fk%3Dv") is logged "next=%252Fa%253Fk%253Dv".
//
// The grammar, on the logged bytes, where every character may stand as it
// is or percent-encoded any number of times ("=", "%3D", "%253D",
// "%25253D", ...; the depth of a character is how many times it was
// encoded, 0 when it stands as it is):
//
//   - a name is a run of letters, digits and - . _ ~ before an '=': it
//     starts after any other character (? & ; / , : space, a tab, ...),
//     or at the start. Spaces between a name and its '=' (' ', a '+'
//     standing as it is, or a space encoded any number of times) are not
//     part of the name: "k%20=v" holds k, spaced;
//   - the value after an '=' of depth d runs to the next '&' of depth d
//     or less; to a tab, CR or LF standing as it is or encoded once (what
//     separates the fields of a record and the headers of cs-headers); to
//     a '"' standing as it is (CloudFront encodes quotes, so such a quote
//     is the syntax of a JSON record or a reject reason) unless it is the
//     value's first byte; or to the end. A ';' does not end it (so in a
//     cookie the pairs after a key go with it), and neither does a more
//     deeply encoded '&' or line feed (it is part of the value, as the
//     application reads it).
//
// Every '=' starts a pair, so pairs inside another pair's value are found
// too ("next=/p?k=v" holds next and k).

// Param locates one name=value pair in a logged value: the name is
// v[NameStart:NameEnd], the value v[ValueStart:ValueEnd], both as
// logged, and the '=' between them (after spaces, if Spaced) lies in
// v[NameEnd:ValueStart].
type Param struct {
	NameStart, NameEnd, ValueStart, ValueEnd int
	// Depth is how many times the '=' was percent-encoded: 0 for a literal
	// '=', as in a query string the client sent; 1 or more for a pair
	// inside an encoded path, URL or parameter.
	Depth int
	// After is the character the name starts after, decoded, and
	// AfterDepth its depth; After is 0 when the name starts v.
	After      byte
	AfterDepth int
	// Spaced is set when spaces stand between the name and the '='.
	Spaced bool
}

// InQuery reports whether the pair is a parameter of the query string v
// is: it starts v or follows an '&' (or a ';', which some applications
// take for one), its '=' and that separator stand as they are, as the
// client sent them, and no space stands before the '='. The application
// reads such a pair as a parameter of that name; it reads any other as
// part of a path or of another parameter's value, or under another name.
func (p Param) InQuery() bool {
	return p.Depth == 0 && !p.Spaced && (p.After == 0 || (p.After == '&' || p.After == ';') && p.AfterDepth == 0)
}

// ValueDecodings returns how many times the value must be decoded to read
// it as the application does: once for each encoding of its '=' (at
// least once: CloudFront's own), and once more for the client's encoding
// of the value itself.
func (p Param) ValueDecodings() int {
	return max(p.Depth, 1) + 1
}

// NextParam returns the first pair of v whose '=' is at or after from,
// with its ValueEnd, and false when there is none. To find every pair,
// call it again from the pair's ValueStart (so that pairs inside its
// value are found too) or, having consumed the value, from its ValueEnd;
// a ParamScanner does the same faster. It does not allocate.
func NextParam(v []byte, from int) (Param, bool) {
	var s ParamScanner
	s.Reset(v)
	p, ok := s.Next(from)
	if ok {
		p.ValueEnd = s.ValueEnd(p)
	}
	return p, ok
}

// A ParamScanner finds the pairs of one logged value, in order, jumping
// from one '=' (literal or encoded) to the next: it looks at the bytes
// between them only to find where a name starts. Its zero value is
// ready after Reset; it does not allocate.
type ParamScanner struct {
	v []byte
	// raw is the offset of the next literal '=', enc that of the next
	// encoded one, with its depth and width: len(v) when there is none,
	// and -1 before they are looked for.
	raw, enc           int
	encDepth, encWidth int
	noPct              bool // v has no '%', so nothing encoded
}

// Reset makes s scan v.
func (s *ParamScanner) Reset(v []byte) {
	*s = ParamScanner{v: v, raw: -1, enc: -1, noPct: bytes.IndexByte(v, '%') < 0}
}

// Next returns the first pair whose '=' is at or after from, as
// NextParam does but without its ValueEnd (see ValueEnd). Calls must not
// go backwards: from is 0 or a previous pair's ValueStart or ValueEnd.
func (s *ParamScanner) Next(from int) (Param, bool) {
	v := s.v
	if s.raw < from {
		s.raw = len(v)
		if i := bytes.IndexByte(v[from:], '='); i >= 0 {
			s.raw = from + i
		}
	}
	if s.enc < from {
		if s.noPct {
			s.enc = len(v)
		} else {
			s.enc, s.encDepth, s.encWidth = nextEncodedEq(v, from)
		}
	}
	q, depth, width := s.raw, 0, 1
	if s.enc < q {
		q, depth, width = s.enc, s.encDepth, s.encWidth
	}
	if q >= len(v) {
		return Param{}, false
	}
	// The name ends before the spaces in front of q, and starts after the
	// last byte before them that is neither a name character nor a '%'
	// (which may start an encoded name character) ...
	end := trimSpaces(v, from, q)
	start, pct := end, false
	for start > from && (nameChar[v[start-1]] || v[start-1] == '%') {
		pct = pct || v[start-1] == '%'
		start--
	}
	p := Param{NameStart: start, NameEnd: end, ValueStart: q + width, Depth: depth, Spaced: end < q}
	switch {
	case start > from:
		p.After = v[start-1]
	case from > 0:
		p.After = '=' // from is a ValueStart; a ValueEnd's terminator is v[from]
	}
	// ... or after an encoded character in between that is not one.
	i := end
	if pct {
		i = start + bytes.IndexByte(v[start:end], '%')
	}
	for i < end {
		if v[i] != '%' {
			i++
			continue
		}
		c, d, w := unit(v, i)
		if w == 0 {
			c, d, w = '%', 0, 1
		}
		if !nameChar[c] {
			p.NameStart, p.After, p.AfterDepth = i+w, c, d
		}
		i += w
	}
	return p, true
}

// trimSpaces returns where the spaces that end v[from:end] start: ' ',
// '+' and encoded spaces ("%20", "%2520", ...).
func trimSpaces(v []byte, from, end int) int {
	for end > from {
		switch c := v[end-1]; {
		case c == ' ' || c == '+':
			end--
			continue
		case c == '0' && end-3 >= from && v[end-2] == '2':
			k := end - 3
			for k-1 > from && v[k] == '5' && v[k-1] == '2' {
				k -= 2
			}
			if v[k] == '%' {
				end = k
				continue
			}
		}
		return end
	}
	return end
}

// ValueEnd returns where the value of p, found by s, ends.
func (s *ParamScanner) ValueEnd(p Param) int {
	return valueEnd(s.v, p.ValueStart, p.Depth)
}

// nextEncodedEq finds the first encoded '=' of v at or after from
// ("%3D", "%253D", ...: a '%', any number of "25", then "3D" or "3d"),
// and returns where it starts, its depth and its width; len(v) when there
// is none.
func nextEncodedEq(v []byte, from int) (start, depth, width int) {
	for i := from + 1; i+1 < len(v); i++ {
		j := bytes.IndexByte(v[i:len(v)-1], '3')
		if j < 0 {
			break
		}
		i += j
		if v[i+1] != 'D' && v[i+1] != 'd' {
			continue
		}
		k, d := i-1, 1
		for k > from && v[k] == '5' && v[k-1] == '2' {
			k, d = k-2, d+1
		}
		if k >= from && v[k] == '%' {
			return k, d, i + 2 - k
		}
	}
	return len(v), 0, 0
}

// valueEnd returns where the value that starts at v[start] ends, for an
// '=' of depth d.
func valueEnd(v []byte, start, d int) int {
	for i := start; i < len(v); {
		for i < len(v) && !ends[v[i]] {
			i++
		}
		if i == len(v) {
			break
		}
		c, depth, width := v[i], 0, 1
		if c == '%' {
			if c, depth, width = unit(v, i); width == 0 {
				i++
				continue
			}
		}
		switch c {
		case '\t', '\n', '\r':
			if depth <= 1 {
				return i
			}
		case '&':
			if depth <= d {
				return i
			}
		case '"':
			if depth == 0 && i > start {
				return i
			}
		}
		i += width
	}
	return len(v)
}

// MayHaveParam reports, cheaply, whether v holds a pair: whether it has
// a literal '=' or an encoded one ("%3D", "%253D", ...).
func MayHaveParam(v []byte) bool {
	return bytes.IndexByte(v, '=') >= 0 || hasEncodedEq(v)
}

// hasEncodedEq is kept out of MayHaveParam so that MayHaveParam, and
// its common case, is inlined.
//
//go:noinline
func hasEncodedEq(v []byte) bool {
	start, _, _ := nextEncodedEq(v, 0)
	return start < len(v)
}

// unit decodes the percent-encoded character that starts at v[i] == '%':
// "%HH" is the byte 0xHH at depth 1, "%25HH" the same byte at depth 2,
// "%2525HH" at depth 3, and so on. width is the number of bytes it takes,
// 0 when v[i:] is not an encoded character.
func unit(v []byte, i int) (c byte, depth, width int) {
	if i+2 >= len(v) {
		return 0, 0, 0
	}
	c, ok := unhex2(v[i+1], v[i+2])
	if !ok {
		return 0, 0, 0
	}
	depth, end := 1, i+3
	for c == '%' && end+1 < len(v) {
		next, ok := unhex2(v[end], v[end+1])
		if !ok {
			break
		}
		c, depth, end = next, depth+1, end+2
	}
	return c, depth, end - i
}

// IsParamName reports whether name can be found as a pair's name: one or
// more letters, digits and - . _ ~ (the characters a URL needs not
// encode, and what every parameter name in practice is made of).
func IsParamName(name string) bool {
	for i := 0; i < len(name); i++ {
		if !nameChar[name[i]] {
			return false
		}
	}
	return name != ""
}

// nameChar marks the characters a name is made of.
var nameChar = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
	}
	return t
}()

// ends marks the bytes that can end a value, or start an encoded
// character that does.
var ends = func() (t [256]bool) {
	for _, c := range []byte("&%\"\t\r\n") {
		t[c] = true
	}
	return t
}()

// UnescapeTimes appends v to dst decoded n times, as Unescape decodes
// once; it stops early once nothing is left to decode. It allocates only
// to grow dst, and uses scratch, which it returns, for the steps between.
func UnescapeTimes(dst, scratch, v []byte, n int) (out, scratchOut []byte) {
	start := len(dst)
	dst = append(dst, v...)
	for range n {
		cur := dst[start:]
		if bytes.IndexByte(cur, '%') < 0 {
			break
		}
		scratch = Unescape(scratch[:0], cur)
		if len(scratch) == len(cur) {
			break // nothing decoded
		}
		dst = append(dst[:start], scratch...)
	}
	return dst, scratch
}
