package cloudfront_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/keymeter/keymeter/format/cloudfront"
)

// params lists every pair NextParam finds in v, as name=value@depth, with
// a leading & when the pair is a query parameter (InQuery) and " spaced"
// when spaces stand before its '='.
func params(v string) []string {
	var out []string
	for from := 0; ; {
		p, ok := cloudfront.NextParam([]byte(v), from)
		if !ok {
			return out
		}
		s := fmt.Sprintf("%s=%s@%d", v[p.NameStart:p.NameEnd], v[p.ValueStart:p.ValueEnd], p.Depth)
		if p.Spaced {
			s += " spaced"
		}
		if p.InQuery() {
			s = "&" + s
		}
		out = append(out, s)
		from = p.ValueStart
	}
}

func TestNextParam(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"a=1&b=2", []string{"&a=1@0", "&b=2@0"}},
		{"cf_api_key=K&x=1", []string{"&cf_api_key=K@0", "&x=1@0"}},
		// A query encoded inside a path, once and twice.
		{"/v1/items%3Fcf_api_key%3DKEY", []string{"cf_api_key=KEY@1"}},
		{"/v1/items%253Fcf_api_key%253DKEY%2526x%253D1", []string{"cf_api_key=KEY@2", "x=1@2"}},
		// A more deeply encoded '&' is part of the value; a shallower one
		// ends it.
		{"cf_api_key=KEY%26x%3D1&y=2", []string{"&cf_api_key=KEY%26x%3D1@0", "x=1@1", "&y=2@0"}},
		{"/p%3Fk%3DKEY&y=2", []string{"k=KEY@1", "&y=2@0"}},
		// A URL passed in a parameter.
		{"next=%252Fv1%253Fapi_key%253DKEY%2526page%253D2", []string{"&next=%252Fv1%253Fapi_key%253DKEY%2526page%253D2@0", "api_key=KEY@2", "page=2@2"}},
		// Names start after anything but letters, digits and - . _ ~;
		// encoded name characters are name characters.
		{"a=b;%20api_key=S;%20c=d", []string{"&a=b;%20api_key=S;%20c=d@0", "api_key=S;%20c=d@0", "c=d@0"}},
		{"MyApp/1.0%20(apikey=K)", []string{"apikey=K)@0"}},
		{"cf%5Fapi%5FKEY=K", []string{"&cf%5Fapi%5FKEY=K@0"}},
		{"my_api_key=K", []string{"&my_api_key=K@0"}},
		{"host:a%0Acookie:api_key=K%0Aua:x", []string{"api_key=K@0"}},
		// Tabs end values, and so do raw quotes after the first byte.
		{"x\tapi_key=K\ty", []string{"api_key=K@0"}},
		{`"path":"/x?api_key=K","ua":"u"`, []string{"api_key=K@0"}},
		{`api_key="K"`, []string{`&api_key="K@0`}},
		// Spaces before the '=' are not part of the name.
		{"api_key%20=K&x=1", []string{"api_key=K@0 spaced", "&x=1@0"}},
		{"a=1&api_key+%2520 =K", []string{"&a=1@0", "api_key=K@0 spaced"}},
		{"a%20b=1", []string{"b=1@0"}},
		// Not pairs.
		{"100%", nil}, {"%zz=1", []string{"zz=1@0"}}, {"a%3", nil}, {"", nil},
	}
	for _, tt := range tests {
		if got := params(tt.in); strings.Join(got, " ") != strings.Join(tt.want, " ") {
			t.Errorf("NextParam(%q):\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

func TestMayHaveParam(t *testing.T) {
	for in, want := range map[string]bool{
		"a=1": true, "%3D": true, "x%3dy": true, "%253D": true, "%25253D": true, "a%2525253Db": true,
		"": false, "/v1/items": false, "Mozilla/5.0%20(X11)": false, "33D": false, "3D": false,
	} {
		if got := cloudfront.MayHaveParam([]byte(in)); got != want {
			t.Errorf("MayHaveParam(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestUnescapeTimes(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{
		{"a%25252Bb", 1, "a%252Bb"}, {"a%25252Bb", 2, "a%2Bb"}, {"a%25252Bb", 3, "a+b"}, {"a%25252Bb", 9, "a+b"},
		{"plain", 3, "plain"}, {"100%", 2, "100%"}, {"-", 2, "-"},
	} {
		got, _ := cloudfront.UnescapeTimes([]byte("x:"), nil, []byte(tt.in), tt.n)
		if string(got) != "x:"+tt.want {
			t.Errorf("UnescapeTimes(%q, %d) = %q, want %q", tt.in, tt.n, got, "x:"+tt.want)
		}
	}
}

// FuzzNextParam encodes a query parameter any number of times inside a
// path and checks that NextParam finds it at that depth, with the value
// that decodes to the one planted.
func FuzzNextParam(f *testing.F) {
	f.Add("/v1/items", "cf_api_key", "km_a+b/c==", uint8(1))
	f.Add("", "k", "v", uint8(0))
	f.Add("/p", "API_KEY", "x y&z", uint8(3))
	f.Fuzz(func(t *testing.T, path, name, value string, depth uint8) {
		depth %= 5
		if name == "" || value == "" || strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~") != "" ||
			strings.ContainsAny(path, "?&=%\t\r\n\"") {
			return
		}
		// The client's query, then encoded again at every level, and
		// CloudFront's encoding of the client's '%' on top.
		enc := func(s string) string {
			for range depth {
				s = url.QueryEscape(s)
			}
			return strings.ReplaceAll(s, "%", "%25")
		}
		logged := path + enc("?"+name+"="+url.QueryEscape(value))
		wantValue, wantDepth := enc(url.QueryEscape(value)), int(depth)+1
		if depth == 0 {
			logged, wantDepth = enc(name+"="+url.QueryEscape(value)), 0 // the query string itself
		}
		got := params(logged)
		found := false
		for from := 0; ; {
			p, ok := cloudfront.NextParam([]byte(logged), from)
			if !ok {
				break
			}
			if logged[p.NameStart:p.NameEnd] == name {
				found = true
				if p.Depth != wantDepth || logged[p.ValueStart:p.ValueEnd] != wantValue {
					t.Fatalf("%q: found %s=%q at depth %d; planted %q at depth %d", logged, name, logged[p.ValueStart:p.ValueEnd], p.Depth, wantValue, wantDepth)
				}
				if p.ValueDecodings() != max(wantDepth, 1)+1 {
					t.Fatalf("%d decodings", p.ValueDecodings())
				}
				break
			}
			from = p.ValueStart
		}
		if !found {
			t.Fatalf("%q: %s not found among %q", logged, name, got)
		}
	})
}
