package apigateway

import (
	"bytes"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/format/internal/lex"
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
			p.path = lex.UnquoteJSON(p.path, rec[i+1:end-1])
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
				p.buf = lex.UnquoteJSON(p.buf, v)
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
	case c == '-' && (i+1 == len(rec) || !lex.IsDigit(rec[i+1])):
		// An unset variable in an unquoted position (see parseJSON).
		if tg != nil {
			return i + 1, p.set(tg, rec[i:i+1])
		}
		return i + 1, nil
	case c == '-' || lex.IsDigit(c):
		end, ok := lex.ScanJSONNumber(rec, i)
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
	end, esc, problem, at := lex.ScanJSONString(rec, i)
	switch problem {
	case lex.StringOK:
		return end, esc, nil
	case lex.StringBadUnicode:
		return 0, false, p.syntaxError(at, `invalid \u escape`)
	case lex.StringBadEscape:
		return 0, false, p.syntaxError(at, "invalid escape \\"+string(rec[at+1:at+2])+" (an unescaped backslash inside a value?)")
	case lex.StringControlChar:
		return 0, false, p.syntaxError(at, "control character inside a string")
	}
	return 0, false, p.syntaxError(i, "unterminated string (truncated record?)")
}

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
