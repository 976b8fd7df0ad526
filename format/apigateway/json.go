package apigateway

import (
	"bytes"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/keymeter/keymeter"
)

// maxDepth bounds the nesting of objects and arrays in a record.
const maxDepth = 32

// parseJSON scans a record that must be exactly one JSON object,
// validating all of it and recording the values of mapped keys.
//
// One deliberate departure from JSON: a bare "-" is accepted as a value.
// It is what API Gateway writes for an unset variable placed unquoted in
// the template ("integrationLatency":$context.integrationLatency), and it
// cannot be mistaken for anything else.
func (p *Parser) parseJSON(rec []byte) error {
	p.path = p.path[:0]
	// Decoded values are never longer than their encoded form, so a
	// buffer the size of the record never grows while scanning it.
	if cap(p.buf) < len(rec) {
		p.buf = make([]byte, 0, len(rec)+len(rec)/2)
	}
	p.buf = p.buf[:0]
	if rec[0] != '{' {
		return p.syntaxError(0, "a record must be one JSON object (is the log format CLF?)")
	}
	i, err := p.object(rec, 0, 0, true)
	if err != nil {
		return err
	}
	if i = skipWS(rec, i); i < len(rec) {
		p.path = p.path[:0]
		return p.syntaxError(i, "unexpected data after the end of the object")
	}
	return nil
}

// object scans the object starting at rec[i] == '{' and returns the
// offset after it. p.path holds the object's own key path on entry.
func (p *Parser) object(rec []byte, i, depth int, match bool) (int, error) {
	if depth >= maxDepth {
		return 0, p.syntaxError(i, "objects or arrays nested too deeply")
	}
	base := len(p.path)
	i = skipWS(rec, i+1)
	if i < len(rec) && rec[i] == '}' {
		return i + 1, nil
	}
	for {
		p.path = p.path[:base]
		if i >= len(rec) {
			return 0, p.syntaxError(i, "the record ends inside an object (truncated record?)")
		}
		if rec[i] != '"' {
			return 0, p.syntaxError(i, "expected a quoted key")
		}
		end, esc, err := p.scanString(rec, i)
		if err != nil {
			return 0, err
		}
		if base > 0 {
			p.path = append(p.path, '.')
		}
		if esc {
			p.path = unquote(p.path, rec[i+1:end-1])
		} else {
			p.path = append(p.path, rec[i+1:end-1]...)
		}
		i = skipWS(rec, end)
		if i >= len(rec) || rec[i] != ':' {
			return 0, p.syntaxError(i, "expected ':' after the key")
		}
		i, err = p.value(rec, skipWS(rec, i+1), depth, match)
		if err != nil {
			return 0, err
		}
		i = skipWS(rec, i)
		if i >= len(rec) {
			return 0, p.syntaxError(i, "the record ends inside an object (truncated record?)")
		}
		switch rec[i] {
		case ',':
			i = skipWS(rec, i+1)
			continue
		case '}':
			p.path = p.path[:base]
			return i + 1, nil
		}
		return 0, p.syntaxError(i, "expected ',' or '}' after the value (an unescaped quote inside the value?)")
	}
}

// array scans the array starting at rec[i] == '['. Keys inside arrays
// never match the mapping.
func (p *Parser) array(rec []byte, i, depth int) (int, error) {
	if depth >= maxDepth {
		return 0, p.syntaxError(i, "objects or arrays nested too deeply")
	}
	i = skipWS(rec, i+1)
	if i < len(rec) && rec[i] == ']' {
		return i + 1, nil
	}
	for {
		var err error
		i, err = p.value(rec, i, depth, false)
		if err != nil {
			return 0, err
		}
		i = skipWS(rec, i)
		if i >= len(rec) {
			return 0, p.syntaxError(i, "the record ends inside an array (truncated record?)")
		}
		switch rec[i] {
		case ',':
			i = skipWS(rec, i+1)
			continue
		case ']':
			return i + 1, nil
		}
		return 0, p.syntaxError(i, "expected ',' or ']' after an array element")
	}
}

