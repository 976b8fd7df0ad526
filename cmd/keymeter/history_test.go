package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/billing/invoice"
	"github.com/keymeter/keymeter/internal/loggen"
)

// billedMonth is a store with a generated October for the customers of
// billingYAML, their keys imported and October finalized for the three
// customers on a plan.
type billedMonth struct {
	c      *cli
	gen    *loggen.Gen
	recs   []loggen.Record
	finals map[string]*invoice.Document
}

var planCustomers = []string{"package-co", "tiered-co", "unit-co"}

func newBilledMonth(t *testing.T) *billedMonth {
	t.Helper()
	c := newCLI(t)
	logsComplete(t, c)
	writeFile(t, filepath.Join(c.data, "billing.yaml"), billingYAML)
	gen := billingGen(5, time.Date(2025, 9, 30, 12, 0, 0, 0, time.UTC), 32*24*time.Hour)
	recs := generate(gen, 6000)
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
	c.ok("ingest", "--quiet", writeLogs(t, t.TempDir(), "a.gz", recs))
	c.now = func() time.Time { return time.Date(2025, 11, 3, 0, 0, 0, 0, time.UTC) }
	c.ok("invoice", "finalize", "--period", "2025-10")
	return &billedMonth{c: c, gen: gen, recs: recs, finals: decodeDocs(t, c.ok("invoice", "--period", "2025-10", "--format", "json"))}
}

// key returns the raw key of a customer's first key.
func (b *billedMonth) key(customer string) string {
	for _, k := range b.gen.Keys() {
		if k.Customer == customer {
			return k.Key
		}
	}
	panic("no key of " + customer)
}

