package invoice

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/billing"
	"github.com/keymeter/keymeter/store/duckdb"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

func loadConfig(t *testing.T) *billing.Config {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "plans.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := billing.ParseConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func setup(t *testing.T, customer, month string) (*billing.Plan, billing.Period) {
	t.Helper()
	cfg := loadConfig(t)
	a, ok := cfg.Customer(customer)
	if !ok {
		t.Fatalf("no customer %s", customer)
	}
	plan, ok := cfg.Plan(a.Plan)
	if !ok {
		t.Fatalf("no plan %s", a.Plan)
	}
	p, err := billing.PeriodFor(a, month)
	if err != nil {
		t.Fatal(err)
	}
	return plan, p
}

var (
	septemberCutoff = time.Date(2025, 10, 2, 6, 0, 0, 250000000, time.UTC)
	octoberCutoff   = time.Date(2025, 11, 2, 6, 30, 0, 123456000, time.UTC)
)

// october is acme's October invoice, with late events of September.
func october(t *testing.T, status Status) Input {
	t.Helper()
	plan, p := setup(t, "acme", "2025-10")
	_, sep := setup(t, "acme", "2025-09")
	in := Input{
		Queries:  duckTexts{},
		Status:   status,
		Customer: "acme",
		Plan:     plan,
		Period:   p,
		Cutoff:   octoberCutoff,
		Usage: map[string]Usage{
			"api_requests": u(26_500, 26_500),
			"egress":       u(30_000, 1_500_000_000),
			"searches":     u(2_001, 2_001),
		},
		Late: []Late{{
			Period: sep,
			After:  septemberCutoff,
			Events: keymeter.NewInt128(1_012),
			Billed: map[string]Usage{"api_requests": u(9_500, 9_500), "egress": u(900, 900_000_000)},
			Late:   map[string]Usage{"api_requests": u(1_000, 1_000), "egress": u(12, 200_000_000)},
		}},
	}
	if status == Final {
		in.Number, in.FinalizedAt = "KM-000042", time.Date(2025, 11, 3, 9, 0, 0, 0, time.UTC)
	}
	return in
}

// TestOctober checks a full invoice against amounts worked out by hand.
func TestOctober(t *testing.T) {
	d, err := Build(october(t, Final))
	if err != nil {
		t.Fatal(err)
	}
	// Flat fee $199.00.
	// api_requests: 26,500 − 1,000 included = 25,500 billable, graduated:
	//   10,000 × $0.004 = $40; 15,500 × $0.002 + $5 = $36 → $76.00.
	// egress: 1.5 GB, volume, tier 2: 1.5 × $0.07 = $0.105 → 11 cents.
	// searches: 2,001 → 3 packages × $1.50 = $4.50.
	// Subtotal 19900 + 7600 + 11 + 450 = 27961, above the 25000 minimum.
	// September, late: api_requests 9,500 → 10,500 requests: billable
	// 8,500 → 9,500 × $0.004: +$4.00. egress 0.9 → 1.1 GB: tier 1 at
	// $0.09 = 8.1 → 8 cents, then tier 2 at $0.07 = 7.7 → 8 cents: +0.
	// September's subtotal (flat fee prorated 20/30 = 13267, 3400 + 8)
	// is 16675, topped up to 25000 by 8325; after the late events
	// 17075, topped up by 7925: the top-up is 400 less.
	// Late adjustments: +400 + 0 − 400 = 0; 1,012 late events.
	want := map[string]string{
		"flat_fee": "19900", "usage/api_requests": "7600", "usage/egress": "11", "usage/searches": "450",
		"late_usage/api_requests": "400", "late_usage/egress": "0", "late_minimum_spend/": "-400",
	}
	got := map[string]string{}
	for _, l := range d.Lines {
		got[string(l.Kind)+"/"+l.Meter] = l.Amount.String()
		if l.Kind == billing.LineFlatFee {
			got["flat_fee"] = l.Amount.String()
			delete(got, "flat_fee/")
		}
	}
	if len(got) != len(want) {
		t.Errorf("lines %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("line %s: amount %s, want %s", k, got[k], v)
		}
	}
	if d.Subtotal.String() != "27961" || d.LateAdjustments.String() != "0" || d.LateEvents != keymeter.NewInt128(1012) || d.Total.String() != "27961" {
		t.Errorf("subtotal %s, late %s (%d events), total %s; want 27961, 0 (1012), 27961", d.Subtotal, d.LateAdjustments, d.LateEvents, d.Total)
	}
	var sum billing.Decimal
	for _, l := range d.Lines {
		sum = sum.Add(l.Amount)
	}
	if !sum.Equal(d.Total) {
		t.Errorf("lines add up to %s, total %s", sum, d.Total)
	}
}

