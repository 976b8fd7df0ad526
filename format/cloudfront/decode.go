package cloudfront

import (
	"bytes"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/format/internal/lex"
)

// Unescape appends v, decoded once, to dst. CloudFront percent-encodes
// control characters, non-ASCII bytes, space and < > " # % { } | \ ^ ~ [ ] `
// ' in field values; decoding once gives back the bytes the client sent.
// A value the client had itself percent-encoded stays encoded once
// (logged "%252F", decoded "%2F"). "-" decodes to nothing, and a '%' not
// followed by two hex digits is kept as it is.
func Unescape(dst, v []byte) []byte {
	if isNull(v) {
		return dst
	}
	for {
		i := bytes.IndexByte(v, '%')
		if i < 0 {
			return append(dst, v...)
		}
		dst = append(dst, v[:i]...)
		if i+2 < len(v) {
			if h, ok := unhex2(v[i+1], v[i+2]); ok {
				dst = append(dst, h)
				v = v[i+3:]
				continue
			}
		}
		dst = append(dst, '%')
		v = v[i+1:]
	}
}

// UnescapeUserAgent decodes a user agent: once, like Unescape, and then
// the double-encoded space, quote and backslash ("%2520", "%2522",
// "%255C") that CloudFront wrote until early 2020. Clients do not
// percent-encode user agents, so these can only be CloudFront's.
func UnescapeUserAgent(dst, v []byte) []byte {
	start := len(dst)
	dst = Unescape(dst, v)
	out := dst[start:]
	w := 0
	for i := 0; i < len(out); i++ {
		if out[i] == '%' && i+2 < len(out) {
			switch {
			case out[i+1] == '2' && out[i+2] == '0':
				out[w] = ' '
			case out[i+1] == '2' && out[i+2] == '2':
				out[w] = '"'
			case out[i+1] == '5' && (out[i+2] == 'C' || out[i+2] == 'c'):
				out[w] = '\\'
			default:
				out[w] = out[i]
				w++
				continue
			}
			w++
			i += 2
			continue
		}
		out[w] = out[i]
		w++
	}
	return dst[:start+w]
}

// UnescapeForwardedFor decodes x-forwarded-for, where CloudFront has been
// seen writing "\xHH" escapes ("10.3.200.121,\x2010.56.14.213") as well as
// percent-encoding.
func UnescapeForwardedFor(dst, v []byte) []byte {
	if isNull(v) {
		return dst
	}
	var buf [256]byte
	tmp := buf[:0]
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+3 < len(v) && v[i+1] == 'x' {
			if h, ok := unhex2(v[i+2], v[i+3]); ok {
				tmp = append(tmp, h)
				i += 3
				continue
			}
		}
		tmp = append(tmp, v[i])
	}
	return Unescape(dst, tmp)
}

// Decode appends the decoded value of field f to dst, using the decoding
// that fits the field.
func Decode(dst []byte, f keymeter.Field, v []byte) []byte {
	switch f {
	case keymeter.FieldUserAgent:
		return UnescapeUserAgent(dst, v)
	case keymeter.FieldForwardedFor:
		return UnescapeForwardedFor(dst, v)
	}
	return Unescape(dst, v)
}

func unhex2(a, b byte) (byte, bool) {
	x, ok1 := lex.Unhex(a)
	y, ok2 := lex.Unhex(b)
	return x<<4 | y, ok1 && ok2
}
