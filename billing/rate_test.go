package billing

import (
	"testing"
	"time"

	"github.com/keymeter/keymeter"
)

func TestRatePriceModels(t *testing.T) {
	m := Meter{Name: "m", Unit: Unit{"request", 1}}
	tiers := []Tier{{UpTo: d("100"), UnitAmount: d("2")}, {UpTo: d("1000"), UnitAmount: d("1")}, {Inf: true, UnitAmount: d("0.5")}}
	for _, tt := range []struct {
		name  string
		price Price
		qty   string
		exact string
		total string
	}{
		{"per unit", Price{Model: PerUnit, UnitAmount: d("0.25")}, "10", "2.5", "3"},
		{"per unit fractional quantity", Price{Model: PerUnit, UnitAmount: d("9")}, "1.5", "13.5", "14"},
		{"per unit with included", Price{Model: PerUnit, UnitAmount: d("1"), Included: d("3")}, "10", "7", "7"},
		{"package exact multiple", Price{Model: Package, PackageSize: d("10"), PackageAmount: d("50")}, "30", "150", "150"},
		{"package one over", Price{Model: Package, PackageSize: d("10"), PackageAmount: d("50")}, "31", "200", "200"},
		{"package fractional quantity", Price{Model: Package, PackageSize: d("1"), PackageAmount: d("7")}, "0.001", "7", "7"},
		{"package after included", Price{Model: Package, PackageSize: d("10"), PackageAmount: d("50"), Included: d("25")}, "30", "50", "50"},
		{"package zero", Price{Model: Package, PackageSize: d("10"), PackageAmount: d("50")}, "0", "0", "0"},
		{"graduated just past a bound", Price{Model: Graduated, Tiers: tiers}, "101", "201", "201"},
		{"graduated deep", Price{Model: Graduated, Tiers: tiers}, "2000", "1600", "1600"}, // 200 + 900 + 500
		{"volume at a bound", Price{Model: Volume, Tiers: tiers}, "1000", "1000", "1000"},
		{"volume past the last bound", Price{Model: Volume, Tiers: tiers}, "1001", "500.5", "501"},
		{"volume fractional", Price{Model: Volume, Tiers: tiers}, "100.5", "100.5", "101"},
	} {
		p := tt.price
		p.Meter = m
		line, err := RatePrice(&p, d(tt.qty))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if line.ExactAmount.String() != tt.exact || line.Amount.String() != tt.total {
			t.Errorf("%s: exact %s amount %s, want %s and %s", tt.name, line.ExactAmount, line.Amount, tt.exact, tt.total)
		}
	}
}

func TestRatePriceRefusesBadInput(t *testing.T) {
	m := Meter{Name: "m"}
	for _, tt := range []struct {
		name  string
		price Price
		qty   string
	}{
		{"negative quantity", Price{Meter: m, Model: PerUnit}, "-1"},
		{"unknown model", Price{Meter: m, Model: "stairstep"}, "1"},
		{"zero package", Price{Meter: m, Model: Package}, "1"},
		{"no tiers", Price{Meter: m, Model: Graduated}, "1"},
		{"last tier bounded", Price{Meter: m, Model: Volume, Tiers: []Tier{{UpTo: d("5")}}}, "1"},
		{"unsorted tiers", Price{Meter: m, Model: Graduated, Tiers: []Tier{{UpTo: d("5")}, {UpTo: d("5")}, {Inf: true}}}, "1"},
		{"inf in the middle", Price{Meter: m, Model: Volume, Tiers: []Tier{{Inf: true}, {Inf: true}}}, "1"},
	} {
		if _, err := RatePrice(&tt.price, d(tt.qty)); keymeter.ErrorCode(err) != keymeter.EINVALID {
			t.Errorf("%s: err = %v, want EINVALID", tt.name, err)
		}
	}
}

