package billing

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// goldenCases are the rating cases: a customer of testdata/golden.yaml,
// a billing month and usage in, an invoice out. total is worked out by
// hand in the comment, so a wrong golden file cannot pass unnoticed.
// Amounts are cents.
var goldenCases = []struct {
	name     string
	customer string
	month    string
	usage    map[string]int64
	total    string
}{
	// $99.00 for a whole month.
	{"flat", "c_flat", "2025-10", nil, "9900"},
	// 12,345 × $0.001 = $12.345 = 1234.5 cents → 1235 (half up).
	{"per_unit", "c_per_unit", "2025-10", map[string]int64{"requests": 12345}, "1235"},
	// 1,234,567 × $0.0000035 = $4.3209845 = 432.09845 cents → 432.
	{"per_unit_tiny_price", "c_tiny", "2025-10", map[string]int64{"requests": 1234567}, "432"},
	// 1,500,000,000,000 bytes = 1,500 GB of 10^9 bytes; × $0.09 = $135.
	{"per_unit_gb", "c_per_gb", "2025-10", map[string]int64{"egress": 1_500_000_000_000}, "13500"},
	// 2,001 requests in packages of 1,000 → ⌈2.001⌉ = 3 packages × $2.
	{"package_remainder", "c_package", "2025-10", map[string]int64{"requests": 2001}, "600"},
	// 1,000 requests, exactly tier 1's bound: 1,000 × $0.01 = $10; tier 2
	// (and its $5 flat amount) is not reached.
	{"graduated_at_boundary", "c_graduated", "2025-10", map[string]int64{"requests": 1000}, "1000"},
	// 6,500: 1,000 × $0.01 + 4,000 × $0.008 + $5 flat + 1,500 × $0.005
	// = $10 + $32 + $5 + $7.50 = $54.50.
	{"graduated_across_tiers", "c_graduated", "2025-10", map[string]int64{"requests": 6500}, "5450"},
	// 1,001 is one over tier 1's bound: every unit at tier 2's price,
	// 1,001 × $0.006 + $2 flat = $8.006 → 800.6 cents → 801: less than
	// the $10.00 that 1,000 costs.
	{"volume_tier_jump", "c_volume", "2025-10", map[string]int64{"requests": 1001}, "801"},
	// No usage: no tier is reached, no flat amount is charged.
	{"zero_usage", "c_graduated", "2025-10", map[string]int64{"requests": 0}, "0"},
	// 2,500 requests, 10,000 included: nothing billable.
	{"free_units_exceed_usage", "c_included", "2025-10", map[string]int64{"requests": 2500}, "0"},
	// 1,700 requests, 500 included: 1,200 billable, and the tiers count
	// billable units: 1,000 × $0.01 + 200 × $0.005 = $11.
	{"free_units_then_tiers", "c_included_graduated", "2025-10", map[string]int64{"requests": 1700}, "1100"},
	// $5 fee + 1,234 × $0.001 = $1.234 → 123 cents; subtotal $6.23 is
	// under the $25 minimum: a $18.77 top-up line.
	{"minimum_spend_topup", "c_minimum", "2025-10", map[string]int64{"requests": 1234}, "2500"},
	// Starts Oct 31: 1 of 31 days, 9900 × 1/31 = 319.35... → 319.
	{"proration_from_31st", "c_late", "2025-10", nil, "319"},
	// Starts Oct 31 on a plan with a minimum: the $5 fee is prorated to
	// 500/31 = 16.13 → 16 cents, and the minimum is not: top-up to $25.
	{"proration_with_minimum", "c_late_minimum", "2025-10", nil, "2500"},
	// October in New York is [Oct 1 04:00Z, Nov 1 04:00Z); the usage
	// counted in it is the caller's, 1,000 × $0.001 = $1.
	{"month_boundary_new_york", "c_new_york", "2025-10", map[string]int64{"requests": 1000}, "100"},
	// Anniversary from Jan 31: the "2025-02" period is Feb 28 to Mar 31,
	// 31 days, billed in full.
	{"anniversary_from_jan31", "c_anniversary", "2025-02", nil, "9900"},
}

func TestGoldenInvoices(t *testing.T) {
	cfg := loadConfig(t, "golden.yaml")
	seen := map[string]bool{}
	for _, tt := range goldenCases {
		t.Run(tt.name, func(t *testing.T) {
			if seen[tt.name] {
				t.Fatal("duplicate case name")
			}
			seen[tt.name] = true
			inv, err := cfg.Invoice(tt.customer, tt.month, raw(tt.usage))
			if err != nil {
				t.Fatal(err)
			}
			if inv.Total.String() != tt.total {
				t.Errorf("total = %s, want %s", inv.Total, tt.total)
			}
			checkInvoiceSums(t, inv)
			got, err := json.MarshalIndent(inv, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			// Rating again gives the same bytes.
			again, _ := cfg.Invoice(tt.customer, tt.month, raw(tt.usage))
			if b, _ := json.MarshalIndent(again, "", "  "); !bytes.Equal(append(b, '\n'), got) {
				t.Error("rating twice gave different JSON")
			}
			path := filepath.Join("testdata", "golden", tt.name+".json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./billing -run TestGoldenInvoices -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("invoice differs from %s (rerun with -update if the change is intended):\n%s", path, got)
			}
		})
	}
}