// keyCount counts the requests of one key in [from, to).
func (b *billedMonth) keyCount(key string, from, to time.Time) counted {
	var c counted
	for _, r := range b.recs {
		if r.Key == nil || r.Key.Key != key || r.Time.Before(from) || !r.Time.Before(to) {
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

// requestsBy returns usage's requests per customer over [from, to).
func requestsBy(t *testing.T, c *cli, from, to string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, r := range decodeRows(t, c.ok("usage", "--from", from, "--to", to, "--by", "customer", "--format", "json")) {
		out[fmt.Sprint(r["customer"])] = num(t, r["requests"])
	}
	return out
}

func (c counted) plus(d counted, sign int64) counted {
	return counted{c.events + sign*d.events, c.requests + sign*d.requests, c.bytes + sign*d.bytes, c.v1Reads + sign*d.v1Reads}
}

// lateLines returns a draft's late lines by kind and meter, and checks
// their counts and queries.
func lateAmounts(d *invoice.Document) map[string]int64 {
	out := map[string]int64{}
	for _, l := range d.Lines {
		if l.Period != "" {
			n, _ := l.Amount.Int64()
			out[string(l.Kind)+"/"+l.Meter] = n
		}
	}
	return out
}

// wantLate works out the late lines of a customer whose October usage
// changes from was to now, for the meters its plan prices.
func wantLate(customer string, was, now counted) map[string]int64 {
	before, _ := testBill(customer, was)
	after, _ := testBill(customer, now)
	changed := map[string]bool{
		"requests": was.requests != now.requests, "egress": was.bytes != now.bytes || was.events != now.events,
		"v1_reads": was.v1Reads != now.v1Reads,
	}
	out := map[string]int64{}
	for _, meter := range pricedMeters[customer] {
		if changed[meter] {
			out["late_usage/"+meter] = after["usage/"+meter] - before["usage/"+meter]
		}
	}
	if diff := after["minimum_spend/"] - before["minimum_spend/"]; diff != 0 {
		out["late_minimum_spend/"] = diff
	}
	return out
}

// TestKeyMoveKeepsHistory: moving a key to another customer changes
// nothing that was invoiced. By default the move takes effect at the end
// of the customers' last finalized period; the finalized invoices' queries
// still count what they say, usage of October is unchanged, keys list
// shows the key under both customers with the requests of each, and the
// next invoices have no late lines. An earlier --from is refused, naming
// the invoices it would change; forced, the difference is billed on the
// next invoices, negative for the customer that lost the key.
func TestKeyMoveKeepsHistory(t *testing.T) {
	b := newBilledMonth(t)
	c := b.c
	octUsage := requestsBy(t, c, "2025-10-01", "2025-11-01")
	allUsage := requestsBy(t, c, "2025-01-01", "2026-01-01")
	key := b.key("unit-co")
	nov1 := time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC)
	moveFile := filepath.Join(t.TempDir(), "move.csv")
	writeFile(t, moveFile, "customer,api_key\npackage-co,"+key+"\n")

	out := c.ok("keys", "import", moveFile)
	if !strings.Contains(out, "1 moved") || !strings.Contains(out, "2025-11-01T00:00:00Z") {
		t.Errorf("keys import of a moved key: %q; want 1 moved, from 2025-11-01T00:00:00Z", out)
	}
	for _, cust := range planCustomers {
		checkQueries(t, c, b.finals[cust])
	}
	if got := requestsBy(t, c, "2025-10-01", "2025-11-01"); fmt.Sprint(got) != fmt.Sprint(octUsage) {
		t.Errorf("October's usage changed when a key moved in November:\n got %v\nwant %v", got, octUsage)
	}
	after := b.keyCount(key, nov1, nov1.AddDate(1, 0, 0)).events
	if after == 0 {
		t.Fatal("the key has no November requests: the test proves nothing")
	}
	wantAll := map[string]int64{}
	for k, v := range allUsage {
		wantAll[k] = v
	}
	wantAll["unit-co"] -= after
	wantAll["package-co"] += after
	if got := requestsBy(t, c, "2025-01-01", "2026-01-01"); fmt.Sprint(got) != fmt.Sprint(wantAll) {
		t.Errorf("usage after the move:\n got %v\nwant %v", got, wantAll)
	}

	// keys list agrees with usage: the key is listed under both customers.
	fp := keymeter.NewFingerprinter(readSecret(t, c.data)).Fingerprint([]byte(key)).Fingerprint
	perCustomer := map[string]int64{}
	var spans []string
	for _, r := range decodeRows(t, c.ok("keys", "list", "--format", "json")) {
		perCustomer[fmt.Sprint(r["customer"])] += num(t, r["requests"])
		if r["fingerprint"] == fp {
			spans = append(spans, fmt.Sprintf("%v %v-%v %d", r["customer"], r["from"], r["until"], num(t, r["requests"])))
		}
	}
	wantSpans := []string{
		fmt.Sprintf("package-co 2025-11-01T00:00:00Z-<nil> %d", after),
		fmt.Sprintf("unit-co <nil>-2025-11-01T00:00:00Z %d", b.keyCount(key, time.Time{}, nov1).events),
	}
	if fmt.Sprint(spans) != fmt.Sprint(wantSpans) {
		t.Errorf("keys list of the moved key:\n got %v\nwant %v", spans, wantSpans)
	}
	delete(perCustomer, "<nil>") // keys nobody owns; usage's null customer also has the requests without a key
	delete(wantAll, "<nil>")
	if fmt.Sprint(perCustomer) != fmt.Sprint(wantAll) {
		t.Errorf("keys list per customer %v, usage %v", perCustomer, wantAll)
	}
	nov := decodeDocs(t, c.ok("invoice", "--period", "2025-11", "--format", "json"))
	for _, cust := range planCustomers {
		if d := nov[cust]; !d.LateEvents.IsZero() || len(lateAmounts(d)) != 0 {
			t.Errorf("%s: the move in November made late lines of October: %d events, %v", cust, d.LateEvents, lateAmounts(d))
		}
	}

	// A move back into October is refused: it would change two finalized
	// invoices. Nothing is imported.
	r := c.run("keys", "import", "--from", "2025-10-15", moveFile)
	if r.code != exitConflict || !strings.Contains(r.stderr, b.finals["unit-co"].Number) || !strings.Contains(r.stderr, b.finals["package-co"].Number) ||
		!strings.Contains(r.stderr, "--force") {
		t.Errorf("a move into a finalized period: exit %d, want %d naming %s and %s\n%s", r.code, exitConflict, b.finals["unit-co"].Number, b.finals["package-co"].Number, r.stderr)
	}
	if got := requestsBy(t, c, "2025-10-01", "2025-11-01"); fmt.Sprint(got) != fmt.Sprint(octUsage) {
		t.Errorf("a refused import changed usage: %v, want %v", got, octUsage)
	}

	// Forced, the next invoices bill the difference.
	c.ok("keys", "import", "--from", "2025-10-15", "--force", moveFile)
	oct15 := time.Date(2025, 10, 15, 0, 0, 0, 0, time.UTC)
	moved := b.keyCount(key, oct15, nov1)
	nov = decodeDocs(t, c.ok("invoice", "--period", "2025-11", "--format", "json"))
	for _, tt := range []struct {
		customer string
		sign     int64
	}{{"unit-co", -1}, {"package-co", 1}} {
		was := count(b.recs, tt.customer, octPeriods[tt.customer])
		want := wantLate(tt.customer, was, was.plus(moved, tt.sign))
		d := nov[tt.customer]
		if got := lateAmounts(d); fmt.Sprint(got) != fmt.Sprint(want) || len(want) == 0 {
			t.Errorf("%s: late lines after the forced move\n got %v\nwant %v", tt.customer, got, want)
		}
		if d.LateEvents != keymeter.NewInt128(tt.sign*moved.events) {
			t.Errorf("%s: %d late events, want %d", tt.customer, d.LateEvents, tt.sign*moved.events)
		}
		checkQueries(t, c, d)
	}
	for _, cust := range planCustomers {
		checkQueries(t, c, b.finals[cust])
	}
}

// TestLateEventsOldPrices: late events of a finalized period are rated on
// the plan that period was invoiced under, after its prices change in the
// billing config and after the customer moves to another plan.
func TestLateEventsOldPrices(t *testing.T) {
	b := newBilledMonth(t)
	c := b.c
	repriced := strings.NewReplacer(
		`flat_fee: "10.00"`, `flat_fee: "20.00"`,
		`requests: {model: per_unit, included: 100, unit_amount: "0.001"}`, `requests: {model: per_unit, included: 10, unit_amount: "0.005"}`,
		`egress: {model: per_unit, unit_amount: "9.00"}`, `egress: {model: per_unit, unit_amount: "1.00"}`,
		`{up_to: 200, unit_amount: "0.01"}`, `{up_to: 200, unit_amount: "0.02"}`,
	).Replace(billingYAML)
	if repriced == billingYAML {
		t.Fatal("the prices did not change")
	}
	writeFile(t, filepath.Join(c.data, "billing.yaml"), repriced)
	c.ok("customers", "set", "tiered-co", "--plan", "bundles", "--start", "2025-11-01")

	late := generate(billingGen(6, time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC), 31*24*time.Hour), 600)
	c.ok("ingest", "--quiet", writeLogs(t, t.TempDir(), "late.gz", late))
	nov := decodeDocs(t, c.ok("invoice", "--period", "2025-11", "--format", "json"))
	for _, cust := range planCustomers {
		was := count(b.recs, cust, octPeriods[cust])
		more := count(late, cust, octPeriods[cust])
		if more.events == 0 {
			t.Fatalf("%s has no late events: the test proves nothing", cust)
		}
		want := wantLate(cust, was, was.plus(more, 1))
		d := nov[cust]
		if got := lateAmounts(d); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: late lines on October's prices\n got %v\nwant %v", cust, got, want)
		}
		if d.LateEvents != keymeter.NewInt128(more.events) {
			t.Errorf("%s: %d late events, want %d", cust, d.LateEvents, more.events)
		}
		checkQueries(t, c, d)
	}
	if nov["tiered-co"].Plan != "bundles" {
		t.Errorf("tiered-co's November invoice is on plan %q, want bundles", nov["tiered-co"].Plan)
	}
}

