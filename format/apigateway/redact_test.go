package apigateway

import (
	"strings"
	"testing"

	"github.com/keymeter/keymeter"
)

var redactSecret = []byte("0123456789abcdef0123456789abcdef")

func fingerprintOf(key string) keymeter.KeyFingerprint {
	return keymeter.NewFingerprinter(redactSecret).Fingerprint([]byte(key))
}

// redactForTest hides the members of the default mapping's key names by
// their fingerprints, as ingest does in the text of a reject.
func redactForTest(s string) string {
	fp := keymeter.NewFingerprinter(redactSecret)
	return string(RedactMembers(nil, []byte(s), KeyMemberNames(nil), func(dst, v []byte) []byte {
		return append(dst, fp.Fingerprint(v).Fingerprint...)
	}))
}

func TestRedactJSONKeys(t *testing.T) {
	fp := func(key string) string { return fingerprintOf(key).Fingerprint }
	for _, tt := range []struct{ in, want string }{
		{`{"apiKey":"k1"}`, `{"apiKey":"` + fp("k1") + `"}`},
		{`{"identity":{"apiKey" : "k1", "x":1}}`, `{"identity":{"apiKey" : "` + fp("k1") + `", "x":1}}`},
		{`{"api_key":"k1","apiKeyId":"id1"}`, `{"api_key":"` + fp("k1") + `","apiKeyId":"id1"}`},
		{`{"apiKey":"-","b":"apiKey"}`, `{"apiKey":"-","b":"apiKey"}`},
		{`{"apiKey":null,"apiKey":k1}`, `{"apiKey":null,"apiKey":` + fp("k1") + `}`},
		{`{"identity.apiKey":"k1"}`, `{"identity.apiKey":"` + fp("k1") + `"}`},
		{`{"userAgent":"a "quoted" agent","apiKey":"k1`, `{"userAgent":"a "quoted" agent","apiKey":"` + fp("k1")},
		{`{"apiKey":"k\"1"}`, `{"apiKey":"` + fp(`k\"1`) + `"}`},
		{`{"apiKeyX":"k1","apiKey"}`, `{"apiKeyX":"k1","apiKey"}`},
	} {
		if got := redactForTest(tt.in); got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.in, got, tt.want)
		}
	}
}

// TestKeyMemberNames checks that a mapping's own key candidates are
// looked for first, whole and by their last element, and the default
// ones after them.
func TestKeyMemberNames(t *testing.T) {
	m := DefaultMapping()
	m.APIKey = []string{"auth.secret", "apiKey"}
	var got []string
	for _, n := range KeyMemberNames(&m) {
		got = append(got, string(n))
	}
	want := "auth.secret secret apiKey api_key identity.apiKey identity.api_key"
	if strings.Join(got, " ") != want {
		t.Errorf("names %q, want %q", got, want)
	}
}

// FuzzRedactJSONKeys plants an API key as the value of an apiKey member
// in arbitrary text: it must never come out.
func FuzzRedactJSONKeys(f *testing.F) {
	f.Add(`{"requestId":"r1",`, "km_0123456789abcdefXYZ", `,"status":"200"}`, " ")
	f.Add(`{"a":"b\`, "k0000000", `"}`, "")
	f.Add(`"apiKey":`, "x1234567", `"apiKey":"`, "\t")
	f.Add(`"apiKey":zz`, "x1234567", `,`, "")
	f.Fuzz(func(t *testing.T, prefix, key, suffix, space string) {
		if len(key) < 8 || strings.Trim(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != "" ||
			strings.Trim(space, " \t\r\n") != "" || strings.Contains(prefix+suffix, key) {
			return
		}
		in := prefix + `"apiKey"` + space + ":" + space + `"` + key + `"` + suffix
		out := redactForTest(in)
		if strings.Contains(out, key) && !strings.Contains(fingerprintOf(key).Fingerprint, key) {
			t.Errorf("the key %q survived in %q", key, out)
		}
	})
}