// value scans the value starting at rec[i], recording it when p.path is
// a mapped key.
func (p *Parser) value(rec []byte, i, depth int, match bool) (int, error) {
	if i >= len(rec) {
		return 0, p.syntaxError(i, "the record ends before the value (truncated record?)")
	}
	var tg []target
	if match {
		tg = p.keys[string(p.path)]
	}
	c := rec[i]
	switch {
	case c == '"':
		end, esc, err := p.scanString(rec, i)
		if err != nil {
			return 0, err
		}
		if tg != nil {
			v := rec[i+1 : end-1]
			if esc {
				start := len(p.buf)
				p.buf = unquote(p.buf, v)
				v = p.buf[start:len(p.buf):len(p.buf)]
			}
			return end, p.set(tg, v)
		}
		return end, nil
	case c == '{':
		if tg != nil {
			return 0, &keymeter.ParseError{Field: string(p.path), Err: ErrNotScalar}
		}
		return p.object(rec, i, depth+1, match)
	case c == '[':
		if tg != nil {
			return 0, &keymeter.ParseError{Field: string(p.path), Err: ErrNotScalar}
		}
		return p.array(rec, i, depth+1)
	case c == '-' && (i+1 == len(rec) || !isDigit(rec[i+1])):
		// An unset variable in an unquoted position (see parseJSON).
		if tg != nil {
			return i + 1, p.set(tg, rec[i:i+1])
		}
		return i + 1, nil
	case c == '-' || isDigit(c):
		end, ok := scanNumber(rec, i)
		if !ok {
			return 0, p.syntaxError(i, "malformed number")
		}
		if tg != nil {
			return end, p.set(tg, rec[i:end])
		}
		return end, nil
	}
	for _, lit := range [...]string{"null", "true", "false"} {
		if bytes.HasPrefix(rec[i:], []byte(lit)) {
			end := i + len(lit)
			if tg != nil {
				v := rec[i:end]
				if lit == "null" {
					v = nil
				}
				return end, p.set(tg, v)
			}
			return end, nil
		}
	}
	return 0, p.syntaxError(i, "expected a value")
}

// scanString validates the string starting at rec[i] == '"' and returns
// the offset after its closing quote and whether it holds escapes.
func (p *Parser) scanString(rec []byte, i int) (end int, esc bool, err error) {
	for j := i + 1; j < len(rec); j++ {
		switch c := rec[j]; {
		case c == '"':
			return j + 1, esc, nil
		case c == '\\':
			esc = true
			if j+1 >= len(rec) {
				break
			}
			j++
			switch rec[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(rec)-j < 5 || !isHex4(rec[j+1:j+5]) {
					return 0, false, p.syntaxError(j-1, `invalid \u escape`)
				}
				j += 4
			default:
				return 0, false, p.syntaxError(j-1, "invalid escape \\"+string(rec[j:j+1])+" (an unescaped backslash inside a value?)")
			}
		case c < 0x20:
			return 0, false, p.syntaxError(j, "control character inside a string")
		}
	}
	return 0, false, p.syntaxError(i, "unterminated string (truncated record?)")
}

// scanNumber returns the end of the JSON number starting at rec[i].
func scanNumber(rec []byte, i int) (int, bool) {
	if rec[i] == '-' {
		i++
	}
	switch {
	case i < len(rec) && rec[i] == '0':
		i++
	case i < len(rec) && isDigit(rec[i]):
		for i < len(rec) && isDigit(rec[i]) {
			i++
		}
	default:
		return 0, false
	}
	if i < len(rec) && rec[i] == '.' {
		i++
		if i >= len(rec) || !isDigit(rec[i]) {
			return 0, false
		}
		for i < len(rec) && isDigit(rec[i]) {
			i++
		}
	}
	if i < len(rec) && (rec[i] == 'e' || rec[i] == 'E') {
		i++
		if i < len(rec) && (rec[i] == '+' || rec[i] == '-') {
			i++
		}
		if i >= len(rec) || !isDigit(rec[i]) {
			return 0, false
		}
		for i < len(rec) && isDigit(rec[i]) {
			i++
		}
	}
	return i, true
}

// unquote appends the decoded form of s, the validated contents of a
// JSON string, to dst. Lone surrogates decode to U+FFFD, as in
// encoding/json; other bytes are kept as they are.
func unquote(dst, s []byte) []byte {
	for len(s) > 0 {
		k := bytes.IndexByte(s, '\\')
		if k < 0 {
			return append(dst, s...)
		}
		dst = append(dst, s[:k]...)
		s = s[k:]
		if len(s) < 2 {
			return dst // unreachable for validated input
		}
		switch s[1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			if len(s) < 6 {
				return dst
			}
			r := rune(hex4(s[2:6]))
			s = s[6:]
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if len(s) >= 6 && s[0] == '\\' && s[1] == 'u' && isHex4(s[2:6]) {
					r2 = rune(hex4(s[2:6]))
				}
				if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
					r = d
					s = s[6:]
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default: // '"', '\\', '/'
			dst = append(dst, s[1])
		}
		s = s[2:]
	}
	return dst
}

func isHex4(b []byte) bool {
	for _, c := range b[:4] {
		if _, ok := unhex(c); !ok {
			return false
		}
	}
	return true
}

func hex4(b []byte) uint16 {
	var n uint16
	for _, c := range b[:4] {
		h, _ := unhex(c)
		n = n<<4 | uint16(h)
	}
	return n
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func skipWS(rec []byte, i int) int {
	for i < len(rec) && isSpace(rec[i]) {
		i++
	}
	return i
}

// syntaxError describes where a record stops being JSON, naming the key
// whose value was being read, if any.
func (p *Parser) syntaxError(off int, what string) error {
	return &keymeter.ParseError{Field: string(p.path), Err: errorf(ErrInvalidJSON, "at byte %d: %s", off, what)}
}
