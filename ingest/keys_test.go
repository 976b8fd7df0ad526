package ingest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/internal/loggen"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

func fingerprintOf(key string) keymeter.KeyFingerprint {
	return keymeter.NewFingerprinter(testSecret).Fingerprint([]byte(key))
}

func TestFromQuery(t *testing.T) {
	k := newKeyFinder(DefaultKeyParams, testSecret)
	const key = "km_a+b/c=="
	tests := []struct {
		name, query string
		want        string // raw key, "" for none
	}{
		{"plain", "cf_api_key=abc123", "abc123"},
		{"among others", "page=2&api_key=abc123&x=y", "abc123"},
		{"client-encoded, as logged", "apikey=" + loggen.CloudFrontEscape(loggen.ClientEscape(key)), key},
		{"sent raw", "apikey=" + loggen.CloudFrontEscape(key), key},
		{"plus stays plus", "api_key=a+b", "a+b"},
		{"precedence by configuration order", "apikey=third&api_key=second&cf_api_key=first", "first"},
		{"first of a repeated parameter", "api_key=one&api_key=two", "one"},
		{"empty value", "api_key=&x=1", ""},
		{"no key", "page=1&q=api_key", ""},
		{"none", "-", ""},
		{"encoded parameter name", "api%255Fkey=enc", "enc"},
		{"other parameter containing the name", "my_api_key=nope", ""},
		{"other letter case", "page=2&CF_API_KEY=abc123", "abc123"},
		{"encoded name in another case", "Cf%5FApi%5FKey=abc123", "abc123"},
		{"exact name before another case", "Api_Key=other&apikey=exact", "exact"},
		{"other cases by configuration order", "APIKEY=third&API_KEY=second", "second"},
		{"after a semicolon", "a=1;api_key=abc123", "abc123"},
		{"a URL in a parameter is not the request's", "next=/v1?api_key=nested", ""},
		{"an encoded URL in a parameter is not the request's", "next=%252Fv1%253Fapi_key%253Dnested%2526x%253D1", ""},
		{"an encoded pair is not the request's", "cf_api_key%253Dencoded", ""},
		{"the request's key beside a nested one", "next=%252Fv1%253Fcf_api_key%253Dnested&apikey=mine", "mine"},
		{"value encoded twice", "api_key=" + loggen.CloudFrontEscape(loggen.ClientEscape(key)) + "&x=1", key},
		{"a space before the '=' is another name", "api_key%20=spaced", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, fp, ok := k.redact(nil, []byte(tt.query))
			if tt.want == "" {
				if ok {
					t.Fatalf("found a key in %q", tt.query)
				}
				return
			}
			if !ok {
				t.Fatalf("no key found in %q", tt.query)
			}
			if want := fingerprintOf(tt.want); fp != want {
				t.Errorf("fingerprint of %q: got %+v, want that of %q", tt.query, fp, tt.want)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	k := newKeyFinder(DefaultKeyParams, testSecret)
	fp := func(key string) string { return fingerprintOf(key).Fingerprint }
	tests := []struct {
		name, in, want string
	}{
		{"query", "page=2&cf_api_key=SECRET1&x=1", "page=2&cf_api_key=" + fp("SECRET1") + "&x=1"},
		{"two keys", "api_key=AAAA&apikey=BBBB", "api_key=" + fp("AAAA") + "&apikey=" + fp("BBBB")},
		{"url", "https://example.com/p?q=1&api_key=SECRET2", "https://example.com/p?q=1&api_key=" + fp("SECRET2")},
		{"url inside a parameter", "next=https://x/?api_key=SECRET3", "next=https://x/?api_key=" + fp("SECRET3")},
		{"cookie", "a=b;%20api_key=SECRET4;%20c=d", "a=b;%20api_key=" + fp("SECRET4; c=d")},
		{"key with semicolon", "api_key=abc;def&x=1", "api_key=" + fp("abc;def") + "&x=1"},
		{"line", "2025-10-01\t/p\tapi_key=SECRET5\t-\tMiss", "2025-10-01\t/p\tapi_key=" + fp("SECRET5") + "\t-\tMiss"},
		{"no key", "page=1&q=2", "page=1&q=2"},
		{"base64 padding", "api_key=abc==&x=1", "api_key=" + fp("abc==") + "&x=1"},
		// Keys in other encodings and letter cases.
		{"query encoded in a path", "/v1/items%3Fcf_api_key%3DSECRET6", "/v1/items%3Fcf_api_key%3D" + fp("SECRET6")},
		{"query encoded twice in a path", "/v1/items%253Fapi_key%253DSECRET7%2526x%253D1", "/v1/items%253Fapi_key%253D" + fp("SECRET7") + "%2526x%253D1"},
		{"encoded URL in a parameter", "next=%252Fv1%253Fapikey%253DSECRET8%2526page%253D2&y=1", "next=%252Fv1%253Fapikey%253D" + fp("SECRET8") + "%2526page%253D2&y=1"},
		{"encoded key in an encoded query", "/x%3Fapikey%3DSECRET%252B9", "/x%3Fapikey%3D" + fp("SECRET+9")},
		{"other letter case", "CF_API_KEY=SECRETA&x=1", "CF_API_KEY=" + fp("SECRETA") + "&x=1"},
		{"encoded name", "Api%255FKey=SECRETB", "Api%255FKey=" + fp("SECRETB")},
		{"user agent", "MyApp/1.0%20(apikey=SECRETC)", "MyApp/1.0%20(apikey=" + fp("SECRETC)")},
		{"header list", "host:a%0Acookie:x=1;%20API_KEY%3DSECRETD%0Aua:u", "host:a%0Acookie:x=1;%20API_KEY%3D" + fp("SECRETD") + "%0Aua:u"},
		{"JSON record", `{"path":"/x?api_key=SECRETE","ua":"u"}`, `{"path":"/x?api_key=` + fp("SECRETE") + `","ua":"u"}`},
		{"space before the '='", "api_key%20=SECRETG&x=1", "api_key%20=" + fp("SECRETG") + "&x=1"},
		{"reject reason", `not a valid number: "cf_api_key=SECRETF" (not a decimal number)`, `not a valid number: "cf_api_key=` + fp("SECRETF") + `" (not a decimal number)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, _ := k.redact(nil, []byte(tt.in))
			if string(got) != tt.want {
				t.Errorf("redact(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			for _, secret := range []string{"SECRET", "AAAA", "BBBB", "abc;def"} {
				if strings.Contains(string(got), secret) {
					t.Errorf("redact(%q) left %q visible: %q", tt.in, secret, got)
				}
			}
		})
	}
}

// FuzzRedact checks that a key planted anywhere in a query, URL or line,
// under a key parameter's name in any letter case, with its '=' encoded
// any number of times, never survives redaction.
func FuzzRedact(f *testing.F) {
	f.Add("page=1&", "&x=2", "Zk3yQ9", uint8(0), false)
	f.Add("https://h/p?", "", "a+b/c==", uint8(0), true)
	f.Add("a=b;%20", ";c=d", "K", uint8(1), false)
	f.Add("\t", "\t-", "KEY", uint8(2), true)
	f.Add("/v1/items%253F", "&x=1", "km_abcdef", uint8(2), false)
	k := newKeyFinder(DefaultKeyParams, testSecret)
	f.Fuzz(func(t *testing.T, before, after, key string, depth uint8, upper bool) {
		if len(key) < 6 || strings.ContainsAny(key, "&\t\r\n=%\"") || strings.ContainsAny(before+after, key[:1]) {
			t.Skip()
		}
		eq := "="
		if depth %= 4; depth > 0 {
			eq = "%" + strings.Repeat("25", int(depth)-1) + "3D"
		}
		for _, name := range DefaultKeyParams {
			if upper {
				name = strings.ToUpper(name)
			}
			in := before + name + eq + key + after
			if b := strings.ToUpper(before); b != "" && strings.Trim(b[len(b)-1:], "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~") == "" &&
				!strings.HasSuffix(b, "%3F") && !strings.HasSuffix(b, "%253F") && !strings.HasSuffix(b, "%2526") {
				continue // the name would not start where it is planted
			}
			if i := strings.LastIndexByte(before, '%'); i >= 0 && i >= len(before)-2 {
				continue // an escape would take the name's first letters
			}
			if after != "" && after[0] != '&' && after[0] != '\t' {
				continue
			}
			got, _, _ := k.redact(nil, []byte(in))
			if strings.Contains(string(got), key) {
				t.Fatalf("redact(%q) = %q leaves the key", in, got)
			}
		}
	})
}

func TestKeyHint(t *testing.T) {
	if h := fingerprintOf("short-key").Hint; h != "" {
		t.Errorf("short key got hint %q", h)
	}
	if h := fingerprintOf("km_abcdefghijklmnopWXYZ").Hint; h != "WXYZ" {
		t.Errorf("hint %q, want WXYZ", h)
	}
	if h := fingerprintOf("km_abcdefghijklmnopé€ü✓").Hint; h != "é€ü✓" {
		t.Errorf("hint %q, want the last 4 characters", h)
	}
}

// TestKeyParamNames checks that a key parameter keymeter could not find
// in a query is refused, rather than left visible in every log line.
func TestKeyParamNames(t *testing.T) {
	for _, name := range []string{"auth[key]", "a=b", "", "key param", "x:key"} {
		_, err := New(nil, Config{Format: "cloudfront", KeyParams: []string{"api_key", name}, Secret: testSecret})
		if keymeter.ErrorCode(err) != keymeter.EINVALID || !strings.Contains(err.Error(), fmt.Sprintf("%q", name)) {
			t.Errorf("key parameter %q: %v, want EINVALID naming it", name, err)
		}
	}
	if _, err := New(nil, Config{Format: "cloudfront", KeyParams: []string{"X-Api-Key.v2~", "token"}, Secret: testSecret}); err != nil {
		t.Errorf("good key parameters refused: %v", err)
	}
}