func TestRate(t *testing.T) {
	req := Meter{Name: "req", Unit: Unit{"request", 1}}
	gb := Meter{Name: "gb", Unit: Unit{"GB", 1 << 30}}
	plan := &Plan{
		Name:     "p",
		Currency: Currency{"USD", 2},
		FlatFee:  d("1000"),
		Prices: []Price{ // deliberately not sorted: Rate orders lines by meter
			{Meter: req, Model: PerUnit, UnitAmount: d("0.1")},
			{Meter: gb, Model: PerUnit, UnitAmount: d("8.5")},
		},
	}
	a := &Assignment{Customer: "c", Start: Date{2025, time.January, 1}}
	p, err := PeriodFor(a, "2025-10")
	if err != nil {
		t.Fatal(err)
	}
	inv, err := Rate(plan, p, raw(map[string]int64{"req": 15, "gb": 3 << 29, "unpriced": 99}), Options{Customer: "c"})
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, l := range inv.Lines {
		order = append(order, string(l.Kind)+":"+l.Meter)
	}
	if got := order; len(got) != 3 || got[0] != "flat_fee:" || got[1] != "usage:gb" || got[2] != "usage:req" {
		t.Errorf("lines %v", got)
	}
	// 1000 + 1.5 GB × 8.5 = 12.75 → 13 + 15 × 0.1 = 1.5 → 2: 1015.
	if inv.Total.String() != "1015" || inv.Customer != "c" || inv.Currency.Code != "USD" {
		t.Errorf("total %s, customer %q, currency %v", inv.Total, inv.Customer, inv.Currency)
	}
	checkInvoiceSums(t, inv)

	if _, err := Rate(plan, p, raw(map[string]int64{"req": -1}), Options{}); keymeter.ErrorCode(err) != keymeter.EINVALID {
		t.Errorf("negative usage: %v", err)
	}
	if _, err := Rate(&Plan{MinimumSpend: d("0.5")}, p, nil, Options{}); keymeter.ErrorCode(err) != keymeter.EINVALID {
		t.Errorf("fractional minimum: %v", err)
	}
	if _, err := Rate(plan, Period{}, nil, Options{}); keymeter.ErrorCode(err) != keymeter.EINVALID {
		t.Errorf("empty period: %v", err)
	}
}

// Proration on each day of a 31-day month, and the rounding of the
// prorated fee: once, from the exact fraction.
func TestFlatFeeProration(t *testing.T) {
	plan := &Plan{Name: "p", FlatFee: d("9900")}
	for _, tt := range []struct {
		start string
		want  string
	}{
		{"2025-10-01", "9900"}, // whole month
		{"2025-10-02", "9581"}, // 9900 × 30/31 = 9580.645...
		{"2025-10-16", "5110"}, // 9900 × 16/31 = 5109.677...
		{"2025-10-31", "319"},  // 9900 × 1/31 = 319.354...
	} {
		a := &Assignment{Customer: "c", Start: mustDate(t, tt.start)}
		p, err := PeriodFor(a, "2025-10")
		if err != nil {
			t.Fatal(err)
		}
		inv, err := Rate(plan, p, nil, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := inv.Lines[0].Amount.String(); got != tt.want {
			t.Errorf("start %s: fee %s, want %s", tt.start, got, tt.want)
		}
	}
}

// checkInvoiceSums checks the invariants of every invoice: lines are
// whole minor units, the subtotal is their sum before the top-up, and
// the total is the sum of all lines and never below the minimum.
func checkInvoiceSums(t *testing.T, inv *Invoice) {
	t.Helper()
	var sum, regular Decimal
	for _, l := range inv.Lines {
		if !l.Amount.IsInteger() || l.Amount.Sign() < 0 {
			t.Errorf("line %s %s: amount %s is not a whole, non-negative number of minor units", l.Kind, l.Meter, l.Amount)
		}
		if l.ExactAmount != nil && !l.ExactAmount.Round(0).Equal(l.Amount) {
			t.Errorf("line %s %s: amount %s is not exact amount %s rounded", l.Kind, l.Meter, l.Amount, l.ExactAmount)
		}
		var tiers Decimal
		for _, tl := range l.Tiers {
			tiers = tiers.Add(tl.Amount)
		}
		if len(l.Tiers) > 0 && !tiers.Equal(*l.ExactAmount) {
			t.Errorf("line %s: tiers add up to %s, exact amount is %s", l.Meter, tiers, l.ExactAmount)
		}
		sum = sum.Add(l.Amount)
		if l.Kind != LineMinimumSpend {
			regular = regular.Add(l.Amount)
		}
	}
	if !regular.Equal(inv.Subtotal) || !sum.Equal(inv.Total) || !inv.Subtotal.Add(inv.MinimumSpendAdjustment).Equal(inv.Total) {
		t.Errorf("subtotal %s (lines %s), adjustment %s, total %s (lines %s)", inv.Subtotal, regular, inv.MinimumSpendAdjustment, inv.Total, sum)
	}
	if inv.Total.Cmp(inv.MinimumSpend) < 0 {
		t.Errorf("total %s below the minimum %s", inv.Total, inv.MinimumSpend)
	}
}
