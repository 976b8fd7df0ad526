package billing

import (
	"testing"

	"github.com/keymeter/keymeter"
)

func TestCostDefaultRates(t *testing.T) {
	r := DefaultRates()
	// The rates, in cents per unit.
	for _, tt := range []struct {
		name string
		got  Decimal
		want string
	}{
		{"data transfer per GB", r.DataTransfer.Tiers[0].UnitAmount, "8.5"},              // $0.085
		{"CloudFront request", r.CloudFrontRequests.UnitAmount, "0.0001"},                // $0.0100 / 10,000
		{"CloudFront Functions invocation", r.CloudFrontFunctions.UnitAmount, "0.00001"}, // $0.10 / 1,000,000
		{"API Gateway REST request", r.APIGatewayRequests.UnitAmount, "0.00035"},         // $3.50 / 1,000,000
	} {
		if tt.got.String() != tt.want {
			t.Errorf("%s: %s cents, want %s", tt.name, tt.got, tt.want)
		}
	}
	if r.DataTransfer.Meter.Unit.Bytes != 1<<30 {
		t.Errorf("data transfer GB is %d bytes", r.DataTransfer.Meter.Unit.Bytes)
	}

	rep, err := Cost(r, CostUsage{
		CloudFrontBytesSent: i128(2 << 40), // 2 TiB = 2,048 GB
		CloudFrontRequests:  i128(123_456_789),
		FunctionInvocations: i128(123_456_789),
		APIGatewayRequests:  i128(50_000_000),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ meter, amount string }{
		{CostDataTransfer, "17408"},       // 2,048 × 8.5
		{CostCloudFrontRequests, "12346"}, // 12,345.6789
		{CostCloudFrontFunctions, "1235"}, // 1,234.56789
		{CostAPIGatewayRequests, "17500"}, // 50,000,000 × 0.00035
	}
	if len(rep.Lines) != len(want) {
		t.Fatalf("%d lines", len(rep.Lines))
	}
	for i, w := range want {
		if l := rep.Lines[i]; l.Meter != w.meter || l.Amount.String() != w.amount || l.Kind != LineCost {
			t.Errorf("line %d: %s %s %s, want %s %s", i, l.Kind, l.Meter, l.Amount, w.meter, w.amount)
		}
	}
	if rep.Total.String() != "48489" {
		t.Errorf("total %s, want 48489", rep.Total)
	}

	inv := &Invoice{Currency: r.Currency, Total: d("100000")}
	m, err := MarginOf(inv, rep)
	if err != nil {
		t.Fatal(err)
	}
	if m.Margin.String() != "51511" || m.Percent == nil || m.Percent.String() != "51.51" {
		t.Errorf("margin %s (%v%%)", m.Margin, m.Percent)
	}
	loss, _ := MarginOf(&Invoice{Currency: r.Currency, Total: d("40000")}, rep)
	if loss.Margin.String() != "-8489" || loss.Percent.String() != "-21.22" { // -21.2225
		t.Errorf("loss %s (%v%%)", loss.Margin, loss.Percent)
	}
	if free, _ := MarginOf(&Invoice{Currency: r.Currency}, rep); free.Percent != nil {
		t.Errorf("percent of zero revenue: %v", free.Percent)
	}
	if _, err := MarginOf(&Invoice{Currency: Currency{"EUR", 2}}, rep); keymeter.ErrorCode(err) != keymeter.EINVALID {
		t.Errorf("currency mismatch: %v", err)
	}
	if _, err := Cost(r, CostUsage{APIGatewayRequests: i128(-1)}); keymeter.ErrorCode(err) != keymeter.EINVALID {
		t.Errorf("negative usage: %v", err)
	}
	if _, err := Cost(nil, CostUsage{}); keymeter.ErrorCode(err) != keymeter.EINVALID {
		t.Errorf("no rates: %v", err)
	}
}

// The example config's tiered data transfer: 10 TB at $0.085, the rest at
// $0.080, graduated.
func TestCostTieredDataTransfer(t *testing.T) {
	c := loadConfig(t, "example.yaml")
	rep, err := Cost(c.Costs, CostUsage{CloudFrontBytesSent: i128(12 << 40)}) // 12 TiB = 12,288 GB
	if err != nil {
		t.Fatal(err)
	}
	// 10,240 × 8.5 + 2,048 × 8 = 87,040 + 16,384 = 103,424 cents.
	if got := rep.Lines[0].Amount.String(); got != "103424" {
		t.Errorf("data transfer %s, want 103424", got)
	}
}
