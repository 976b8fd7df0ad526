// Package lex holds the byte-level reading that the log formats share:
// decimal and hex digits, civil dates, and the contents of JSON strings.
// Every function works on bytes already in memory and allocates nothing
// beyond what it appends to a caller's buffer.
package lex

import (
	"bytes"
	"unicode/utf16"
	"unicode/utf8"
)

// IsDigit reports whether c is an ASCII decimal digit.
func IsDigit(c byte) bool { return '0' <= c && c <= '9' }

// Digits parses b, which must be only ASCII decimal digits, as a
// non-negative integer. An empty b is 0. The caller bounds the length:
// more than 18 digits can overflow.
func Digits(b []byte) (int64, bool) {
	var n int64
	for _, c := range b {
		if !IsDigit(c) {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// Uint parses a non-negative decimal integer of 1 to 18 digits, the most
// an int64 always holds.
func Uint(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	return Digits(b)
}

// Int parses b, which must be only ASCII decimal digits, as a
// non-negative integer: any number of leading zeros, at most
// math.MaxInt64. An empty b is not a number. Call Uint first where speed
// matters: it is inlined, and reads the common case.
func Int(b []byte) (int64, bool) {
	for len(b) > 1 && b[0] == '0' {
		b = b[1:]
	}
	switch {
	case len(b) == 0 || len(b) > 19:
		return 0, false
	case len(b) <= 18:
		return Digits(b)
	}
	n, ok := Digits(b[:18])
	c := b[18]
	if !ok || !IsDigit(c) || n > (1<<63-1-int64(c-'0'))/10 {
		return 0, false
	}
	return n*10 + int64(c-'0'), true
}

// Decimal parses a non-negative decimal number, digits with an optional
// fraction ("0.082", "12", ".5", "3."; at least one digit), into an
// integer count of 10^-scale units: Decimal("1.5", 3) is 1500. Digits
// beyond scale decimals are dropped, or, with round, rounded half up.
// Leading zeros are allowed; the result is at most math.MaxInt64.
func Decimal(b []byte, scale int, round bool) (int64, bool) {
	const maxInt = 1<<63 - 1
	i := 0
	for i < len(b) && b[i] == '0' {
		i++
	}
	var n int64
	for start := i; i < len(b) && IsDigit(b[i]); i++ {
		d := int64(b[i] - '0')
		if i-start >= 18 && (n > maxInt/10 || n == maxInt/10 && d > maxInt%10) {
			return 0, false
		}
		n = n*10 + d
	}
	whole := i
	var frac []byte
	if i < len(b) {
		if b[i] != '.' {
			return 0, false
		}
		frac = b[i+1:]
	}
	if whole == 0 && len(frac) == 0 {
		return 0, false
	}
	for j := range scale {
		d := int64(0)
		if j < len(frac) {
			if !IsDigit(frac[j]) {
				return 0, false
			}
			d = int64(frac[j] - '0')
		}
		if n > maxInt/10 || n == maxInt/10 && d > maxInt%10 {
			return 0, false
		}
		n = n*10 + d
	}
	if scale < len(frac) {
		rest := frac[scale:]
		for _, c := range rest {
			if !IsDigit(c) {
				return 0, false
			}
		}
		if round && rest[0] >= '5' {
			if n == maxInt {
				return 0, false
			}
			n++
		}
	}
	return n, true
}

// NumberProblem says, for a reject reason, why b is not a non-negative
// decimal number (a whole one, if whole is set): "empty", "negative",
// "not a whole number", ...; it returns "" when b is one, and only its
// size can be wrong. It is meant for the reject path.
func NumberProblem(b []byte, whole bool) string {
	isNum := func(b []byte) bool {
		_, _, ok := decimalShape(b)
		return ok
	}
	hasDot, _, ok := decimalShape(b)
	switch {
	case len(b) == 0:
		return "empty"
	case ok && hasDot && whole:
		return "not a whole number"
	case ok:
		return ""
	case (b[0] == '-' || b[0] == '+') && isNum(b[1:]):
		if b[0] == '-' {
			return "negative"
		}
		return "a sign is not allowed"
	case bytes.IndexAny(b, "eE") > 0 && isNum(bytes.TrimLeft(b[:bytes.IndexAny(b, "eE")], "+-")):
		return "exponent notation is not allowed"
	case bytes.IndexAny(b, " \t") >= 0:
		return "contains a blank"
	}
	return "not a decimal number"
}

// decimalShape reports whether b is digits with at most one '.', and
// at least one digit, and whether it has the dot.
func decimalShape(b []byte) (dot, digits, ok bool) {
	for _, c := range b {
		switch {
		case IsDigit(c):
			digits = true
		case c == '.' && !dot:
			dot = true
		default:
			return dot, digits, false
		}
	}
	return dot, digits, digits
}

// DaysIn returns the number of days in month m (1 to 12) of year y in the
// proleptic Gregorian calendar.
func DaysIn(y, m int64) int64 {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// DaysFromCivil returns the number of days from 1970-01-01 to the given
// proleptic Gregorian date (Howard Hinnant's algorithm).
func DaysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// Unhex returns the value of the hex digit c.
func Unhex(c byte) (byte, bool) {
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

// IsHex4 reports whether the first four bytes of b are hex digits; b must
// hold at least four.
func IsHex4(b []byte) bool {
	for _, c := range b[:4] {
		if _, ok := Unhex(c); !ok {
			return false
		}
	}
	return true
}

// Hex4 returns the value of the four hex digits that start b, as checked
// by IsHex4.
func Hex4(b []byte) uint16 {
	var n uint16
	for _, c := range b[:4] {
		h, _ := Unhex(c)
		n = n<<4 | uint16(h)
	}
	return n
}

// UnquoteJSON appends the decoded form of s, the contents of a JSON string
// already checked to be valid (without its quotes), to dst. Lone
// surrogates decode to U+FFFD, as in encoding/json; other bytes are kept
// as they are.
func UnquoteJSON(dst, s []byte) []byte {
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
			r := rune(Hex4(s[2:6]))
			s = s[6:]
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if len(s) >= 6 && s[0] == '\\' && s[1] == 'u' && IsHex4(s[2:6]) {
					r2 = rune(Hex4(s[2:6]))
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

// A StringProblem says why ScanJSONString found no valid string.
type StringProblem uint8

// The problems ScanJSONString reports.
const (
	StringOK           StringProblem = iota
	StringBadUnicode                 // a \u not followed by four hex digits
	StringBadEscape                  // a backslash before anything else
	StringControlChar                // an unescaped byte below 0x20
	StringUnterminated               // no closing quote
)

// ScanJSONString validates the JSON string that starts with the quote at
// b[i]. It returns the offset after the closing quote and whether the
// string holds escapes (and so needs UnquoteJSON); or the problem and
// where it is: the backslash of a bad escape, the control character, or
// i for a string that does not end.
func ScanJSONString(b []byte, i int) (end int, esc bool, problem StringProblem, at int) {
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return j + 1, esc, StringOK, 0
		case c == '\\':
			esc = true
			if j+1 >= len(b) {
				break
			}
			j++
			switch b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(b)-j < 5 || !IsHex4(b[j+1:j+5]) {
					return 0, false, StringBadUnicode, j - 1
				}
				j += 4
			default:
				return 0, false, StringBadEscape, j - 1
			}
		case c < 0x20:
			return 0, false, StringControlChar, j
		}
	}
	return 0, false, StringUnterminated, i
}

// ScanJSONNumber returns the offset after the JSON number that starts at
// b[i], or false if none does.
func ScanJSONNumber(b []byte, i int) (int, bool) {
	digits := func() bool {
		start := i
		for i < len(b) && IsDigit(b[i]) {
			i++
		}
		return i > start
	}
	if b[i] == '-' {
		i++
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if !digits() {
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			return 0, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			return 0, false
		}
	}
	return i, true
}
