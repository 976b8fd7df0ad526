package lex

import (
	"encoding/json"
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
