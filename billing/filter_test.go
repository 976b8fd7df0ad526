package billing

import (
	"testing"
)

func TestParseStatusRange(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want StatusRange
	}{
		{"5xx", StatusRange{Min: 500, Max: 599}},
		{"4XX", StatusRange{Min: 400, Max: 499}},
		{"1xx", StatusRange{Min: 100, Max: 199}},
		{"404", StatusRange{Min: 404, Max: 404}},
		{"000", StatusRange{Min: 0, Max: 0}},
	} {
		got, err := ParseStatusRange(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseStatusRange(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"6xx", "0xx", "5x", "5xxx", "600", "-12", "+12", "abc", "", "40", "4040"} {
		if r, err := ParseStatusRange(in); err == nil {
			t.Errorf("ParseStatusRange(%q) = %v, want an error", in, r)
		}
	}
	if s := (StatusRange{Min: 500, Max: 599}).String(); s != "5xx" {
		t.Errorf("String = %s", s)
	}
	if s := (StatusRange{Min: 0, Max: 0}).String(); s != "000" {
		t.Errorf("String = %s", s)
	}
}

func TestMeterQuantity(t *testing.T) {
	for _, tt := range []struct {
		unit Unit
		raw  int64
		want string
	}{
		{Unit{"request", 1}, 1234567, "1234567"},
		{Unit{"GB", 1_000_000_000}, 1_500_000_000, "1.5"},
		{Unit{"GB", 1 << 30}, 1_500_000_000, "1.3969838619232177734375"},
		{Unit{"GB", 1 << 30}, 1, "0.000000000931322574615478515625"},
		{Unit{"GiB", 1 << 30}, 3 << 30, "3"},
		{Unit{"MB", 1_000_000}, 0, "0"},
		{Unit{"TB", 1_000_000_000_000}, 123, "0.000000000123"},
	} {
		m := Meter{Unit: tt.unit}
		got := m.Quantity(i128(tt.raw))
		if got.String() != tt.want {
			t.Errorf("%d bytes in %s of %d = %s, want %s", tt.raw, tt.unit.Name, tt.unit.Bytes, got, tt.want)
		}
		// Exact: converting back gives the raw count.
		if back := got.Mul(DecimalFromInt(tt.unit.Bytes)); !back.Equal(DecimalFromInt(tt.raw)) {
			t.Errorf("%s × %d = %s, want %d", got, tt.unit.Bytes, back, tt.raw)
		}
	}
}