// TestKeysImportWhitespace: whitespace around a CSV value is removed, with
// a warning naming the lines, so that the key matches its requests.
func TestKeysImportWhitespace(t *testing.T) {
	c := newCLI(t)
	gen := billingGen(5, time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC), 24*time.Hour)
	recs := generate(gen, 300)
	var csv strings.Builder
	csv.WriteString("customer,api_key\n")
	want := map[string]int64{}
	var spaced []int
	line := 1
	for _, k := range gen.Keys() {
		if k.Customer == "" {
			continue
		}
		line++
		switch line % 3 {
		case 0:
			fmt.Fprintf(&csv, "%s , %s \n", k.Customer, k.Key)
			spaced = append(spaced, line)
		case 1:
			fmt.Fprintf(&csv, "%s,\t\"%s\"\n", k.Customer, k.Key)
			spaced = append(spaced, line)
		default:
			fmt.Fprintf(&csv, "%s,%s\n", k.Customer, k.Key)
		}
	}
	if len(spaced) < 2 {
		t.Fatal("too few keys")
	}
	for _, r := range recs {
		if r.Key != nil && r.Key.Customer != "" {
			want[r.Key.Customer]++
		}
	}
	r := c.runIn(csv.String(), "keys", "import", "-", "--data", c.data)
	if want := "removed whitespace around values on " + lineList(spaced); r.code != 0 || !strings.Contains(r.stderr, want) {
		t.Errorf("keys import with whitespace: exit %d, stderr %q; want %q", r.code, r.stderr, want)
	}
	c.ok("ingest", "--quiet", writeLogs(t, t.TempDir(), "a.gz", recs))
	got := requestsBy(t, c, "2025-10-01", "2025-10-02")
	delete(got, "<nil>")
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("requests by customer %v, want %v", got, want)
	}
}

