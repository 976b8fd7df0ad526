package billing

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
)

func loadConfig(t *testing.T, name string) *Config {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig(b)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return c
}

func TestExampleConfig(t *testing.T) {
	c := loadConfig(t, "example.yaml")
	if c.Currency != (Currency{"USD", 2}) || c.Location != time.UTC || c.Periods != Calendar {
		t.Errorf("currency %v, zone %v, periods %v", c.Currency, c.Location, c.Periods)
	}
	var names []string
	for _, m := range c.Meters {
		names = append(names, m.Name)
	}
	if strings.Join(names, " ") != "api_requests egress origin_requests uploads" {
		t.Errorf("meters %v", names)
	}

	m, ok := c.Meter("api_requests")
	if !ok {
		t.Fatal("no api_requests meter")
	}
	f := m.Filter
	if f.Source != keymeter.SourceEdge || len(f.Include.Path) != 2 || len(f.Include.Method) != 5 ||
		len(f.Exclude.Status) != 1 || f.Exclude.Status[0] != (StatusRange{Min: 500, Max: 599}) ||
		strings.Join(f.Exclude.EdgeResult, ",") != "Error,LimitExceeded" || m.StripeEventName != "api_requests" {
		t.Errorf("api_requests filter %+v", f)
	}
	if eg, _ := c.Meter("egress"); eg.Unit != (Unit{"GB", 1_000_000_000}) || eg.Measure != MeasureBytesSent {
		t.Errorf("egress %+v", eg)
	}
	if up, _ := c.Meter("uploads"); up.Unit != (Unit{"GiB", 1 << 30}) || up.Source != keymeter.SourceAPIGateway {
		t.Errorf("uploads %+v", up)
	}

	starter, ok := c.Plan("starter")
	if !ok {
		t.Fatal("no starter plan")
	}
	// Major units in the file, minor units in memory, exactly.
	if starter.FlatFee.String() != "2900" || starter.MinimumSpend.String() != "4900" {
		t.Errorf("starter fee %s, minimum %s", starter.FlatFee, starter.MinimumSpend)
	}
	if p := starter.Prices[0]; p.Meter.Name != "api_requests" || p.Model != PerUnit ||
		p.UnitAmount.String() != "0.00035" || p.Included.String() != "1000000" {
		t.Errorf("starter api_requests price %+v", p)
	}
	if p := starter.Prices[1]; p.Model != Package || p.PackageSize.String() != "100" || p.PackageAmount.String() != "900" {
		t.Errorf("starter egress price %+v", p)
	}
	growth, _ := c.Plan("growth")
	if tiers := growth.Prices[0].Tiers; len(tiers) != 3 || !tiers[2].Inf || tiers[2].FlatAmount.String() != "5000" ||
		tiers[0].UpTo.String() != "10000000" || tiers[0].UnitAmount.String() != "0.0004" {
		t.Errorf("growth tiers %+v", tiers)
	}

	acme, ok := c.Customer("acme")
	if !ok || acme.Plan != "growth" || acme.Start != (Date{2025, time.October, 31}) ||
		acme.StripeCustomerID != "cus_Qx7acme" || acme.Location != time.UTC || acme.Periods != Calendar {
		t.Errorf("acme %+v", acme)
	}
	globex, _ := c.Customer("globex")
	if globex.Location.String() != "America/New_York" || globex.Periods != Anniversary {
		t.Errorf("globex %+v", globex)
	}

	if c.Costs == nil {
		t.Fatal("no cost rates")
	}
	if dt := c.Costs.DataTransfer; dt.Meter.Unit.Bytes != 1<<30 || len(dt.Tiers) != 2 || dt.Tiers[0].UnitAmount.String() != "8.5" {
		t.Errorf("data transfer %+v", dt)
	}
	if u := c.Costs.CloudFrontRequests.UnitAmount.String(); u != "0.0001" { // 1 cent / 10,000
		t.Errorf("cloudfront request unit amount %s cents", u)
	}

	// The example rates end to end: acme's first, prorated month.
	inv, err := c.Invoice("acme", "2025-10", raw(map[string]int64{"api_requests": 12_345_678, "egress": 1_500_000_000_000}))
	if err != nil {
		t.Fatal(err)
	}
	// Fee 19900 × 1/31 = 641.94 → 642; requests 10M × 0.0004 + 2,345,678
	// × 0.0003 = 4703.7034 → 4704; egress 1,500 GB, volume tier 2:
	// 1,500 × 7 = 10500; origin requests 0. Total 15846 cents.
	if inv.Total.String() != "15846" {
		t.Errorf("acme October total %s, want 15846", inv.Total)
	}
	checkInvoiceSums(t, inv)
}

