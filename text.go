package keymeter

import "unicode/utf8"

// Text keymeter stores is valid UTF-8: stores accept nothing else (a
// DuckDB VARCHAR, a PostgreSQL text), while a client can put any bytes in
// a path, a query, a user agent, a referer, a cookie or a header, and a
// log keeps them. Such a request is still a request, and is stored with
// its text made valid by one rule, the one every store applies to every
// string it keeps:
//
//	each byte of an invalid UTF-8 sequence becomes \xHH (two upper-case
//	hex digits), the escape CloudFront itself uses in its logs; valid
//	UTF-8, including a literal backslash, is kept as it is.
//
// So /v1/%FF logged by CloudFront is stored as it was logged, /v1/%FF,
// and its decoded path as /v1/\xFF. The rule is not reversible for text
// that already held a literal \xHH, which is the price of showing every
// other byte as it was.

const hexDigits = "0123456789ABCDEF"

// AppendValidUTF8 appends b to dst with every byte of an invalid UTF-8
// sequence replaced by \xHH.
func AppendValidUTF8(dst, b []byte) []byte {
	for len(b) > 0 {
		i := validPrefix(b)
		dst = append(dst, b[:i]...)
		if i == len(b) {
			break
		}
		dst = append(dst, '\\', 'x', hexDigits[b[i]>>4], hexDigits[b[i]&15])
		b = b[i+1:]
	}
	return dst
}

// ValidUTF8 returns s with every byte of an invalid UTF-8 sequence
// replaced by \xHH: s itself, without allocating, when it is valid.
func ValidUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return string(AppendValidUTF8(make([]byte, 0, len(s)+16), []byte(s)))
}

// CutText returns s made valid UTF-8 as ValidUTF8 does, cut to at most max
// bytes at a character (or \xHH escape) boundary.
func CutText(s string, max int) string {
	if len(s) <= max && utf8.ValidString(s) {
		return s
	}
	out := make([]byte, 0, min(len(s), max)+4)
	for b := []byte(s); len(b) > 0; {
		r, n := utf8.DecodeRune(b)
		unit := n
		if r == utf8.RuneError && n == 1 {
			unit = 4
		}
		if len(out)+unit > max {
			break
		}
		if unit == 4 && n == 1 {
			out = append(out, '\\', 'x', hexDigits[b[0]>>4], hexDigits[b[0]&15])
		} else {
			out = append(out, b[:n]...)
		}
		b = b[n:]
	}
	return string(out)
}

// validPrefix returns the length of the longest valid UTF-8 prefix of b.
func validPrefix(b []byte) int {
	i := 0
	for i < len(b) {
		if b[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return i
}

// CheckText returns an EINVALID error when s, the value of what (a
// customer name, say), is not valid UTF-8. Names an operator chooses
// are matched as they are, so keymeter refuses an invalid one rather
// than change it.
func CheckText(what, s string) error {
	if utf8.ValidString(s) {
		return nil
	}
	return Errorf(EINVALID, "%s %q is not valid UTF-8 (byte %d is not): save it as UTF-8", what, s, validPrefix([]byte(s))+1)
}