// TestKeysImportFrom: the from column and --from say when assignments take
// effect; a bad time is refused with its line.
func TestKeysImportFrom(t *testing.T) {
	c := newCLI(t)
	gen := billingGen(5, time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC), 4*24*time.Hour)
	recs := generate(gen, 800)
	c.ok("ingest", "--quiet", writeLogs(t, t.TempDir(), "a.gz", recs))
	var ks []loggen.Key
	for _, k := range gen.Keys() {
		if k.Customer != "" {
			ks = append(ks, k)
		}
	}
	// The first key is acme's from the 2nd (the row's from), the second
	// globex's from the 3rd (--from), the third initech's from noon on the 2nd.
	file := filepath.Join(t.TempDir(), "keys.csv")
	writeFile(t, file, "customer,api_key,from\nacme,"+ks[0].Key+",2025-10-02\nglobex,"+ks[1].Key+",\ninitech,"+ks[2].Key+",2025-10-02T12:00:00Z\n")
	c.ok("keys", "import", "--from", "2025-10-03", file)
	want := map[string]int64{}
	owners := map[string]struct {
		customer string
		from     time.Time
	}{
		ks[0].Key: {"acme", time.Date(2025, 10, 2, 0, 0, 0, 0, time.UTC)},
		ks[1].Key: {"globex", time.Date(2025, 10, 3, 0, 0, 0, 0, time.UTC)},
		ks[2].Key: {"initech", time.Date(2025, 10, 2, 12, 0, 0, 0, time.UTC)},
	}
	for _, r := range recs {
		if r.Key == nil {
			continue
		}
		if o, ok := owners[r.Key.Key]; ok && !r.Time.Before(o.from) {
			want[o.customer]++
		}
	}
	for _, period := range [][2]string{{"2025-10-01", "2025-10-05"}, {"2025-10-01T00:00:00.000001Z", "2025-10-05"}} {
		got := requestsBy(t, c, period[0], period[1])
		delete(got, "<nil>")
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("requests by customer over %v: %v, want %v", period, got, want)
		}
	}
	writeFile(t, file, "customer,api_key,from\nacme,"+ks[0].Key+",yesterday\n")
	if r := c.run("keys", "import", file); r.code != exitUsage || !strings.Contains(r.stderr, `line 2: from "yesterday": want a date`) {
		t.Errorf("a bad from: exit %d, %s", r.code, r.stderr)
	}
	if r := c.run("keys", "import", "--from", "soon", file); r.code != exitUsage || !strings.Contains(r.stderr, `--from "soon"`) {
		t.Errorf("a bad --from: exit %d, %s", r.code, r.stderr)
	}
}

// TestIngestNothingStored: an object every line of which is rejected
// (read with the wrong --fields) is not recorded as ingested: the next run,
// with the right flags, reads it, and its rejects go.
func TestIngestNothingStored(t *testing.T) {
	d := makeRealtimeData(31, 400)
	c := newCLI(t)
	file := filepath.Join(t.TempDir(), "firehose.gz")
	writeFile(t, file, string(gzipBytes(t, string(d.lines(d.records)))))
	wrong := strings.Join(rtFields[:10], ",")
	first := c.run("ingest", "--format", "cloudfront-realtime", "--fields", wrong, "--json", file)
	if sum := decodeSummary(t, first); sum.Events != 0 {
		t.Fatalf("the wrong fields stored %d events: the test proves nothing", sum.Events)
	}
	r := c.run("ingest", "--format", "cloudfront-realtime", "--fields", strings.Join(configuredFields, ","), "--json", file)
	sum := decodeSummary(t, r)
	if r.code != 0 || sum.Events != int64(len(d.unique)) || len(sum.Skipped) != 0 {
		t.Errorf("the rerun with the right fields: exit %d, %d events stored, skipped %v; want %d stored\n%s", r.code, sum.Events, sum.Skipped, len(d.unique), r.stderr)
	}
	if rows := decodeRows(t, c.ok("rejects", "--format", "json")); len(rows) != 0 {
		t.Errorf("the first run's rejects are still listed: %d", len(rows))
	}
	// An object read again whose lines are all stored already is recorded.
	if sum := decodeSummary(t, c.run("ingest", "--format", "cloudfront-realtime", "--fields", strings.Join(configuredFields, ","), "--json", file)); len(sum.Skipped) != 1 {
		t.Errorf("a third run: skipped %v, want the object skipped", sum.Skipped)
	}
}

