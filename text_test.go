package keymeter_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/keymeter/keymeter"
)

func TestValidUTF8(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", ""},
		{"/v1/items", "/v1/items"},
		{"é€😀\uFFFD", "é€😀\uFFFD"},
		{"/v1/\xff", `/v1/\xFF`},
		{"\xc3(", `\xC3(`},
		{"\xe2\x82", `\xE2\x82`},
		{"a\xf0\x9f\x98", `a\xF0\x9F\x98`},
		{`\xFF`, `\xFF`},                 // a literal escape stays
		{"\xed\xa0\x80", `\xED\xA0\x80`}, // a surrogate
		{"a\x00b", "a\x00b"},
	} {
		if got := keymeter.ValidUTF8(tt.in); got != tt.want {
			t.Errorf("ValidUTF8(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := string(keymeter.AppendValidUTF8([]byte("x"), []byte(tt.in))); got != "x"+tt.want {
			t.Errorf("AppendValidUTF8(%q) = %q", tt.in, got)
		}
	}
}

func TestCutText(t *testing.T) {
	for _, tt := range []struct {
		in   string
		max  int
		want string
	}{
		{"abcdef", 4, "abcd"},
		{"abcdef", 10, "abcdef"},
		{"aéé", 4, "aé"},   // not inside é
		{"a\xffb", 4, "a"}, // not inside \xFF
		{"a\xffb", 5, `a\xFF`},
		{"\xff", 3, ""},
	} {
		if got := keymeter.CutText(tt.in, tt.max); got != tt.want {
			t.Errorf("CutText(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}

func TestCheckText(t *testing.T) {
	if err := keymeter.CheckText("customer name", "acmé"); err != nil {
		t.Error(err)
	}
	err := keymeter.CheckText("customer name", "ac\xffme")
	if keymeter.ErrorCode(err) != keymeter.EINVALID || !strings.Contains(err.Error(), `customer name "ac\xffme" is not valid UTF-8 (byte 3 is not)`) {
		t.Errorf("CheckText: %v", err)
	}
}

// FuzzValidUTF8 checks the rule on any bytes: the result is valid UTF-8,
// valid input is kept, and escaping is the only change.
func FuzzValidUTF8(f *testing.F) {
	for _, s := range []string{"", "abc", "\xff", "é\xc3(", "\xe2\x82\xac\xe2\x82"} {
		f.Add(s, 8)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		got := keymeter.ValidUTF8(s)
		if !utf8.ValidString(got) {
			t.Fatalf("ValidUTF8(%q) = %q: not valid", s, got)
		}
		if utf8.ValidString(s) && got != s {
			t.Fatalf("ValidUTF8(%q) = %q changed valid text", s, got)
		}
		if strings.Count(got, `\x`)-strings.Count(s, `\x`) != (len(got)-len(s))/3 {
			t.Fatalf("ValidUTF8(%q) = %q: not one escape per invalid byte", s, got)
		}
		max = max & 0xffff
		cut := keymeter.CutText(s, max)
		if len(cut) > max || !utf8.ValidString(cut) || !strings.HasPrefix(got, cut) {
			t.Fatalf("CutText(%q, %d) = %q", s, max, cut)
		}
	})
}
