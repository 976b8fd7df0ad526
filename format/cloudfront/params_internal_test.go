package cloudfront

import (
	"testing"
)

// referenceNextParam is the first NextParam: a plain forward scan, kept
// as the reference the fast scanner is fuzzed against. It returns the first pair of v whose '=' is at or after from, and
// false when there is none. To find every pair, call it again from the
// pair's ValueStart (so that pairs inside its value are found too) or,
// having consumed the value, from its ValueEnd. It does not allocate.
func referenceNextParam(v []byte, from int) (Param, bool) {
	p := Param{NameStart: from}
	if from > 0 {
		p.After = '=' // from is a ValueStart, or a ValueEnd, whose terminator comes next
	}
	spaces := -1 // where a run of spaces after the name starts
	var spaceC byte
	var spaceDepth int
	for i := from; i < len(v); {
		c, depth, width := v[i], 0, 1
		if c == '%' {
			if c, depth, width = unit(v, i); width == 0 {
				c, depth, width = '%', 0, 1
			}
		}
		switch {
		case nameChar[c]:
			if spaces >= 0 { // the spaces were not in front of an '='
				p.NameStart, p.After, p.AfterDepth, spaces = i, spaceC, spaceDepth, -1
			}
		case c == '=':
			p.NameEnd, p.ValueStart, p.Depth = i, i+width, depth
			if spaces >= 0 {
				p.NameEnd, p.Spaced = spaces, true
			}
			p.ValueEnd = valueEnd(v, p.ValueStart, depth)
			return p, true
		case c == ' ' || c == '+' && depth == 0:
			if spaces < 0 {
				spaces = i
			}
			spaceC, spaceDepth = c, depth
		default:
			p.NameStart, p.After, p.AfterDepth, spaces = i+width, c, depth, -1
		}
		i += width
	}
	return Param{}, false
}

// FuzzParamScanner checks the fast scanner against the plain forward
// scan on any bytes: the same pairs, in the same order, at the same
// places, with the same depth and separator.
func FuzzParamScanner(f *testing.F) {
	for _, s := range []string{
		"a=1&b=2", "/v1/items%253Fcf_api_key%253DKEY%2526x%253D1", "%25%3D", "%2%253D", "%5253D=x", "%%3D",
		"a=b;%20api_key=S;%20c=d", "host:a%0Acookie:api_key=K%0Aua:x", "%zz=1", "x%3D%3D=%253d&",
		"next=%252Fv1%253Fapi_key%253DKEY%2526page%253D2", `"path":"/x?api_key=K","ua":"u"`,
		"api_key%20=K", "a +%2520 =x&b%20c=d", "+=x", "%25%20=x", "k%2%20=v",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		var s ParamScanner
		s.Reset(v)
		for from, n := 0, 0; n < 1000; n++ {
			want, wok := referenceNextParam(v, from)
			got, gok := s.Next(from)
			if gok {
				got.ValueEnd = s.ValueEnd(got)
			}
			if got != want || gok != wok {
				t.Fatalf("%q from %d: scanner %+v %v, reference %+v %v", v, from, got, gok, want, wok)
			}
			if !gok {
				return
			}
			// Resume from the value's start, or, now and then, its end.
			from = got.ValueStart
			if n%3 == 2 {
				from = got.ValueEnd
			}
		}
	})
}