// The late lines of successive invoices add up to what the period costs
// with all its events: nothing is billed twice or lost, to the cent.
func TestLateLinesTelescope(t *testing.T) {
	plan, sep := setup(t, "acme", "2025-09")
	arrivals := []int64{9_500, 1, 499, 3_000, 7, 40_000} // api_requests loaded per window
	billed := map[string]Usage{}
	first, err := billing.Rate(plan, sep, map[string]keymeter.Int128{"api_requests": keymeter.NewInt128(arrivals[0])}, billing.Options{})
	if err != nil {
		t.Fatal(err)
	}
	paid := first.Total
	billed["api_requests"] = u(arrivals[0], arrivals[0])
	for _, n := range arrivals[1:] {
		d, err := Build(Input{Queries: duckTexts{}, Status: Draft, Customer: "acme", Plan: plan, Period: sep, Cutoff: octoberCutoff,
			Late: []Late{{Period: sep, After: septemberCutoff, Events: keymeter.NewInt128(n), Billed: billed, Late: map[string]Usage{"api_requests": u(n, n)}}}})
		if err != nil {
			t.Fatal(err)
		}
		paid = paid.Add(d.LateAdjustments)
		b := billed["api_requests"]
		billed["api_requests"] = Usage{b.Events.Add64(n), b.RawQuantity.Add64(n)}
	}
	all, err := billing.Rate(plan, sep, map[string]keymeter.Int128{"api_requests": billed["api_requests"].RawQuantity}, billing.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !paid.Equal(all.Total) {
		t.Errorf("invoice and late lines add up to %s, the period with every event costs %s", paid, all.Total)
	}
}

// Encoding is canonical: decoding and encoding again gives the same bytes.
func TestCanonicalRoundTrip(t *testing.T) {
	for _, status := range []Status{Draft, Final} {
		d, err := Build(october(t, status))
		if err != nil {
			t.Fatal(err)
		}
		b, err := d.Encode()
		if err != nil {
			t.Fatal(err)
		}
		d2, err := Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		b2, err := d2.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, b2) {
			t.Errorf("%s: decode and encode changed the document:\n%s\n%s", status, b, b2)
		}
		if !json.Valid(b) || bytes.Contains(b, []byte("e+")) || bytes.Contains(b, []byte("E-")) {
			t.Errorf("%s: not plain JSON with decimal strings", status)
		}
	}
}

func TestDecodeRefuses(t *testing.T) {
	for _, bad := range []string{``, `[]`, `{"version": 2}`, `{"version": 1, "colour": "red"}`} {
		if _, err := Decode([]byte(bad)); keymeter.ErrorCode(err) != keymeter.EINVALID {
			t.Errorf("Decode(%q): %v, want EINVALID", bad, err)
		}
	}
}

// TestGoldenRenderings pins every rendering of two invoices: a finalized
// invoice must render the same bytes forever, so a change here is a
// change to every stored invoice's look and must be deliberate (rerun
// with -update).
func TestGoldenRenderings(t *testing.T) {
	final, err := Build(october(t, Final))
	if err != nil {
		t.Fatal(err)
	}
	plan, p := setup(t, "o'brien", "2025-10")
	draft, err := Build(Input{Queries: duckTexts{}, Status: Draft, Customer: "o'brien", Plan: plan, Period: p, Cutoff: octoberCutoff,
		Usage: map[string]Usage{"api_requests": u(1_234_567, 1_234_567)}})
	if err != nil {
		t.Fatal(err)
	}
	var docs [][]byte
	for _, d := range []*Document{final, draft} {
		b, err := d.Encode()
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, b)
	}
	render := map[string]func(*bytes.Buffer) error{
		"final.json": func(b *bytes.Buffer) error { _, err := b.Write(docs[0]); return err },
		"draft.json": func(b *bytes.Buffer) error { _, err := b.Write(docs[1]); return err },
		"both.txt":   func(b *bytes.Buffer) error { return WriteText(b, docs, true) },
		"both.csv":   func(b *bytes.Buffer) error { return WriteCSV(b, docs) },
		"final.html": func(b *bytes.Buffer) error { return WriteHTML(b, docs[:1]) },
	}
	for name, fn := range render {
		var b, again bytes.Buffer
		if err := fn(&b); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := fn(&again); err != nil || !bytes.Equal(b.Bytes(), again.Bytes()) {
			t.Errorf("%s: rendering twice gave different bytes", name)
		}
		path := filepath.Join("testdata", "golden", name)
		if *update {
			if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./billing/invoice -update to create it)", err)
		}
		if !bytes.Equal(b.Bytes(), want) {
			t.Errorf("%s differs from the golden file (rerun with -update if the change is intended):\n%s", name, b.String())
		}
	}
}

func TestGroup(t *testing.T) {
	for in, want := range map[string]string{
		"0": "0", "999": "999", "1000": "1,000", "-1234567.891": "-1,234,567.891", "123456": "123,456", "12.5": "12.5", "-100": "-100",
	} {
		if got := group(in); got != want {
			t.Errorf("group(%s) = %s, want %s", in, got, want)
		}
	}
}

// A quoted query reaches keymeter exactly as written.
func TestShellQuote(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	for _, s := range []string{
		`SELECT 1 FROM events WHERE path LIKE '/a\_b%' ESCAPE '\'`,
		`x = 'it''s' AND y = "$HOME" AND z = '\\n' AND w = '!'`,
		`ends with \`, "",
	} {
		out, err := exec.Command(sh, "-c", "printf '%s' "+shellQuote(s)).Output()
		if err != nil || string(out) != s {
			t.Errorf("sh printf %s: %q, %v; want %q", shellQuote(s), out, err, s)
		}
	}
}

// u is the usage of a meter: events, and their raw quantity.
func u(events, raw int64) Usage {
	return Usage{keymeter.NewInt128(events), keymeter.NewInt128(raw)}
}

// duckTexts writes the queries of invoice lines as the DuckDB store does,
// so that the golden documents show what keymeter prints.
type duckTexts struct{}

func (duckTexts) QueryText(q keymeter.ReproduceQuery) (string, error) { return duckdb.QueryText(q) }
