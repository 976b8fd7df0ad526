package ingest

import (
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fp, ok := k.fromQuery([]byte(tt.query))
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

// FuzzRedact checks that a key planted anywhere in a query, URL or line
// never survives redaction.
func FuzzRedact(f *testing.F) {
	f.Add("page=1&", "&x=2", "Zk3yQ9")
	f.Add("https://h/p?", "", "a+b/c==")
	f.Add("a=b;%20", ";c=d", "K")
	f.Add("\t", "\t-", "KEY")
	k := newKeyFinder(DefaultKeyParams, testSecret)
	f.Fuzz(func(t *testing.T, before, after, key string) {
		if len(key) < 6 || strings.ContainsAny(key, "&\t=%") || strings.ContainsAny(before+after, key[:1]) {
			t.Skip()
		}
		for _, name := range DefaultKeyParams {
			in := before + name + "=" + key + after
			if before != "" && !strings.ContainsAny(before[len(before)-1:], "?&; \t/,=") {
				continue
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
