package alert_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"math/rand/v2"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/alert"
	"github.com/keymeter/keymeter/billing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var (
	ctx = context.Background()
	t0  = time.Date(2025, 10, 12, 10, 0, 0, 0, time.UTC)
)

func period(t *testing.T, month string) billing.Period {
	t.Helper()
	p, err := billing.PeriodFor(&billing.Assignment{Customer: "acme", Plan: "pro", Start: billing.Date{Year: 2025, Month: 1, Day: 1}}, month)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// step evaluates one commit through a MemStore transaction and returns
// the messages it enqueued.
func step(t *testing.T, s *alert.MemStore, rules []alert.Rule, in alert.Input) alert.Result {
	t.Helper()
	var res alert.Result
	err := s.Update(ctx, func(tx alert.Tx) error {
		var err error
		res, err = alert.Apply(ctx, tx, rules, in)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func payload(t *testing.T, m alert.Message) alert.Payload {
	t.Helper()
	var p alert.Payload
	if err := json.Unmarshal(m.Body, &p); err != nil {
		t.Fatalf("body %s: %v", m.Body, err)
	}
	if p.IdempotencyKey != m.Key {
		t.Fatalf("body carries key %q, message %q", p.IdempotencyKey, m.Key)
	}
	return p
}

// TestHysteresis feeds values hovering around a threshold: it fires once
// when reached, stays quiet while the value hovers within the margin,
// re-arms only below threshold - margin, fires again (a new crossing, a
// new key) when reached again, and starts over in the next period.
func TestHysteresis(t *testing.T) {
	rules := []alert.Rule{{Name: "q", Customer: "acme", Meter: "api_requests", Kind: alert.Quantity,
		Thresholds: decs("1000"), Rearm: dec("100"), URL: "http://127.0.0.1:9/", Secret: secret}}
	s := alert.NewMemStore()
	oct := period(t, "2025-10")
	steps := []struct {
		q       int64
		fires   int64 // crossing number fired, 0 for none
		rearmed bool
		fired   bool // state after the step
	}{
		{q: 990},
		{q: 1000, fires: 1, fired: true},
		{q: 999, fired: true},
		{q: 1001, fired: true},
		{q: 950, fired: true},
		{q: 1000, fired: true},
		{q: 900, fired: true}, // not below 1000 - 100
		{q: 1200, fired: true},
		{q: 899, rearmed: true}, // a reprocess removed duplicates
		{q: 950},
		{q: 999},
		{q: 1000, fires: 2, fired: true},
		{q: 1000, fired: true},
		{q: 1050, fired: true},
	}
	var keys []string
	for i, st := range steps {
		in := alert.Input{Customer: "acme", Plan: "pro", Period: oct, At: t0.Add(time.Duration(i) * time.Minute),
			Values: []alert.Values{{Meter: "api_requests", Quantity: st.q}}}
		res := step(t, s, rules, in)
		switch {
		case st.fires == 0 && len(res.Messages) != 0:
			t.Errorf("step %d (q=%d): fired %d messages, want none", i, st.q, len(res.Messages))
		case st.fires != 0:
			if len(res.Messages) != 1 {
				t.Fatalf("step %d (q=%d): %d messages, want 1", i, st.q, len(res.Messages))
			}
			p := payload(t, res.Messages[0])
			if p.Event.Crossing != st.fires || p.Event.Quantity != st.q || p.Event.Value.String() != billing.DecimalFromInt(st.q).String() ||
				!p.Event.CrossedAt.Equal(in.At) || p.Event.Threshold.String() != "1000" {
				t.Errorf("step %d: event %+v", i, p.Event)
			}
			keys = append(keys, res.Messages[0].Key)
		}
		if st.rearmed != (len(res.Crossings) == 1 && !res.Crossings[0].Fired) {
			t.Errorf("step %d (q=%d): crossings %+v, rearmed want %v", i, st.q, res.Crossings, st.rearmed)
		}
		cs, _ := s.Crossings(ctx, "acme", "2025-10")
		if fired := len(cs) == 1 && cs[0].Fired; fired != st.fired || len(cs) > 1 {
			t.Errorf("step %d (q=%d): state %+v, fired want %v", i, st.q, cs, st.fired)
		}
	}
	if len(keys) != 2 || keys[0] == keys[1] {
		t.Fatalf("keys %v: want two distinct", keys)
	}
	if keys[0] != alert.IdempotencyKey("q", "acme", "2025-10", alert.Quantity, dec("1000.0"), 1) {
		t.Errorf("key %s is not IdempotencyKey(q, acme, 2025-10, quantity, 1000, 1)", keys[0])
	}
	// The next period has its own state: the same usage fires again.
	res := step(t, s, rules, alert.Input{Customer: "acme", Plan: "pro", Period: period(t, "2025-11"), At: t0.Add(30 * 24 * time.Hour),
		Values: []alert.Values{{Meter: "api_requests", Quantity: 1500}}})
	if len(res.Messages) != 1 || payload(t, res.Messages[0]).Event.Crossing != 1 || payload(t, res.Messages[0]).Event.Period.Month != "2025-11" {
		t.Errorf("next period: %+v", res.Messages)
	}
	ms, _ := s.Messages(ctx, alert.Filter{})
	if len(ms) != 3 {
		t.Errorf("outbox holds %d messages, want 3", len(ms))
	}
}

// TestHoverNoStream: thousands of commits with usage wandering around a
// threshold inside the margin send one alert; a rule without a margin
// sends one however far the value falls and climbs back.
func TestHoverNoStream(t *testing.T) {
	rules := []alert.Rule{
		{Name: "margin", Customer: "acme", Meter: "api_requests", Kind: alert.Percent, Thresholds: decs("80"), Rearm: dec("5"), URL: "http://127.0.0.1:9/", Secret: secret},
		{Name: "once", Customer: "acme", Meter: "api_requests", Kind: alert.Percent, Thresholds: decs("80"), URL: "http://127.0.0.1:9/", Secret: secret},
	}
	s := alert.NewMemStore()
	r := rand.New(rand.NewPCG(1, 2))
	oct := period(t, "2025-10")
	count := map[string]int{}
	for i := range 3000 {
		// Included 1000 units: 80 % is 800; the margin re-arms below 750.
		q := int64(751 + r.IntN(100))
		if i > 2000 {
			q = int64(r.IntN(1000)) // wanders far: "once" still stays quiet
		}
		res := step(t, s, rules, alert.Input{Customer: "acme", Period: oct, At: t0.Add(time.Duration(i) * time.Second),
			Values: []alert.Values{{Meter: "api_requests", Quantity: q, Included: dec("1000")}}})
		for _, m := range res.Messages {
			count[m.Rule]++
		}
		if i == 2000 && (count["margin"] != 1 || count["once"] != 1) {
			t.Fatalf("after 2000 hovering commits: %v, want one each", count)
		}
	}
	if count["once"] != 1 {
		t.Errorf("rule without a margin fired %d times", count["once"])
	}
	if count["margin"] < 2 {
		t.Errorf("rule with a margin fired %d times after wandering below it, want re-fires", count["margin"])
	}
}

// TestEvaluateKinds: percentages are compared exactly, amounts in minor
// units, several thresholds of a rule fire on their own, rules apply by
// customer or plan, and a percent rule without included units is
// skipped with a reason.
func TestEvaluateKinds(t *testing.T) {
	rules := []alert.Rule{
		{Name: "third", Plan: "pro", Meter: "api_requests", Kind: alert.Percent, Thresholds: decs("33.333", "33.334"), URL: "http://127.0.0.1:9/", Secret: secret},
		{Name: "spend", Customer: "acme", Meter: "egress", Kind: alert.Amount, Thresholds: decs("100", "250", "1000"), URL: "http://127.0.0.1:9/", Secret: secret},
		{Name: "other-customer", Customer: "globex", Meter: "api_requests", Kind: alert.Quantity, Thresholds: decs("1"), URL: "http://127.0.0.1:9/", Secret: secret},
		{Name: "other-plan", Plan: "payg", Meter: "api_requests", Kind: alert.Quantity, Thresholds: decs("1"), URL: "http://127.0.0.1:9/", Secret: secret},
		{Name: "no-included", Customer: "acme", Meter: "uploads", Kind: alert.Percent, Thresholds: decs("50"), URL: "http://127.0.0.1:9/", Secret: secret},
	}
	in := alert.Input{Customer: "acme", Plan: "pro", Period: period(t, "2025-10"), At: t0, Currency: billing.Currency{Code: "USD", MinorUnits: 2}, Values: []alert.Values{
		// 1 of 3 included: 33.333...% reaches 33.333 but not 33.334.
		{Meter: "api_requests", Quantity: 1, Included: dec("3")},
		{Meter: "egress", Quantity: 5_000_000_000, Amount: dec("250")},
	}}
	res, err := alert.Evaluate(rules, in, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range res.Messages {
		p := payload(t, m)
		got = append(got, m.Rule+"@"+p.Event.Threshold.String()+"="+p.Event.Value.String())
		if (p.Event.Kind == alert.Amount) != (p.Event.Currency != nil) || p.Event.Currency != nil && p.Event.Currency.Code != "USD" {
			t.Errorf("%s: currency %+v", m.Rule, p.Event.Currency)
		}
	}
	want := []string{"third@33.333=33.33", "spend@100=250", "spend@250=250"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("fired %v, want %v", got, want)
	}
	if len(res.Crossings) != 3 {
		t.Errorf("crossings %+v", res.Crossings)
	}
	if len(res.Skipped) != 1 || res.Skipped[0].Rule != "no-included" || res.Skipped[0].Index != 4 {
		t.Errorf("skipped %+v", res.Skipped)
	}
	// Evaluating again with the new state finds nothing new; prev is not
	// modified.
	prev := append([]alert.Crossing(nil), res.Crossings...)
	again, err := alert.Evaluate(rules, in, prev)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Messages) != 0 || len(again.Crossings) != 0 {
		t.Errorf("second evaluation: %+v", again)
	}
	if !reflect.DeepEqual(prev, res.Crossings) {
		t.Errorf("Evaluate modified prev")
	}
	// The same inputs give the same bytes.
	res2, _ := alert.Evaluate(rules, in, nil)
	for i := range res.Messages {
		if !bytes.Equal(res.Messages[i].Body, res2.Messages[i].Body) || res.Messages[i].Key != res2.Messages[i].Key {
			t.Errorf("message %d differs between two evaluations", i)
		}
	}
	// State of other customers and periods is ignored.
	stale := res.Crossings[0]
	stale.Period = "2025-09"
	if r3, _ := alert.Evaluate(rules, in, []alert.Crossing{stale}); len(r3.Messages) != 3 {
		t.Errorf("another period's state suppressed alerts: %+v", r3.Messages)
	}
}

func TestEvaluateErrors(t *testing.T) {
	rules := goodRules()
	for _, in := range []alert.Input{
		{Period: period(t, "2025-10"), At: t0},
		{Customer: "acme", At: t0},
		{Customer: "acme", Period: period(t, "2025-10")},
		{Customer: "acme", Period: period(t, "2025-10"), At: t0, Values: []alert.Values{{Meter: "api_requests", Quantity: -1}}},
	} {
		if _, err := alert.Evaluate(rules, in, nil); keymeter.ErrorCode(err) != keymeter.EINVALID {
			t.Errorf("Evaluate(%+v) = %v, want EINVALID", in, err)
		}
	}
}

// TestValuesFor: the amount is what billing rates, and included units
// are converted to the raw unit exactly (1.5 GB is 1.5e9 bytes).
func TestValuesFor(t *testing.T) {
	cfg := billingConfig(t)
	pro, _ := cfg.Plan("pro")
	vs, err := alert.ValuesFor(pro, map[string]int64{"api_requests": 1500, "egress": 3_000_000_000, "uploads": 7})
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ meter, quantity, included, amount string }
	var got []row
	for _, v := range vs {
		got = append(got, row{v.Meter, billing.DecimalFromInt(v.Quantity).String(), v.Included.Reduce().String(), v.Amount.String()})
	}
	// api_requests: 500 billable at 1 cent; egress: 1.5 GB billable at 5 cents.
	want := []row{{"api_requests", "1500", "1000", "500"}, {"egress", "3000000000", "1500000000", "8"}, {"uploads", "7", "0", "0"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ValuesFor = %v, want %v", got, want)
	}
	// A percent rule on egress at 200 % fires at exactly 3e9 bytes.
	rules := []alert.Rule{{Name: "egress", Plan: "pro", Meter: "egress", Kind: alert.Percent, Thresholds: decs("200"), URL: "http://127.0.0.1:9/", Secret: secret}}
	res, err := alert.Evaluate(rules, alert.Input{Customer: "acme", Plan: "pro", Period: period(t, "2025-10"), At: t0, Values: vs}, nil)
	if err != nil || len(res.Messages) != 1 {
		t.Fatalf("200%% of egress: %+v, %v", res, err)
	}
	if _, err := alert.ValuesFor(pro, map[string]int64{"api_requests": -1}); keymeter.ErrorCode(err) != keymeter.EINVALID {
		t.Errorf("negative quantity: %v", err)
	}
	if vs, err := alert.ValuesFor(nil, map[string]int64{"api_requests": 3}); err != nil || len(vs) != 1 || vs[0].Quantity != 3 || !vs[0].Amount.IsZero() {
		t.Errorf("no plan: %+v, %v", vs, err)
	}
}

// TestPayloadGolden pins the webhook body receivers decode. Run with
// -update to rewrite testdata/payload.json.
func TestPayloadGolden(t *testing.T) {
	rules := []alert.Rule{{Name: "pro-80pct", Plan: "pro", Meter: "api_requests", Kind: alert.Percent, Thresholds: decs("80"), URL: "https://hooks.example.com/k", Secret: secret}}
	res, err := alert.Evaluate(rules, alert.Input{Customer: "acme", Plan: "pro", Period: period(t, "2025-10"), At: t0,
		Values: []alert.Values{{Meter: "api_requests", Quantity: 802, Included: dec("1000"), Amount: dec("0")}}}, nil)
	if err != nil || len(res.Messages) != 1 {
		t.Fatalf("%+v, %v", res, err)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, res.Messages[0].Body, "", "  "); err != nil {
		t.Fatal(err)
	}
	pretty.WriteByte('\n')
	const golden = "testdata/payload.json"
	if *update {
		if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pretty.Bytes(), want) {
		t.Errorf("payload:\n%s\nwant:\n%s", pretty.Bytes(), want)
	}
}
