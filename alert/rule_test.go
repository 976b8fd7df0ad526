package alert_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/alert"
	"github.com/keymeter/keymeter/billing"
)

func dec(s string) billing.Decimal { return billing.MustParseDecimal(s) }

func decs(ss ...string) []billing.Decimal {
	out := make([]billing.Decimal, len(ss))
	for i, s := range ss {
		out[i] = dec(s)
	}
	return out
}

var secret = []byte("whsec_0123456789abcdef")

func billingConfig(t *testing.T) *billing.Config {
	t.Helper()
	data, err := os.ReadFile("testdata/billing.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := billing.ParseConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func goodRules() alert.Rules {
	return alert.Rules{
		{Name: "acme-requests", Customer: "acme", Meter: "api_requests", Kind: alert.Quantity, Thresholds: decs("500", "1000"), Rearm: dec("50"), URL: "https://hooks.example.com/keymeter", Secret: secret},
		{Name: "pro-80pct", Plan: "pro", Meter: "egress", Kind: alert.Percent, Thresholds: decs("80", "100", "150.5"), Rearm: dec("5"), URL: "http://127.0.0.1:9999/", Secret: secret},
		{Name: "acme-spend", Customer: "acme", Meter: "api_requests", Kind: alert.Amount, Thresholds: decs("5000"), URL: "https://hooks.example.com/spend", Secret: secret},
		{Name: "payg-spend", Plan: "payg", Meter: "api_requests", Kind: alert.Amount, Thresholds: decs("100"), URL: "https://hooks.example.com/spend", Secret: secret},
	}
}

func TestValidateGood(t *testing.T) {
	if err := goodRules().Validate(billingConfig(t)); err != nil {
		t.Fatal(err)
	}
	if err := goodRules().Validate(nil); err != nil {
		t.Fatal(err)
	}
	if err := alert.Rules(nil).Validate(nil); err != nil {
		t.Fatalf("no rules: %v", err)
	}
}

// TestValidateEveryProblem checks that one Validate reports every
// problem of every rule, each with its place.
func TestValidateEveryProblem(t *testing.T) {
	rules := alert.Rules{
		// 0: fine.
		goodRules()[0],
		// 1: no name, neither customer nor plan, no meter, no kind, no
		// thresholds, no URL, no secret.
		{},
		// 2: same name as 0, both scopes, bad thresholds, bad margin,
		// bad URL, short secret.
		{Name: "acme-requests", Customer: "acme", Plan: "pro", Meter: "api_requests", Kind: alert.Quantity,
			Thresholds: decs("0", "1.5", "10", "10"), Rearm: dec("-1"), URL: "ftp://example.com/", Secret: []byte("short")},
		// 3: bad name, unknown kind, user info in the URL.
		{Name: "bad name", Plan: "pro", Meter: "api_requests", Kind: "ratio", Thresholds: decs("1"), URL: "https://user:pw@example.com/", Secret: secret},
		// 4: a margin as large as the smallest threshold; no host.
		{Name: "wide", Plan: "pro", Meter: "api_requests", Kind: alert.Percent, Thresholds: decs("50", "80"), Rearm: dec("50"), URL: "https:///path", Secret: secret},
		// 5: against the billing config: unknown meter and plan.
		{Name: "ghost", Plan: "enterprise", Meter: "nope", Kind: alert.Quantity, Thresholds: decs("1"), URL: "https://example.com/", Secret: secret},
		// 6: percent of a meter the customer's plan includes nothing of.
		{Name: "initech-pct", Customer: "initech", Meter: "api_requests", Kind: alert.Percent, Thresholds: decs("80"), URL: "https://example.com/", Secret: secret},
		// 7: amount of a meter the plan does not price; unknown customer in 8.
		{Name: "pro-uploads", Plan: "pro", Meter: "uploads", Kind: alert.Amount, Thresholds: decs("1"), URL: "https://example.com/", Secret: secret},
		{Name: "who", Customer: "hooli", Meter: "api_requests", Kind: alert.Quantity, Thresholds: decs("1"), URL: "https://example.com/#frag", Secret: secret},
		// 9: a fractional quantity margin.
		{Name: "frac", Plan: "pro", Meter: "api_requests", Kind: alert.Quantity, Thresholds: decs("10"), Rearm: dec("0.5"), URL: "https://example.com/", Secret: secret},
	}
	err := rules.Validate(billingConfig(t))
	var ve *alert.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Validate = %v, want a *ValidationError", err)
	}
	if keymeter.ErrorCode(err) != keymeter.EINVALID {
		t.Errorf("code %q, want EINVALID", keymeter.ErrorCode(err))
	}
	want := []string{
		"rules[1]: name: missing",
		"rules[1]: names neither a customer nor a plan",
		"rules[1]: meter: missing",
		"rules[1]: kind: missing (quantity, percent or amount)",
		"rules[1]: thresholds: missing: give at least one",
		"rules[1]: url: missing",
		"rules[1]: secret: missing",
		"rules[2] (acme-requests): name: also the name of rules[0]",
		`rules[2] (acme-requests): names both a customer ("acme") and a plan ("pro"); give one`,
		"rules[2] (acme-requests): thresholds[0]: 0: must be positive",
		"rules[2] (acme-requests): thresholds[1]: 1.5: a quantity threshold is a whole number of requests or bytes",
		"rules[2] (acme-requests): thresholds[3]: 10: thresholds must increase (follows 10)",
		"rules[2] (acme-requests): rearm: -1: must not be negative",
		`rules[2] (acme-requests): url: "ftp://example.com/": want an http:// or https:// URL`,
		"rules[2] (acme-requests): secret: too short: 5 bytes, want at least 16",
		`rules[3] (bad name): name: "bad name" is not a name`,
		`rules[3] (bad name): kind: "ratio" is not quantity, percent or amount`,
		"rules[3] (bad name): url: must not carry a user or password",
		"rules[4] (wide): rearm: 50: must be less than the smallest threshold (50)",
		`rules[4] (wide): url: "https:///path" has no host`,
		`rules[5] (ghost): meter: "nope" is not a meter of the billing config`,
		`rules[5] (ghost): plan: "enterprise" is not a plan of the billing config`,
		`rules[6] (initech-pct): kind: customer "initech"'s plan "payg" includes no units of meter "api_requests"`,
		`rules[7] (pro-uploads): meter: plan "pro" does not price meter "uploads", so its amount stays 0`,
		`rules[8] (who): url: "https://example.com/#frag": a fragment is never sent`,
		`rules[8] (who): customer: "hooli" is not a customer`,
		"rules[9] (frac): rearm: 0.5: a quantity margin is a whole number",
	}
	if len(ve.Problems) != len(want) {
		t.Errorf("%d problems, want %d:\n%v", len(ve.Problems), len(want), err)
	}
	msg := err.Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("missing problem %q", w)
		}
	}
	for _, p := range ve.Problems {
		if p.Index == 0 {
			t.Errorf("problem reported for the good rule: %s", p)
		}
	}
	if !strings.HasPrefix(msg, "alert rules: 27 problems:\n  rules[1]: name: missing") {
		t.Errorf("message starts %q", msg[:min(len(msg), 60)])
	}
}
