package main

import (
	"encoding/json"
	"fmt"
	"math/big"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/billing/invoice"
	"github.com/keymeter/keymeter/internal/loggen"
)

// billingYAML has one plan of each price model. The test works out what
// each costs by hand, in testBill, from the generated requests.
const billingYAML = `currency: USD
meters:
  requests:
    description: API requests
    measure: requests
    source: cloudfront
    exclude:
      status: [5xx]
  egress:
    description: Data transfer out
    measure: bytes_sent
    source: cloudfront
    unit: GB
    unit_bytes: 1000000000
  v1_reads:
    description: v1 reads
    measure: requests
    source: cloudfront
    include:
      path: ["/v1/*"]
      method: [GET]
plans:
  metered:
    flat_fee: "10.00"
    prices:
      requests: {model: per_unit, included: 100, unit_amount: "0.001"}
      egress: {model: per_unit, unit_amount: "9.00"}
  bundles:
    flat_fee: "25.00"
    prices:
      requests: {model: package, package_size: 100, package_amount: "0.25"}
  tiered:
    prices:
      v1_reads:
        model: graduated
        tiers:
          - {up_to: 200, unit_amount: "0.01"}
          - {up_to: 400, unit_amount: "0.005", flat_amount: "1.00"}
          - {up_to: inf, unit_amount: "0.002"}
  bulk:
    minimum_spend: "50.00"
    prices:
      egress:
        model: volume
        tiers:
          - {up_to: 0.01, unit_amount: "20.00"}
          - {up_to: inf, unit_amount: "15.00", flat_amount: "0.50"}
customers:
  unit-co: {plan: metered, start: 2025-09-01, stripe_customer_id: cus_unitco}
  package-co: {plan: bundles, start: 2025-10-11}
  tiered-co: {plan: tiered, start: 2025-01-15}
`

var billingCustomers = []string{"unit-co", "package-co", "tiered-co", "bulk-co"}

// pricedMeters are the meters each customer's plan prices.
var pricedMeters = map[string][]string{
	"unit-co": {"egress", "requests"}, "package-co": {"requests"}, "tiered-co": {"v1_reads"}, "bulk-co": {"egress"},
}

// logsComplete says in a test's config that its generated standard logs
// are complete as written: they settle in 6 hours instead of CloudFront's
// day, so that October, whose requests run to November 1 noon, can be
// finalized (see keymeter.WatermarkOf).
func logsComplete(t *testing.T, c *cli) {
	t.Helper()
	writeFile(t, filepath.Join(c.data, "keymeter.yaml"), "settle: {cloudfront: 6h}\n")
}

// billingGen generates requests of the four customers; every seed shares
// the keys of key seed 5.
func billingGen(seed uint64, start time.Time, span time.Duration) *loggen.Gen {
	return loggen.New(loggen.Config{
		Seed: seed, KeySeed: 5, Start: start, Span: span, Customers: 4, KeysPerCustomer: 2,
		UnknownKeys: 1, NoKeyPercent: 5, Paths: 24, CustomerNames: billingCustomers,
	})
}

// writeLogs writes records as a gzip CloudFront log and returns its path.
func writeLogs(t *testing.T, dir, name string, recs []loggen.Record) string {
	t.Helper()
	var b []byte
	b = append(b, loggen.Header(loggen.StandardFields)...)
	for i := range recs {
		b = recs[i].AppendLine(b, loggen.StandardFields)
	}
	path := filepath.Join(dir, name)
	writeFile(t, path, string(gzipBytes(t, string(b))))
	return path
}

func generate(g *loggen.Gen, n int) []loggen.Record {
	recs := make([]loggen.Record, n)
	for i := range recs {
		g.Next(&recs[i])
	}
	return recs
}

// periods of the customers in October 2025: bulk-co bills in New York
// time, package-co started on October 11.
var octPeriods = map[string][2]time.Time{
	"unit-co":    {time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC)},
	"package-co": {time.Date(2025, 10, 11, 0, 0, 0, 0, time.UTC), time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC)},
	"tiered-co":  {time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC)},
	"bulk-co":    {time.Date(2025, 10, 1, 4, 0, 0, 0, time.UTC), time.Date(2025, 11, 1, 4, 0, 0, 0, time.UTC)},
}