// The bad config: four problems, all reported at once, each with
// its line.
func TestBadConfigListsEveryProblem(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "bad.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = ParseConfig(b)
	if err == nil {
		t.Fatal("bad.yaml loaded")
	}
	if code := keymeter.ErrorCode(err); code != keymeter.EINVALID {
		t.Errorf("error code %q, want %q", code, keymeter.EINVALID)
	}
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("error %T is not a *ConfigError", err)
	}
	want := []string{
		"line 4: currency: missing",
		"line 11: plans.pro.flat_fee: must not be negative (got -10.00)",
		`line 13: plans.pro.prices.requets: unknown meter "requets"`,
		"line 20: plans.pro.prices.requests.tiers[1].up_to: tiers overlap: up_to 500 is not above the previous tier's 1000",
	}
	if len(ce.Problems) != len(want) {
		t.Errorf("%d problems, want %d:\n%v", len(ce.Problems), len(want), err)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "billing config: 4 problems:\n") {
		t.Errorf("message does not start with the count:\n%s", msg)
	}
	for i, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("message lacks %q:\n%s", w, msg)
		}
		if i < len(ce.Problems) && !strings.HasPrefix(ce.Problems[i].String(), w) {
			t.Errorf("problem %d = %q, want it to start with %q", i, ce.Problems[i], w)
		}
	}
}

const goodBase = `
currency: USD
meters:
  req: { measure: requests, source: cloudfront }
  out: { measure: bytes_sent, source: cloudfront, unit: GB, unit_bytes: 1000000000 }
plans:
  p:
    prices:
      req: { model: per_unit, unit_amount: "0.001" }
customers:
  c: { plan: p, start: 2025-01-01 }
`

