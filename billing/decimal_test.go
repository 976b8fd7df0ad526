package billing

import (
	"encoding/json"
	"math/big"
	"strings"
	"testing"

	"github.com/keymeter/keymeter"
)

func TestParseDecimal(t *testing.T) {
	for _, tt := range []struct {
		in, want string
	}{
		{"0", "0"},
		{"-0", "0"},
		{"0.00", "0.00"},
		{"1.50", "1.50"},
		{"+7", "7"},
		{"-12.345", "-12.345"},
		{"0.0000035", "0.0000035"},
		{".5", "0.5"},
		{"5.", "5"},
		{"3.5e-6", "0.0000035"},
		{"3.5E-6", "0.0000035"},
		{"1e9", "1000000000"},
		{"1.25e1", "12.5"},
		{"-1.5e+2", "-150"},
		{"000123.4500", "123.4500"},
		{"123456789012345678901234567890.123456789", "123456789012345678901234567890.123456789"},
	} {
		d, err := ParseDecimal(tt.in)
		if err != nil {
			t.Errorf("ParseDecimal(%q): %v", tt.in, err)
			continue
		}
		if got := d.String(); got != tt.want {
			t.Errorf("ParseDecimal(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
	for _, in := range []string{"", "-", ".", "+.", "1.2.3", "1,000", "1_000", " 1", "1 ", "0x10", "Inf", "NaN", "1e", "1e+", "e5", "1e99999999999", "1e2000", "1e-2000", "--1", "$5"} {
		if d, err := ParseDecimal(in); err == nil {
			t.Errorf("ParseDecimal(%q) = %s, want an error", in, d)
		} else if keymeter.ErrorCode(err) != keymeter.EINVALID {
			t.Errorf("ParseDecimal(%q): code %q, want EINVALID", in, keymeter.ErrorCode(err))
		}
	}
}

func d(s string) Decimal { return MustParseDecimal(s) }

func TestDecimalArithmetic(t *testing.T) {
	for _, tt := range []struct {
		name string
		got  Decimal
		want string
	}{
		{"add aligns scales", d("1.5").Add(d("0.25")), "1.75"},
		{"add negative", d("1").Add(d("-1.00")), "0.00"},
		{"sub", d("10").Sub(d("0.001")), "9.999"},
		{"mul adds scales", d("0.0000035").Mul(d("1234567")), "4.3209845"},
		{"mul negative", d("-2.5").Mul(d("4")), "-10.0"},
		{"shift to cents", d("0.0000035").Shift(2), "0.00035"},
		{"shift whole", d("12").Shift(2), "1200"},
		{"shift back", d("1234").Shift(-2), "12.34"},
		{"neg", d("3.10").Neg(), "-3.10"},
		{"reduce", d("1.2500").Reduce(), "1.25"},
		{"reduce integer", d("300.000").Reduce(), "300"},
		{"reduce keeps integer zeros", d("300").Reduce(), "300"},
		{"max", d("2").Max(d("2.5")), "2.5"},
		{"min", d("2").Min(d("2.5")), "2"},
	} {
		if got := tt.got.String(); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, got, tt.want)
		}
	}
	if d("1.50").Cmp(d("1.5")) != 0 || !d("1.50").Equal(d("1.5")) {
		t.Error("1.50 != 1.5")
	}
	if d("-0.1").Cmp(d("0")) != -1 || d("0.01").Cmp(d("0.001")) != 1 {
		t.Error("Cmp order wrong")
	}
	if v, ok := d("42.000").Int64(); !ok || v != 42 {
		t.Errorf("Int64(42.000) = %d, %v", v, ok)
	}
	if _, ok := d("42.5").Int64(); ok {
		t.Error("Int64(42.5) ok")
	}
	if _, ok := d("99999999999999999999").Int64(); ok {
		t.Error("Int64 of a 20-digit number ok")
	}
}

// The money rule: half away from zero, to a fixed number of places.
func TestDecimalRound(t *testing.T) {
	for _, tt := range []struct {
		in     string
		places int32
		want   string
	}{
		{"432.09845", 0, "432"},
		{"432.5", 0, "433"}, // banker's would give 432
		{"433.5", 0, "434"},
		{"432.49999", 0, "432"},
		{"0.5", 0, "1"},
		{"2.5", 0, "3"}, // banker's would give 2
		{"-2.5", 0, "-3"},
		{"-0.4", 0, "0"},
		{"1.005", 2, "1.01"},
		{"1.004999", 2, "1.00"},
		{"7", 2, "7.00"},
		{"0", 0, "0"},
	} {
		if got := d(tt.in).Round(tt.places).String(); got != tt.want {
			t.Errorf("Round(%s, %d) = %s, want %s", tt.in, tt.places, got, tt.want)
		}
	}
	for _, tt := range []struct{ num, den, want string }{
		{"9900", "31", "319"},  // 319.354...
		{"19900", "31", "642"}, // 641.935...
		{"1", "3", "0"},
		{"2", "3", "1"},
		{"3", "2", "2"},
		{"-3", "2", "-2"},
		{"1", "-3", "0"},
	} {
		if got := d(tt.num).QuoRound(d(tt.den), 0).String(); got != tt.want {
			t.Errorf("%s / %s rounded = %s, want %s", tt.num, tt.den, got, tt.want)
		}
	}
	for _, tt := range []struct{ num, den, want string }{
		{"2001", "1000", "3"},
		{"2000", "1000", "2"},
		{"0", "1000", "0"},
		{"0.5", "100", "1"},
		{"1.5", "0.5", "3"},
		{"1.6", "0.5", "4"},
	} {
		if got := d(tt.num).QuoCeil(d(tt.den)).String(); got != tt.want {
			t.Errorf("ceil(%s / %s) = %s, want %s", tt.num, tt.den, got, tt.want)
		}
	}
}

func TestDecimalJSON(t *testing.T) {
	b, err := json.Marshal(struct{ A, B Decimal }{d("0.0000035"), Decimal{}})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"A":"0.0000035","B":"0"}` {
		t.Errorf("got %s", b)
	}
	var v struct{ A, B Decimal }
	if err := json.Unmarshal([]byte(`{"A":"12.50","B":3.25}`), &v); err != nil {
		t.Fatal(err)
	}
	if v.A.String() != "12.50" || v.B.String() != "3.25" {
		t.Errorf("got %s %s", v.A, v.B)
	}
	if err := json.Unmarshal([]byte(`{"A":"x"}`), &v); err == nil {
		t.Error("want an error for a non-decimal string")
	}
}

// FuzzDecimal checks that String is a faithful, canonical form: parsing
// it gives back the same value and scale, and the value agrees with
// math/big's independent parser.
func FuzzDecimal(f *testing.F) {
	for _, s := range []string{"0", "-0.00", "1.50", "0.0000035", "3.5e-6", "1e9", ".5", "5.", "-12.345", "123456789012345678901234567890.5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 200 {
			return
		}
		v, err := ParseDecimal(s)
		if err != nil {
			return
		}
		out := v.String()
		w, err := ParseDecimal(out)
		if err != nil {
			t.Fatalf("ParseDecimal(%q) = %q, which does not parse: %v", s, out, err)
		}
		if w.String() != out || w.Scale() != v.Scale() || w.Cmp(v) != 0 {
			t.Fatalf("round trip of %q: %q then %q (scale %d, %d)", s, out, w.String(), v.Scale(), w.Scale())
		}
		if strings.ContainsAny(out, "eE+") {
			t.Fatalf("String(%q) = %q is not plain decimal notation", s, out)
		}
		if r, ok := new(big.Rat).SetString(s); ok && r.Cmp(v.Rat()) != 0 {
			t.Fatalf("ParseDecimal(%q) = %s, math/big says %s", s, out, r.RatString())
		}
		// Rounding never moves the value by more than half a unit of the
		// last place kept.
		rounded := v.Round(2)
		diff := new(big.Rat).Sub(v.Rat(), rounded.Rat())
		diff.Abs(diff)
		if diff.Cmp(big.NewRat(1, 200)) > 0 {
			t.Fatalf("Round(%s, 2) = %s is off by %s", out, rounded, diff.RatString())
		}
	})
}
