package lex

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestDaysFromCivil(t *testing.T) {
	for d := time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() < 2200; d = d.AddDate(0, 0, 13) {
		want := d.Unix() / 86400
		if got := DaysFromCivil(int64(d.Year()), int64(d.Month()), int64(d.Day())); got != want {
			t.Fatalf("DaysFromCivil(%s) = %d, want %d", d.Format(time.DateOnly), got, want)
		}
	}
}

func TestDaysIn(t *testing.T) {
	for y := int64(1896); y <= 2104; y++ {
		for m := int64(1); m <= 12; m++ {
			want := int64(time.Date(int(y), time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day())
			if got := DaysIn(y, m); got != want {
				t.Fatalf("DaysIn(%d, %d) = %d, want %d", y, m, got, want)
			}
		}
	}
}

func TestUint(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"42", 42, true},
		{"999999999999999999", 999999999999999999, true},
		{"1000000000000000000", 0, false}, // 19 digits
		{"", 0, false},
		{"-1", 0, false},
		{"1.5", 0, false},
		{" 1", 0, false},
	} {
		got, ok := Uint([]byte(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("Uint(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestHex(t *testing.T) {
	if !IsHex4([]byte("09aF")) || IsHex4([]byte("09aG")) {
		t.Fatal("IsHex4 misjudges its input")
	}
	if got := Hex4([]byte("00e9")); got != 0xe9 {
		t.Fatalf("Hex4(00e9) = %#x", got)
	}
}

func TestUnquoteJSON(t *testing.T) {
	for _, s := range []string{
		``, `plain`, `a\"b\\c\/d`, `\b\f\n\r\t`, `caf\u00e9`, `\ud83d\ude00 smile`,
		`lone \ud83d here`, `lone \ude00 low`, `\ud83d\u0041`, `tab\there`,
	} {
		var want string
		if err := json.Unmarshal([]byte(`"`+s+`"`), &want); err != nil {
			t.Fatalf("test input %q is not a JSON string: %v", s, err)
		}
		if got := string(UnquoteJSON(nil, []byte(s))); got != want {
			t.Errorf("UnquoteJSON(%q) = %q, want %q", s, got, want)
		}
	}
}

func FuzzUnquoteJSON(f *testing.F) {
	f.Add(`caf\u00e9 \ud83d\ude00 \ud83d \n`)
	f.Fuzz(func(t *testing.T, s string) {
		var want string
		if !utf8.ValidString(s) || json.Unmarshal([]byte(`"`+s+`"`), &want) != nil {
			return // valid UTF-8 string contents only: encoding/json rewrites invalid bytes, UnquoteJSON keeps them
		}
		if got := string(UnquoteJSON(nil, []byte(s))); got != want {
			t.Fatalf("UnquoteJSON(%q) = %q, want %q", s, got, want)
		}
	})
}

func TestScanJSONString(t *testing.T) {
	for _, tc := range []struct {
		in      string
		end     int
		esc     bool
		problem StringProblem
		at      int
	}{
		{`"abc",`, 5, false, StringOK, 0},
		{`"a\"b"x`, 6, true, StringOK, 0},
		{`"\u00e9"`, 8, true, StringOK, 0},
		{`"a\u00g9"`, 0, false, StringBadUnicode, 2},
		{`"a\u00"`, 0, false, StringBadUnicode, 2},
		{`"a\qb"`, 0, false, StringBadEscape, 2},
		{"\"a\tb\"", 0, false, StringControlChar, 2},
		{`"abc`, 0, false, StringUnterminated, 0},
		{`"abc\`, 0, false, StringUnterminated, 0},
	} {
		end, esc, problem, at := ScanJSONString([]byte(tc.in), 0)
		if end != tc.end || esc != tc.esc || problem != tc.problem || at != tc.at {
			t.Errorf("ScanJSONString(%q) = %d, %v, %d, %d; want %d, %v, %d, %d",
				tc.in, end, esc, problem, at, tc.end, tc.esc, tc.problem, tc.at)
		}
	}
}

func TestScanJSONNumber(t *testing.T) {
	for _, tc := range []struct {
		in  string
		end int
		ok  bool
	}{
		{"0,", 1, true}, {"-12.5e+3}", 8, true}, {"01", 1, true}, {"1.", 0, false},
		{"-", 0, false}, {"1e", 0, false}, {"3E7", 3, true}, {"-0.0", 4, true},
	} {
		end, ok := ScanJSONNumber([]byte(tc.in), 0)
		if end != tc.end || ok != tc.ok {
			t.Errorf("ScanJSONNumber(%q) = %d, %v; want %d, %v", tc.in, end, ok, tc.end, tc.ok)
		}
	}
}

// FuzzScanJSONString checks that ScanJSONString accepts exactly the
// strings encoding/json accepts, ending where they end.
func FuzzScanJSONString(f *testing.F) {
	f.Add(`"caf\u00e9 \ud83d\ude00" tail`)
	f.Add(`"bad \x"`)
	f.Fuzz(func(t *testing.T, s string) {
		if !strings.HasPrefix(s, `"`) || !utf8.ValidString(s) {
			return
		}
		end, _, problem, _ := ScanJSONString([]byte(s), 0)
		var v string
		if problem == StringOK {
			if err := json.Unmarshal([]byte(s[:end]), &v); err != nil {
				t.Fatalf("ScanJSONString accepted %q, encoding/json: %v", s[:end], err)
			}
			return
		}
		for i := 2; i <= len(s); i++ {
			if json.Unmarshal([]byte(s[:i]), &v) == nil {
				t.Fatalf("ScanJSONString rejected %q (%d), encoding/json accepts %q", s, problem, s[:i])
			}
		}
	})
}