// Each snippet is a whole config with one kind of mistake; the error must
// name it, on the right line.
func TestConfigProblems(t *testing.T) {
	for _, tt := range []struct {
		name string
		yaml string
		want []string // substrings of the error, "line N: ..." included
	}{
		{"syntax error", "currency: [USD\n", []string{"line 1"}},
		{"empty file", "", []string{"empty"}},
		{"not a mapping", "- a\n- b\n", []string{"line 1: want a mapping"}},
		{"unknown top-level key", "currency: USD\ncurency: EUR\n", []string{`line 2: curency: unknown field`}},
		{"duplicate key", "currency: USD\ncurrency: EUR\n", []string{"line 2: currency: defined twice"}},
		{"bad currency", "currency: usd\n", []string{`line 1: currency: "usd" is not an ISO 4217 code`}},
		{"currency without minor units", "currency: XTS\n", []string{"line 1: currency: keymeter does not know how many minor-unit digits XTS has: add minor_units"}},
		{"currency with minor units", "currency: XTS\nminor_units: 2\n", nil},
		{"wrong minor units", "currency: USD\nminor_units: 3\n", []string{"line 2: minor_units: USD has 2"}},
		{"flat fee finer than the minor unit", "currency: JPY\nplans:\n  p:\n    flat_fee: \"0.5\"\n  q:\n    flat_fee: \"1200\"\n  r:\n    flat_fee: \"9.995\"\n", []string{
			"line 4: plans.p.flat_fee: must be a whole number of minor units (JPY has 0 digits after the point)",
			"line 8: plans.r.flat_fee: must be a whole number of minor units"}},
		{"unknown time zone", "currency: USD\ntime_zone: Mars/Olympus\n", []string{`line 2: time_zone: unknown time zone "Mars/Olympus"`}},
		{"unknown period kind", "currency: USD\nperiods: weekly\n", []string{`line 2: periods: unknown period kind "weekly"`}},
		{"meter problems", `currency: USD
meters:
  a: { measure: request, source: cloudfront }
  b: { measure: requests, source: cloudflare }
  c: { measure: bytes_sent, source: cloudfront, unit: GB }
  d: { measure: bytes_sent, source: cloudfront, unit: GB, unit_bytes: 1048576 }
  e: { measure: bytes_sent, source: cloudfront, unit: GiB, unit_bytes: 1000000000 }
  f: { measure: bytes_sent, source: cloudfront, unit: gigabytes }
  g: { measure: requests, source: apigateway, exclude: { edge_result: [Error] } }
  h: { measure: requests, source: cloudfront, exclude: { edge_result: [Eror], status: [6xx] } }
  i: { measure: requests, source: cloudfront, include: { path: [v1/*], method: [FETCH] } }
  j: { source: cloudfront }
  "bad name": { measure: requests, source: cloudfront }
  k: { measure: requests, source: cloudfront, unit: GB }
`, []string{
			`line 3: meters.a.measure: unknown measure "request"`,
			`line 4: meters.b.source: unknown source "cloudflare"`,
			`line 5: meters.c.unit_bytes: missing: say what one GB is, unit_bytes: 1000000000 (10^9) or 1073741824 (2^30)`,
			`line 6: meters.d.unit_bytes: a GB is 1000000000 or 1073741824 bytes (got 1048576)`,
			`line 7: meters.e.unit_bytes: a GiB is 1073741824 bytes`,
			`line 8: meters.f.unit: unknown byte unit "gigabytes"`,
			`line 9: meters.g.exclude.edge_result: API Gateway logs have no edge result`,
			`line 10: meters.h.exclude.edge_result[0]: unknown edge result type "Eror"`,
			`line 10: meters.h.exclude.status[0]: "6xx" is not a status code or class`,
			`line 11: meters.i.include.path[0]: path pattern "v1/*" must start with / or *`,
			`line 11: meters.i.include.method[0]: unknown HTTP method "FETCH"`,
			`line 12: meters.j.measure: missing`,
			`line 13: meters.bad name: meter names use`,
			`line 14: meters.k.unit: a requests meter counts in unit: request`,
		}},
		{"price problems", `currency: USD
meters:
  req: { measure: requests, source: cloudfront }
plans:
  p:
    minimum_spend: "10.005"
    prices:
      req: { model: tiered }
  q:
    prices:
      req: { model: per_unit, unit_amount: "0.01", package_size: 10 }
  r:
    prices:
      req: { model: package, package_size: 0, package_amount: "1" }
  s:
    prices:
      req: { model: package, package_size: 10 }
  t:
    prices:
      req: { included: -5, model: per_unit, unit_amount: abc }
`, []string{
			`line 6: plans.p.minimum_spend: must be a whole number of minor units`,
			`line 8: plans.p.prices.req.model: unknown price model "tiered" (want per_unit, package, graduated or volume)`,
			`line 11: plans.q.prices.req.package_size: not used by a per_unit price`,
			`line 14: plans.r.prices.req.package_size: must be above zero`,
			`line 17: plans.s.prices.req.package_amount: missing: a package price needs package_size and package_amount`,
			`line 20: plans.t.prices.req.included: must not be negative`,
			`line 20: plans.t.prices.req.unit_amount: "abc" is not a decimal number`,
		}},
		{"tier problems", `currency: USD
meters:
  req: { measure: requests, source: cloudfront }
plans:
  inf_not_last:
    prices:
      req:
        model: volume
        tiers:
          - { up_to: inf, unit_amount: 1 }
          - { up_to: 10, unit_amount: 2 }
  no_inf:
    prices:
      req:
        model: graduated
        tiers:
          - { up_to: 10, unit_amount: 1 }
  empty:
    prices:
      req: { model: graduated, tiers: [] }
  no_amount:
    prices:
      req:
        model: graduated
        tiers:
          - { up_to: 0 }
          - { up_to: inf, flat_amount: "-1" }
`, []string{
			`line 10: plans.inf_not_last.prices.req.tiers[0].up_to: only the last tier may be up_to: inf`,
			`line 11: plans.inf_not_last.prices.req.tiers[1].up_to: the last tier must be up_to: inf`,
			`line 17: plans.no_inf.prices.req.tiers[0].up_to: the last tier must be up_to: inf`,
			`line 20: plans.empty.prices.req.tiers: empty`,
			`line 26: plans.no_amount.prices.req.tiers[0]: missing: a tier needs unit_amount, flat_amount or both`,
			`line 26: plans.no_amount.prices.req.tiers[0].up_to: must be above zero`,
			`line 27: plans.no_amount.prices.req.tiers[1].flat_amount: must not be negative`,
		}},
		{"customer problems", goodBase + `  d: { plan: nope, start: 2025-02-30 }
  e: { start: 2025-01-01, stripe_customer_id: acme }
  f: { plan: p, time_zone: Nowhere, periods: weekly }
`, []string{
			`line 12: customers.d.plan: unknown plan "nope"`,
			`line 12: customers.d.start: "2025-02-30" is not a date`,
			`line 13: customers.e.plan: missing`,
			`line 13: customers.e.stripe_customer_id: "acme" is not a Stripe customer ID`,
			`line 14: customers.f.start: missing`,
			`line 14: customers.f.time_zone: unknown time zone "Nowhere"`,
			`line 14: customers.f.periods: unknown period kind "weekly"`,
		}},
		{"costs in another currency", `currency: EUR
costs:
  cloudfront_requests: { amount: "0.009", per: 3 }
`, []string{
			`line 2: costs.data_transfer: missing: the default rates are in USD, give this one in EUR`,
			`line 3: costs.cloudfront_requests.per: want a power of ten`,
			`line 2: costs.cloudfront_functions: missing`,
			`line 2: costs.apigateway_requests: missing`,
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.yaml))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			if keymeter.ErrorCode(err) != keymeter.EINVALID {
				t.Errorf("code %q", keymeter.ErrorCode(err))
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			var ce *ConfigError
			if errors.As(err, &ce) && len(ce.Problems) != len(tt.want) {
				t.Errorf("%d problems, want %d:\n%v", len(ce.Problems), len(tt.want), err)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := ParseConfig([]byte(goodBase))
	if err != nil {
		t.Fatal(err)
	}
	if c.Location != time.UTC || c.Periods != Calendar {
		t.Errorf("defaults: %v %v", c.Location, c.Periods)
	}
	a, _ := c.Customer("c")
	if a.Location != time.UTC || a.Periods != Calendar {
		t.Errorf("customer defaults: %v %v", a.Location, a.Periods)
	}
	// USD without a costs section gets the default AWS rates.
	if c.Costs == nil || c.Costs.APIGatewayRequests.UnitAmount.String() != "0.00035" {
		t.Errorf("default costs %+v", c.Costs)
	}
	eur, err := ParseConfig([]byte("currency: EUR\n"))
	if err != nil {
		t.Fatal(err)
	}
	if eur.Costs != nil {
		t.Error("EUR config got USD default cost rates")
	}
	if _, err := c.Invoice("nobody", "2025-10", nil); keymeter.ErrorCode(err) != keymeter.ENOTFOUND {
		t.Errorf("unknown customer: %v", err)
	}
}