// replaced returns the events an ingest --json summary says it replaced.
func replaced(t *testing.T, r result2) int64 {
	t.Helper()
	var s struct {
		Replaced int64 `json:"replaced"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Errorf("not a JSON summary: %v\n%s%s", err, r.stdout, r.stderr)
	}
	return s.Replaced
}

// TestReprocess: ingest --reprocess replaces what earlier reads of its
// inputs stored, in one transaction; a replacement that changes a
// finalized invoice is refused unless --force, and forced, billed on the
// next invoices.
func TestReprocess(t *testing.T) {
	c := newCLI(t)
	logsComplete(t, c)
	writeFile(t, filepath.Join(c.data, "billing.yaml"), billingYAML)
	dir := t.TempDir()
	gen := billingGen(5, time.Date(2025, 9, 30, 12, 0, 0, 0, time.UTC), 32*24*time.Hour)
	recs := generate(gen, 4000)
	extra := generate(billingGen(7, time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC), 30*24*time.Hour), 500)
	nov := generate(billingGen(8, time.Date(2025, 11, 2, 0, 0, 0, 0, time.UTC), 20*24*time.Hour), 500)
	var keys strings.Builder
	keys.WriteString("customer,api_key\n")
	for _, k := range gen.Keys() {
		if k.Customer != "" {
			fmt.Fprintf(&keys, "%s,%s\n", k.Customer, k.Key)
		}
	}
	c.runIn(keys.String(), "keys", "import", "-", "--data", c.data)
	a := writeLogs(t, dir, "a.gz", recs)
	extraFile := writeLogs(t, dir, "extra.gz", extra)
	novFile := writeLogs(t, dir, "nov.gz", nov)
	c.ok("ingest", "--quiet", a)
	c.ok("ingest", "--quiet", "--key-param", "nothing", extraFile) // a mistake: every request unattributed
	c.now = func() time.Time { return time.Date(2025, 11, 3, 0, 0, 0, 0, time.UTC) }
	c.ok("invoice", "finalize", "--period", "2025-10")
	finals := decodeDocs(t, c.ok("invoice", "--period", "2025-10", "--format", "json"))
	// November's logs are read once November's requests have happened
	// (a request dated after the time of reading is refused).
	c.now = func() time.Time { return time.Date(2025, 11, 25, 0, 0, 0, 0, time.UTC) }
	c.ok("ingest", "--quiet", "--key-param", "nothing", novFile)
	all := requestsBy(t, c, "2025-01-01", "2026-01-01")
	total := func(m map[string]int64) (n int64) {
		for _, v := range m {
			n += v
		}
		return n
	}

	// November is not invoiced yet: reprocessed, its requests are attributed.
	r := c.run("ingest", "--reprocess", "--json", novFile)
	sum := decodeSummary(t, r)
	if r.code != 0 || replaced(t, r) != int64(len(nov)) || sum.Events != int64(len(nov)) {
		t.Errorf("reprocess November: exit %d, %d replaced, %d stored; want %d of each\n%s", r.code, replaced(t, r), sum.Events, len(nov), r.stderr)
	}
	got := requestsBy(t, c, "2025-11-02", "2025-12-01")
	for _, cust := range billingCustomers {
		if want := count(nov, cust, [2]time.Time{time.Date(2025, 11, 2, 0, 0, 0, 0, time.UTC), time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC)}).events; got[cust] != want {
			t.Errorf("%s: %d November requests after reprocessing, want %d", cust, got[cust], want)
		}
	}
	if n := total(requestsBy(t, c, "2025-01-01", "2026-01-01")); n != total(all) {
		t.Errorf("%d requests after reprocessing, %d before: replaced events are counted twice or lost", n, total(all))
	}
	// Its events are stored once: a file repeating them adds only its new line.
	more := append(slices.Clone(nov), generate(billingGen(9, time.Date(2025, 11, 5, 0, 0, 0, 0, time.UTC), time.Hour), 1)...)
	if sum := decodeSummary(t, c.run("ingest", "--json", writeLogs(t, dir, "nov-again.gz", more))); sum.Events != 1 || sum.Duplicates != int64(len(nov)) {
		t.Errorf("ingesting November's events again: %d stored, %d duplicates; want 1 and %d", sum.Events, sum.Duplicates, len(nov))
	}

	// October is: reprocessing extra.gz with the right parameters would
	// change its invoices. Refused, nothing changes.
	octUsage := requestsBy(t, c, "2025-10-01", "2025-11-01")
	r = c.run("ingest", "--reprocess", extraFile)
	if r.code != exitConflict || !strings.Contains(r.stderr, finals["unit-co"].Number+" (unit-co 2025-10)") || !strings.Contains(r.stderr, "--force") {
		t.Errorf("reprocess into finalized invoices: exit %d, want %d naming %s\n%s", r.code, exitConflict, finals["unit-co"].Number, r.stderr)
	}
	if got := requestsBy(t, c, "2025-10-01", "2025-11-01"); fmt.Sprint(got) != fmt.Sprint(octUsage) {
		t.Errorf("a refused reprocess changed usage:\n got %v\nwant %v", got, octUsage)
	}
	// All or nothing: with an unreadable input, nothing is replaced.
	broken := filepath.Join(dir, "broken.gz")
	gz := gzipBytes(t, strings.Repeat("x", 10000))
	writeFile(t, broken, string(gz[:len(gz)/2]))
	if r := c.run("ingest", "--reprocess", "--force", extraFile, broken); r.code != exitPartial || !strings.Contains(r.stderr, "nothing was replaced") {
		t.Errorf("reprocess with an unreadable input: exit %d, want %d\n%s", r.code, exitPartial, r.stderr)
	}
	if got := requestsBy(t, c, "2025-10-01", "2025-11-01"); fmt.Sprint(got) != fmt.Sprint(octUsage) {
		t.Errorf("a failed reprocess changed usage:\n got %v\nwant %v", got, octUsage)
	}

	// Forced: the difference is billed on November's invoices.
	c.ok("ingest", "--reprocess", "--force", extraFile)
	drafts := decodeDocs(t, c.ok("invoice", "--period", "2025-11", "--format", "json"))
	for _, cust := range planCustomers {
		was := count(recs, cust, octPeriods[cust])
		added := count(extra, cust, octPeriods[cust])
		want := wantLate(cust, was, was.plus(added, 1))
		d := drafts[cust]
		if got := lateAmounts(d); fmt.Sprint(got) != fmt.Sprint(want) || len(want) == 0 {
			t.Errorf("%s: late lines after the forced reprocess\n got %v\nwant %v", cust, got, want)
		}
		if d.LateEvents != keymeter.NewInt128(added.events) {
			t.Errorf("%s: %d late events, want %d", cust, d.LateEvents, added.events)
		}
		checkQueries(t, c, d)
		checkQueries(t, c, finals[cust])
	}
	// Reprocessing an input again as it was changes nothing, and is not refused.
	amounts := func() string {
		var b strings.Builder
		docs := decodeDocs(t, c.ok("invoice", "--period", "2025-11", "--format", "json"))
		for _, cust := range planCustomers {
			fmt.Fprintln(&b, cust, lineAmounts(docs[cust]), docs[cust].LateEvents, docs[cust].Total)
		}
		return b.String()
	}
	before := amounts()
	if r := c.run("ingest", "--reprocess", "--json", a); r.code != 0 || replaced(t, r) != int64(len(recs)) {
		t.Errorf("reprocess an unchanged input: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if after := amounts(); after != before {
		t.Errorf("reprocessing an unchanged input changed November's drafts:\n%s\n%s", before, after)
	}
	for _, cust := range planCustomers {
		checkQueries(t, c, finals[cust])
	}
	if r := c.run("ingest", "--reprocess", "--follow", "s3://bucket/x"); r.code != exitUsage {
		t.Errorf("--reprocess --follow: exit %d", r.code)
	}
}
