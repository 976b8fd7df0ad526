package lex

import (
	"encoding/json"
	"strconv"
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

func TestInt(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"000", 0, true},
		{"0042", 42, true},
		{"1000000000000000000", 1000000000000000000, true}, // 19 digits
		{"9223372036854775807", 1<<63 - 1, true},
		{"00000000000000000000009223372036854775807", 1<<63 - 1, true},
		{"9223372036854775808", 0, false},
		{"10000000000000000000", 0, false},
		{"", 0, false},
		{"-1", 0, false},
		{"+1", 0, false},
		{"1.5", 0, false},
		{"1e3", 0, false},
		{" 1", 0, false},
		{"922337203685477580x", 0, false},
	} {
		got, ok := Int([]byte(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("Int(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzInt checks Int against strconv for every string of digits.
func FuzzInt(f *testing.F) {
	f.Add("9223372036854775807")
	f.Add("0009223372036854775808")
	f.Add("12a")
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := Int([]byte(s))
		digits := s != "" && strings.Trim(s, "0123456789") == ""
		want, err := strconv.ParseInt(s, 10, 64)
		if wantOK := digits && err == nil; ok != wantOK || ok && got != want {
			t.Fatalf("Int(%q) = %d, %v; strconv says %d, %v", s, got, ok, want, err)
		}
	})
}

func TestDecimal(t *testing.T) {
	for _, tc := range []struct {
		in    string
		scale int
		round bool
		want  int64
		ok    bool
	}{
		{"0.082", 3, true, 82, true},
		{"12", 3, true, 12000, true},
		{"1.5", 3, true, 1500, true},
		{".5", 3, true, 500, true},
		{"3.", 3, true, 3000, true},
		{"000012.5", 3, true, 12500, true},
		{"0.0005", 3, true, 1, true},
		{"0.0004", 3, true, 0, true},
		{"0.0005", 3, false, 0, true},
		{"1.1000590226167435", 3, true, 1100, true},
		{"1671005351.1234567", 6, false, 1671005351123456, true},
		{"1671005351.1234567", 6, true, 1671005351123457, true},
		{"9223372036854775.807", 3, true, 1<<63 - 1, true},
		{"9223372036854775.8075", 3, true, 0, false},
		{"9223372036854776", 3, true, 0, false},
		{"", 3, true, 0, false},
		{".", 3, true, 0, false},
		{"1.2.3", 3, true, 0, false},
		{"-1", 3, true, 0, false},
		{"1e3", 3, true, 0, false},
		{"1.5x", 3, true, 0, false},
		{"1.5555x", 3, true, 0, false},
	} {
		got, ok := Decimal([]byte(tc.in), tc.scale, tc.round)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Decimal(%q, %d, %v) = %d, %v; want %d, %v", tc.in, tc.scale, tc.round, got, ok, tc.want, tc.ok)
		}
	}
}

func TestNumberProblem(t *testing.T) {
	for _, tc := range []struct {
		in    string
		whole bool
		want  string
	}{
		{"12", true, ""},
		{"1.5", false, ""},
		{"99999999999999999999", true, ""}, // well-formed: only its size can be wrong
		{"", true, "empty"},
		{"1.5", true, "not a whole number"},
		{"-5", true, "negative"},
		{"-0.5", false, "negative"},
		{"+5", true, "a sign is not allowed"},
		{"1e3", true, "exponent notation is not allowed"},
		{"1.5E-3", false, "exponent notation is not allowed"},
		{"1 2", true, "contains a blank"},
		{"12x4", true, "not a decimal number"},
		{"1.2.3", false, "not a decimal number"},
		{"-", true, "not a decimal number"},
	} {
		if got := NumberProblem([]byte(tc.in), tc.whole); got != tc.want {
			t.Errorf("NumberProblem(%q, %v) = %q, want %q", tc.in, tc.whole, got, tc.want)
		}
	}
}
