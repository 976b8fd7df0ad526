package billing

import (
	"testing"
)

// stripeExamples are the tier tables of Stripe's documentation, as
// keymeter config. Amounts in dollars.
const stripeExamples = `
currency: USD
meters:
  units: { measure: requests, source: apigateway }
plans:
  # Stripe, "Tiered pricing", https://stripe.com/docs/billing/subscriptions/tiers
  # Tiers: 1-5 $5 (up_to=5, unit_amount=500), 6-10 $4, 11-15 $3,
  # 16-20 $2, 21+ $1 (up_to=inf).
  tiers_volume:
    prices:
      units:
        model: volume
        tiers: &tiers
          - { up_to: 5, unit_amount: 5 }
          - { up_to: 10, unit_amount: 4 }
          - { up_to: 15, unit_amount: 3 }
          - { up_to: 20, unit_amount: 2 }
          - { up_to: inf, unit_amount: 1 }
  tiers_graduated:
    prices:
      units: { model: graduated, tiers: *tiers }
  # Stripe, "Set up tiered pricing" (the Typographic example),
  # https://docs.stripe.com/subscriptions/pricing-models/tiered-pricing
  # Tiers: 1-5 fonts 7 USD, 6-10 6.5 USD, 11+ 6 USD.
  typographic_volume:
    prices:
      units:
        model: volume
        tiers: &typographic
          - { up_to: 5, unit_amount: "7.00" }
          - { up_to: 10, unit_amount: "6.50" }
          - { up_to: inf, unit_amount: "6.00" }
  typographic_graduated:
    prices:
      units: { model: graduated, tiers: *typographic }
`

// TestStripeDocumentedExamples reproduces the totals of Stripe's tiered
// pricing documentation. Totals in cents. "doc" marks a figure printed in
// Stripe's page; the others are worked out here from Stripe's stated
// rule, with the arithmetic in the comment.
func TestStripeDocumentedExamples(t *testing.T) {
	cfg, err := ParseConfig([]byte(stripeExamples))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		plan  string
		qty   int64
		total string
	}{
		// Volume: the whole quantity at the unit cost of the tier it ends in.
		{"tiers_volume", 1, "500"},   // doc: $5
		{"tiers_volume", 5, "2500"},  // doc: $25
		{"tiers_volume", 6, "2400"},  // doc: $24 (6 × $4)
		{"tiers_volume", 20, "4000"}, // doc: $40 (20 × $2)
		{"tiers_volume", 25, "2500"}, // doc: $25 (25 × $1)
		// Graduated: each tier's units at that tier's price.
		{"tiers_graduated", 1, "500"},   // 1 × $5
		{"tiers_graduated", 5, "2500"},  // 5 × $5
		{"tiers_graduated", 6, "2900"},  // doc: $29 = $25 for 1-5 + $4 for the 6th
		{"tiers_graduated", 20, "7000"}, // $25 + $20 + $15 + $10
		{"tiers_graduated", 25, "7500"}, // $70 + 5 × $1

		{"typographic_volume", 1, "700"},       // doc: 7 USD
		{"typographic_volume", 5, "3500"},      // doc: 35 USD
		{"typographic_volume", 6, "3900"},      // doc: 39 USD (6 × 6.5)
		{"typographic_volume", 20, "12000"},    // doc: 120 USD
		{"typographic_volume", 25, "15000"},    // doc: 150 USD
		{"typographic_graduated", 5, "3500"},   // doc: 35 USD, as with volume
		{"typographic_graduated", 6, "4150"},   // 5 × 7 + 1 × 6.5 = 41.50 USD
		{"typographic_graduated", 20, "12750"}, // 35 + 5 × 6.5 + 10 × 6 = 127.50 USD
		{"typographic_graduated", 25, "15750"}, // 127.50 + 5 × 6 = 157.50 USD
	} {
		plan, ok := cfg.Plan(tt.plan)
		if !ok {
			t.Fatalf("no plan %s", tt.plan)
		}
		line, err := RatePrice(&plan.Prices[0], DecimalFromInt(tt.qty))
		if err != nil {
			t.Fatal(err)
		}
		if line.Amount.String() != tt.total {
			t.Errorf("%s × %d = %s cents, Stripe's docs say %s", tt.plan, tt.qty, line.Amount, tt.total)
		}
	}
}

// Stripe's flat_amount: graduated adds the flat amount of every tier the
// usage reaches; volume adds only the final tier's. Constructed from the
// semantics of Stripe's Price tiers (flat_amount: "price for the entire
// tier"), not from a printed example.
func TestStripeFlatAmounts(t *testing.T) {
	tiers := []Tier{
		{UpTo: d("10"), UnitAmount: d("100"), FlatAmount: d("1000")},
		{Inf: true, UnitAmount: d("50"), FlatAmount: d("2000")},
	}
	for _, tt := range []struct {
		model Model
		qty   string
		total string
	}{
		{Graduated, "10", "2000"}, // 10 × 100 + 1000
		{Graduated, "11", "4050"}, // 10 × 100 + 1000 + 1 × 50 + 2000
		{Volume, "10", "2000"},    // 10 × 100 + 1000
		{Volume, "11", "2550"},    // 11 × 50 + 2000
		{Graduated, "0", "0"},
		{Volume, "0", "0"},
	} {
		p := Price{Meter: Meter{Name: "m"}, Model: tt.model, Tiers: tiers}
		line, err := RatePrice(&p, d(tt.qty))
		if err != nil {
			t.Fatal(err)
		}
		if line.Amount.String() != tt.total {
			t.Errorf("%s × %s = %s, want %s", tt.model, tt.qty, line.Amount, tt.total)
		}
	}
}