// counted is a customer's ground truth over a period.
type counted struct {
	events   int64 // every request
	requests int64 // not 5xx
	bytes    int64 // bytes sent by every request
	v1Reads  int64 // GET /v1/...
}

func count(recs []loggen.Record, customer string, period [2]time.Time) counted {
	var c counted
	for _, r := range recs {
		if r.Key == nil || r.Key.Customer != customer || r.Time.Before(period[0]) || !r.Time.Before(period[1]) {
			continue
		}
		c.events++
		if r.Status < 500 || r.Status > 599 {
			c.requests++
		}
		c.bytes += r.BytesSent
		if strings.HasPrefix(r.Path, "/v1/") && r.Method == "GET" {
			c.v1Reads++
		}
	}
	return c
}

// rat returns a/b.
func rat(a, b int64) *big.Rat { return big.NewRat(a, b) }

// roundCents rounds a non-negative number of cents half up.
func roundCents(r *big.Rat) int64 {
	n := new(big.Int).Mul(r.Num(), big.NewInt(2))
	n.Add(n, r.Denom())
	return n.Quo(n, new(big.Int).Mul(r.Denom(), big.NewInt(2))).Int64()
}

// testBill works out a customer's October lines in cents, by hand: the
// line kind and meter, and its amount. The prices are those of
// billingYAML.
func testBill(customer string, c counted) (lines map[string]int64, total int64) {
	lines = map[string]int64{}
	switch customer {
	case "unit-co": // $10 a month; $0.001 a request after 100; $9 a GB
		lines["flat_fee/"] = 1000
		lines["usage/requests"] = roundCents(rat(max(c.requests-100, 0), 10))
		lines["usage/egress"] = roundCents(rat(c.bytes*900, 1_000_000_000))
	case "package-co": // $25 a month, from the 11th: 21 of 31 days; $0.25 per 100 requests started
		lines["flat_fee/"] = roundCents(rat(2500*21, 31))
		lines["usage/requests"] = (c.requests + 99) / 100 * 25
	case "tiered-co": // 1¢ each up to 200, then 0.5¢ up to 400 and $1 once, then 0.2¢
		n := c.v1Reads
		cents := rat(min(n, 200), 1)
		if n > 200 {
			cents.Add(cents, rat(min(n, 400)-200, 2))
			cents.Add(cents, rat(100, 1))
		}
		if n > 400 {
			cents.Add(cents, rat((n-400)*2, 10))
		}
		lines["usage/v1_reads"] = roundCents(cents)
	case "bulk-co": // every GB at $20 up to 0.01 GB, else every GB at $15 plus $0.50; $50 at least
		var cents *big.Rat
		switch {
		case c.bytes == 0:
			cents = rat(0, 1)
		case c.bytes <= 10_000_000:
			cents = rat(c.bytes*2000, 1_000_000_000)
		default:
			cents = rat(c.bytes*1500, 1_000_000_000)
			cents.Add(cents, rat(50, 1))
		}
		lines["usage/egress"] = roundCents(cents)
		if lines["usage/egress"] < 5000 {
			lines["minimum_spend/"] = 5000 - lines["usage/egress"]
		}
	}
	for _, v := range lines {
		total += v
	}
	return lines, total
}

// decodeDocs decodes invoice --format json output: an array of documents.
func decodeDocs(t *testing.T, out string) map[string]*invoice.Document {
	t.Helper()
	var raw []json.RawMessage
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatalf("invoice output is not a JSON array: %v\n%s", err, out)
	}
	docs := map[string]*invoice.Document{}
	for _, r := range raw {
		d, err := invoice.Decode(r)
		if err != nil {
			t.Fatal(err)
		}
		docs[d.Customer] = d
	}
	return docs
}

// checkQueries runs each line's query with keymeter sql and compares what
// it counts with the line.
func checkQueries(t *testing.T, c *cli, d *invoice.Document) {
	t.Helper()
	for _, l := range d.Lines {
		if l.Query == "" {
			continue
		}
		rows := decodeRows(t, c.ok("sql", "--format", "json", l.Query))
		if len(rows) != 1 || keymeter.NewInt128(num(t, rows[0]["events"])) != *l.Events || keymeter.NewInt128(num(t, rows[0]["quantity"])) != *l.RawQuantity {
			t.Errorf("%s %s line %s: the query counts %v, the line %d events and %d", d.Customer, d.Period.Month, l.Meter, rows, *l.Events, *l.RawQuantity)
		}
	}
}

func decodeRows(t *testing.T, out string) []map[string]any {
	t.Helper()
	var rows []map[string]any
	dec := json.NewDecoder(strings.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(&rows); err != nil {
		t.Fatalf("not a JSON array: %v\n%s", err, out)
	}
	return rows
}

// lineAmounts returns a document's line amounts by kind and meter.
func lineAmounts(d *invoice.Document) map[string]int64 {
	out := map[string]int64{}
	for _, l := range d.Lines {
		n, _ := l.Amount.Int64()
		out[string(l.Kind)+"/"+l.Meter] += n
	}
	return out
}

// TestBillingEndToEnd is the acceptance test of billing: a generated
// month of usage gives invoice totals that match an independent
// calculation to the cent for every customer and price model; every
// line's query counts what the line says; finalized invoices render the
// same bytes after late events are ingested, and the next period bills
// those as late lines, with the right counts and amounts.
func TestBillingEndToEnd(t *testing.T) {
	c := newCLI(t)
	logsComplete(t, c)
	writeFile(t, filepath.Join(c.data, "billing.yaml"), billingYAML)
	logs := t.TempDir()
	gen := billingGen(5, time.Date(2025, 9, 30, 12, 0, 0, 0, time.UTC), 32*24*time.Hour)
	recs := generate(gen, 8000)
	writeLogs(t, logs, "a.gz", recs[:5000])
	writeLogs(t, logs, "b.gz", recs[5000:])
	var keys strings.Builder
	keys.WriteString("customer,api_key\n")
	for _, k := range gen.Keys() {
		if k.Customer != "" {
			fmt.Fprintf(&keys, "%s,%s\n", k.Customer, k.Key)
		}
	}
	keysFile := filepath.Join(t.TempDir(), "keys.csv")
	writeFile(t, keysFile, keys.String())
	c.ok("keys", "import", keysFile)
	c.ok("ingest", "--quiet", logs)

	// bulk-co is set in the store only; package-co's config entry gets a
	// Stripe ID from the store and keeps its plan.
	c.ok("customers", "set", "bulk-co", "--plan", "bulk", "--start", "2025-08-01", "--time-zone", "America/New_York", "--stripe-id", "cus_bulkco")
	if out := c.ok("customers", "set", "package-co", "--stripe-id", "cus_packageco"); !strings.Contains(out, "plan bundles from 2025-10-11") {
		t.Errorf("customers set on a config customer: %s", out)
	}
	list := decodeRows(t, c.ok("customers", "list", "--format", "json"))
	var got []string
	for _, r := range list {
		got = append(got, fmt.Sprint(r["customer"], " ", r["plan"], " ", r["time_zone"], " ", r["source"]))
	}
	want := []string{"bulk-co bulk America/New_York store", "package-co bundles UTC store, overrides config",
		"tiered-co tiered UTC config", "unit-co metered UTC config"}
	if !slices.Equal(got, want) {
		t.Errorf("customers list:\n got %q\nwant %q", got, want)
	}

	// Drafts: every total matches the hand calculation, to the cent.
	octTruth := map[string]counted{}
	for _, cust := range billingCustomers {
		octTruth[cust] = count(recs, cust, octPeriods[cust])
	}
	checkTotals := func(stage string, docs map[string]*invoice.Document, status invoice.Status) {
		t.Helper()
		if len(docs) != len(billingCustomers) {
			t.Fatalf("%s: invoices for %d customers, want %d", stage, len(docs), len(billingCustomers))
		}
		for _, cust := range billingCustomers {
			d := docs[cust]
			lines, total := testBill(cust, octTruth[cust])
			if got := lineAmounts(d); fmt.Sprint(got) != fmt.Sprint(lines) {
				t.Errorf("%s: %s lines\n got %v\nwant %v", stage, cust, got, lines)
			}
			if d.Total.String() != fmt.Sprint(total) || d.Status != status {
				t.Errorf("%s: %s total %s cents (%s), want %d (%s)", stage, cust, d.Total, d.Status, total, status)
			}
			if !d.Period.ActiveStart.Equal(octPeriods[cust][0]) || !d.Period.End.Equal(octPeriods[cust][1]) {
				t.Errorf("%s: %s period [%s, %s)", stage, cust, d.Period.ActiveStart, d.Period.End)
			}
		}
	}
	drafts := decodeDocs(t, c.ok("invoice", "--period", "2025-10", "--format", "json"))
	checkTotals("draft", drafts, invoice.Draft)
	for _, d := range drafts {
		checkQueries(t, c, d)
	}

	// Finalizing waits for the period to close plus 24 hours.
	c.now = func() time.Time { return time.Date(2025, 11, 1, 12, 0, 0, 0, time.UTC) }
	r := c.run("invoice", "finalize", "--period", "2025-10")
	if r.code != exitConflict || strings.Count(r.stderr, "can be finalized from") != 4 {
		t.Errorf("finalize an open period: exit %d, want %d and 4 reasons\n%s", r.code, exitConflict, r.stderr)
	}
	// At 02:00 UTC on Nov 2 the UTC customers' periods have closed, not
	// New York's: nothing is finalized, unless asked for one customer.
	c.now = func() time.Time { return time.Date(2025, 11, 2, 2, 0, 0, 0, time.UTC) }
	r = c.run("invoice", "finalize", "--period", "2025-10")
	if r.code != exitConflict || !strings.Contains(r.stderr, "bulk-co: period 2025-10 ends 2025-11-01T04:00:00Z") || strings.Contains(r.stderr, "unit-co") {
		t.Errorf("finalize with one period open: exit %d\n%s", r.code, r.stderr)
	}
	c.ok("invoice", "finalize", "--period", "2025-10", "--customer", "unit-co")
	c.now = func() time.Time { return time.Date(2025, 11, 3, 0, 0, 0, 0, time.UTC) }
	r = c.run("invoice", "finalize", "--period", "2025-10")
	if r.code != 0 || !strings.Contains(r.stderr, "skipped unit-co (already final: KM-000001)") {
		t.Errorf("finalize the rest: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := c.run("invoice", "finalize", "--period", "2025-10", "--customer", "tiered-co"); r.code != exitConflict || !strings.Contains(r.stderr, "already final") {
		t.Errorf("finalize twice: exit %d, %s", r.code, r.stderr)
	}

	// Every rendering of the finalized invoices, before late events.
	renders := [][]string{
		{"invoice", "--period", "2025-10", "--format", "json"},
		{"invoice", "--period", "2025-10", "--format", "csv"},
		{"invoice", "--period", "2025-10", "--format", "html"},
		{"invoice", "--period", "2025-10", "--queries"},
		{"invoice", "--period", "2025-10", "--customer", "bulk-co", "--format", "json"},
	}
	before := map[string]string{}
	for _, args := range renders {
		before[strings.Join(args, " ")] = c.ok(args...)
	}
	finals := decodeDocs(t, before[strings.Join(renders[0], " ")])
	checkTotals("final", finals, invoice.Final)
	var numbers []string
	for _, cust := range billingCustomers {
		numbers = append(numbers, finals[cust].Number)
	}
	if fmt.Sprint(numbers) != "[KM-000001 KM-000003 KM-000004 KM-000002]" {
		t.Errorf("invoice numbers %v: want KM-000001 for unit-co, then the others in customer order", numbers)
	}

	// Late events: more requests of October (and November), ingested now.
	late := generate(billingGen(6, time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC), 32*24*time.Hour), 600)
	c.ok("ingest", "--quiet", writeLogs(t, t.TempDir(), "late.gz", late))
	for _, args := range renders {
		if out := c.ok(args...); out != before[strings.Join(args, " ")] {
			t.Errorf("keymeter %s changed after late events were ingested", strings.Join(args, " "))
		}
	}

	// November's drafts bill them: for each meter, the difference they
	// make to October's line, and their count.
	nov := decodeDocs(t, c.ok("invoice", "--period", "2025-11", "--format", "json"))
	for _, cust := range billingCustomers {
		d := nov[cust]
		lateTruth := count(late, cust, octPeriods[cust])
		all := octTruth[cust]
		all.events += lateTruth.events
		all.requests += lateTruth.requests
		all.bytes += lateTruth.bytes
		all.v1Reads += lateTruth.v1Reads
		was, _ := testBill(cust, octTruth[cust])
		now, _ := testBill(cust, all)
		lateEvents := map[string]int64{"requests": lateTruth.requests, "egress": lateTruth.events, "v1_reads": lateTruth.v1Reads}
		wantLate := map[string]int64{}
		var wantAdj int64
		for _, meter := range pricedMeters[cust] {
			if lateEvents[meter] > 0 {
				wantLate["late_usage/"+meter] = now["usage/"+meter] - was["usage/"+meter]
				wantAdj += now["usage/"+meter] - was["usage/"+meter]
			}
		}
		if diff := now["minimum_spend/"] - was["minimum_spend/"]; diff != 0 {
			wantLate["late_minimum_spend/"] = diff
			wantAdj += diff
		}
		gotLate := map[string]int64{}
		for _, l := range d.Lines {
			if l.Period != "" {
				n, _ := l.Amount.Int64()
				gotLate[string(l.Kind)+"/"+l.Meter] = n
				wantEvents := lateEvents[l.Meter]
				if l.Kind == invoice.LineLateUsage && (*l.Events != keymeter.NewInt128(wantEvents) || l.Period != "2025-10") {
					t.Errorf("%s: late %s line counts %d events of %s, want %d of 2025-10", cust, l.Meter, *l.Events, l.Period, wantEvents)
				}
			}
		}
		if fmt.Sprint(gotLate) != fmt.Sprint(wantLate) {
			t.Errorf("%s: late lines\n got %v\nwant %v", cust, gotLate, wantLate)
		}
		if d.LateEvents != keymeter.NewInt128(lateTruth.events) || d.LateAdjustments.String() != fmt.Sprint(wantAdj) {
			t.Errorf("%s: %d late events, adjustments %s; want %d and %d", cust, d.LateEvents, d.LateAdjustments, lateTruth.events, wantAdj)
		}
		if lateTruth.events == 0 {
			t.Errorf("%s: the late file has no October events for it: the test proves nothing", cust)
		}
		checkQueries(t, c, d)
	}

	// November, finalized early, keeps its late lines; invoices go in
	// order, without gaps.
	c.ok("invoice", "finalize", "--period", "2025-11", "--customer", "unit-co", "--force")
	nf, err := invoice.Decode([]byte(c.ok("invoice", "--period", "2025-11", "--customer", "unit-co", "--format", "json")))
	if err != nil || nf.Status != invoice.Final || nf.LateEvents != nov["unit-co"].LateEvents || !nf.Total.Equal(nov["unit-co"].Total) {
		t.Errorf("finalized November: %+v, %v; want the draft's totals", nf, err)
	}
	if r := c.run("invoice", "finalize", "--period", "2026-01", "--customer", "unit-co", "--force"); r.code != exitConflict || !strings.Contains(r.stderr, "finalize 2025-12 first") {
		t.Errorf("finalize with a gap: exit %d, %s", r.code, r.stderr)
	}

	// Stripe meter events carry the finalized quantities.
	r = c.run("export", "stripe", "--period", "2025-10")
	if r.code != 0 || !strings.Contains(r.stderr, "skipped tiered-co: no Stripe customer ID") {
		t.Errorf("export stripe: exit %d, %s", r.code, r.stderr)
	}
	var events []string
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var e struct {
			EventName string `json:"event_name"`
			Payload   struct {
				Customer string `json:"stripe_customer_id"`
				Value    string `json:"value"`
			} `json:"payload"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("export stripe: %v\n%s", err, r.stdout)
		}
		events = append(events, e.Payload.Customer+" "+e.EventName+" "+e.Payload.Value)
	}
	gb := func(b int64) string {
		return strings.TrimRight(strings.TrimRight(new(big.Rat).SetFrac64(b, 1e9).FloatString(9), "0"), ".")
	}
	wantEvents := []string{
		"cus_bulkco egress " + gb(octTruth["bulk-co"].bytes),
		fmt.Sprint("cus_packageco requests ", octTruth["package-co"].requests),
		"cus_unitco egress " + gb(octTruth["unit-co"].bytes),
		fmt.Sprint("cus_unitco requests ", octTruth["unit-co"].requests),
	}
	if !slices.Equal(events, wantEvents) {
		t.Errorf("stripe events\n got %q\nwant %q", events, wantEvents)
	}

	// Costs set revenue (the invoices' totals) against cost.
	costs := decodeRows(t, c.ok("costs", "--period", "2025-10", "--format", "json"))
	var revenue int64
	for _, d := range finals {
		n, _ := d.Total.Int64()
		revenue += n
	}
	if len(costs) != 1 || costs[0]["revenue"].(json.Number).String() != fmt.Sprintf("%d.%02d", revenue/100, revenue%100) {
		t.Errorf("costs %v: want revenue %d cents", costs, revenue)
	}
	byCustomer := decodeRows(t, c.ok("costs", "--period", "2025-10", "--by", "customer", "--format", "json"))
	if len(byCustomer) != 5 || byCustomer[4]["customer"] != nil {
		t.Errorf("costs by customer: %v; want the 4 customers and the unattributed traffic", byCustomer)
	}
}

// TestBillingConfigErrors: a bad billing config is refused with every
// problem listed, with line numbers, and exit status 2.
func TestBillingConfigErrors(t *testing.T) {
	c := newCLI(t)
	bad := `# no currency
meters:
  requests:
    measure: requests
    source: cloudfront
plans:
  pro:
    flat_fee: "-10.00"
    prices:
      requets:
        model: per_unit
        unit_amount: "0.001"
      requests:
        model: graduated
        tiers:
          - { up_to: 1000, unit_amount: "0.01" }
          - { up_to: 500, unit_amount: "0.005" }
          - { up_to: inf, unit_amount: "0.001" }
`
	path := filepath.Join(t.TempDir(), "bad.yaml")
	writeFile(t, path, bad)
	for _, args := range [][]string{
		{"invoice", "--period", "2025-10", "--billing", path},
		{"invoice", "finalize", "--period", "2025-10", "--billing", path},
		{"costs", "--billing", path},
		{"customers", "list", "--billing", path},
	} {
		r := c.run(args...)
		if r.code != exitUsage {
			t.Errorf("%s: exit %d, want %d\n%s", strings.Join(args, " "), r.code, exitUsage, r.stderr)
		}
		for _, want := range []string{
			"4 problems", "line 2: currency: missing", "line 8: plans.pro.flat_fee", "negative",
			`line 10: plans.pro.prices.requets: unknown meter "requets"`, "line 17: plans.pro.prices.requests.tiers[1].up_to: tiers overlap",
		} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("%s: stderr lacks %q:\n%s", strings.Join(args, " "), want, r.stderr)
			}
		}
	}

	// billing: in keymeter.yaml names the file, relative to it.
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "keymeter.yaml"), "billing: plans/billing.yaml\nbilling_grace: 36h\n")
	writeFile(t, filepath.Join(dir, "plans", "billing.yaml"), bad)
	if r := c.run("customers", "list", "--config", filepath.Join(dir, "keymeter.yaml")); r.code != exitUsage || !strings.Contains(r.stderr, filepath.Join(dir, "plans", "billing.yaml")) {
		t.Errorf("billing: in the config file: exit %d, %s", r.code, r.stderr)
	}
	writeFile(t, filepath.Join(dir, "keymeter.yaml"), "billing_grace: soon\n")
	if r := c.run("customers", "list", "--config", filepath.Join(dir, "keymeter.yaml")); r.code != exitUsage || !strings.Contains(r.stderr, `billing_grace: "soon"`) {
		t.Errorf("bad billing_grace: exit %d, %s", r.code, r.stderr)
	}
	// Without any billing config, the commands say where to write one.
	if r := c.run("invoice", "--period", "2025-10"); r.code != exitNotFound || !strings.Contains(r.stderr, "no billing config: write "+filepath.Join(c.data, "billing.yaml")) {
		t.Errorf("no billing config: exit %d, %s", r.code, r.stderr)
	}

	// A store assignment must fit the config: an unknown plan is refused
	// when set, with every problem at once.
	writeFile(t, filepath.Join(c.data, "billing.yaml"), billingYAML)
	r := c.run("customers", "set", "x", "--plan", "gold", "--start", "2025-02-30", "--time-zone", "Mars/Olympus", "--periods", "weekly", "--stripe-id", "acct_1")
	if r.code != exitUsage {
		t.Errorf("customers set with bad values: exit %d", r.code)
	}
	for _, want := range []string{`unknown plan "gold"`, `"2025-02-30" is not a date`, `unknown time zone "Mars/Olympus"`, `unknown period kind "weekly"`, `"acct_1" is not a Stripe customer ID`} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("customers set: stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if r := c.run("customers", "set", "y"); r.code != exitUsage || !strings.Contains(r.stderr, "a new customer needs a plan") {
		t.Errorf("customers set without a plan: exit %d, %s", r.code, r.stderr)
	}
	if r := c.run("invoice", "--period", "2025-10", "--customer", "nobody"); r.code != exitNotFound {
		t.Errorf("invoice of an unknown customer: exit %d, %s", r.code, r.stderr)
	}
	if r := c.run("invoice", "--period", "October"); r.code != exitUsage {
		t.Errorf("invoice --period October: exit %d, %s", r.code, r.stderr)
	}
	if r := c.run("invoice", "--format", "pdf"); r.code != exitUsage {
		t.Errorf("invoice --format pdf: exit %d, %s", r.code, r.stderr)
	}
	if r := c.run("invoice", "finalize"); r.code != exitUsage || !strings.Contains(r.stderr, "--period is required") {
		t.Errorf("invoice finalize without --period: exit %d, %s", r.code, r.stderr)
	}
	if r := c.run("costs", "--by", "path"); r.code != exitUsage {
		t.Errorf("costs --by path: exit %d, %s", r.code, r.stderr)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"customers"}, "no subcommand"},
		{[]string{"customers", "rename"}, `unknown subcommand "rename"`},
		{[]string{"customers", "remove"}, "exactly one CUSTOMER"},
		{[]string{"export"}, "no format"},
		{[]string{"export", "quickbooks"}, `unknown format "quickbooks"`},
		{[]string{"export", "stripe"}, "--period is required"},
		{[]string{"invoice", "extra"}, `unexpected argument "extra"`},
	} {
		if r := c.run(tt.args...); r.code != exitUsage || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("keymeter %s: exit %d, %q; want exit %d and %q", strings.Join(tt.args, " "), r.code, r.stderr, exitUsage, tt.want)
		}
	}
	if r := c.run("customers", "remove", "nobody"); r.code != exitNotFound {
		t.Errorf("customers remove of an unknown customer: exit %d, %s", r.code, r.stderr)
	}
}

// TestBillingFlatFeeMinorUnits: a flat fee finer than the currency's
// minor unit (half a yen) is refused with its line, never rounded.
func TestBillingFlatFeeMinorUnits(t *testing.T) {
	c := newCLI(t)
	path := filepath.Join(t.TempDir(), "jpy.yaml")
	writeFile(t, path, "currency: JPY\nplans:\n  basic:\n    flat_fee: \"0.5\"\ncustomers:\n  acme: {plan: basic, start: 2025-10-01}\n")
	r := c.run("invoice", "--period", "2025-10", "--billing", path)
	if r.code != exitUsage || !strings.Contains(r.stderr, "line 4: plans.basic.flat_fee: must be a whole number of minor units (JPY has 0 digits after the point)") {
		t.Errorf("a JPY flat fee of 0.5: exit %d, want %d and the line\n%s%s", r.code, exitUsage, r.stdout, r.stderr)
	}
}
