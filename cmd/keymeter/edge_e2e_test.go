package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keymeter/keymeter/billing/invoice"
	"github.com/keymeter/keymeter/internal/loggen"
)

// edgeMonth is a generated month of requests in both CloudFront logs:
// each request has a standard line and, unless sampling dropped it, a
// real-time record with the same x-edge-request-id. Most requests send
// their key only in the x-api-key header, which the standard log cannot
// see; a few send it in the query string (some in both); CloudFront's
// 800-byte cut drops some key headers.
type edgeMonth struct {
	keys []loggen.Key
	recs []loggen.Record
	// fields is the real-time log configuration: made for attribution,
	// it logs the headers but not the URI, so that a key cut from the
	// headers can only be recovered from the standard line's query
	// string.
	fields []string
	query  bool // the configuration logs the query string
	dists  map[string]string
}

var edgeRTFields = []string{
	"timestamp", "c-ip", "sc-status", "sc-bytes", "cs-method", "cs-bytes", "x-edge-location", "x-edge-request-id",
	"x-host-header", "time-taken", "cs-user-agent", "x-edge-result-type", "cs-headers", "cs-header-names", "cs-headers-count",
}

func makeEdgeMonth(seed uint64, n int, start time.Time, span time.Duration) *edgeMonth {
	g := loggen.New(loggen.Config{
		Seed: seed, KeySeed: 91, Start: start, Span: span,
		Customers: 3, KeysPerCustomer: 2, UnknownKeys: 1, NoKeyPercent: 8, Paths: 20,
		HeaderKeyPercent: 85, BothPercent: 25, TruncatedPercent: 7, BigHeadersPercent: 8, MissingPercent: 4,
		Distributions: []string{"d111111abcdef8.cloudfront.net", "d222222abcdef8.cloudfront.net"},
		CustomerNames: []string{"acme", "globex", "initech"},
	})
	return &edgeMonth{keys: g.Keys(), recs: g.EdgeMonth(n), fields: edgeRTFields,
		dists: map[string]string{"d111111abcdef8.cloudfront.net": "E1EXAMPLE", "d222222abcdef8.cloudfront.net": "E2EXAMPLE"}}
}

func (m *edgeMonth) keysCSV() string { return (&dataset{keys: m.keys}).keysCSV() }

// writeStandard writes the standard lines of recs in the files
// CloudFront delivers, one per distribution and day here:
// <distribution ID>.YYYY-MM-DD-HH.<id>.gz.
func (m *edgeMonth) writeStandard(t *testing.T, dir string, recs []loggen.Record) {
	t.Helper()
	files := map[string][]byte{}
	for i := range recs {
		r := &recs[i]
		name := fmt.Sprintf("%s.%s-00.%s.gz", m.dists[r.Distribution], r.Time.Format("2006-01-02"), r.Time.Format("0102"))
		if files[name] == nil {
			files[name] = []byte(loggen.Header(loggen.StandardFields))
		}
		files[name] = r.AppendLine(files[name], loggen.StandardFields)
	}
	for name, b := range files {
		writeFile(t, filepath.Join(dir, name), string(gzipBytes(t, string(b))))
	}
}

// writeRealtime writes the delivered real-time records of recs as
// Firehose objects, one per day.
func (m *edgeMonth) writeRealtime(t *testing.T, dir string, recs []loggen.Record) {
	t.Helper()
	files := map[string][]byte{}
	for i := range recs {
		r := &recs[i]
		if !r.Realtime {
			continue
		}
		name := "realtime-" + r.Time.Format("2006-01-02") + ".gz"
		files[name] = r.AppendRealtime(files[name], m.fields)
	}
	for name, b := range files {
		writeFile(t, filepath.Join(dir, name), string(gzipBytes(t, string(b))))
	}
}

// truth is the generator's: what the join gives for the records that
// arrived.
func (m *edgeMonth) truth(arrived func(*loggen.Record) loggen.Arrived) (map[string]totals, map[loggen.CoverageKey]loggen.Coverage) {
	per, cov := loggen.EdgeTruth(m.recs, arrived, m.query)
	out := map[string]totals{}
	for k, v := range per {
		out[k] = totals{v.Requests, v.BytesSent, v.BytesRecv}
	}
	return out, cov
}

func both(*loggen.Record) loggen.Arrived { return loggen.Arrived{Standard: true, Realtime: true} }

// newEdgeCLI imports the keys and writes the config: the real-time
// fields, and the month's logs as complete as generated.
func newEdgeCLI(t *testing.T, m *edgeMonth) *cli {
	c := newCLI(t)
	writeFile(t, filepath.Join(c.data, "keymeter.yaml"), "realtime_fields: ["+strings.Join(m.fields, ", ")+"]\n")
	keysFile := filepath.Join(t.TempDir(), "keys.csv")
	writeFile(t, keysFile, m.keysCSV())
	c.ok("keys", "import", keysFile)
	return c
}

// edgeUsage is keymeter usage by customer (without --source unless
// given), as totals per customer ("" for none).
func edgeUsage(t *testing.T, c *cli, args ...string) map[string]totals {
	t.Helper()
	rows := usageJSON(t, c, append([]string{"--to", "2025-12-01", "--by", "customer"}, args...)...)
	got := map[string]totals{}
	for _, r := range rows {
		if s, ok := r["source"]; ok && s != "edge" {
			t.Errorf("a row of source %v, want only edge: %v", s, r)
		}
		name, _ := r["customer"].(string)
		got[name] = totals{num(t, r["requests"]), num(t, r["bytes_sent"]), num(t, r["bytes_received"])}
	}
	return got
}

func checkEdge(t *testing.T, c *cli, stage string, want map[string]totals) {
	t.Helper()
	if got := edgeUsage(t, c); !maps.Equal(got, want) {
		t.Errorf("%s: usage per customer\n got %v\nwant %v", stage, got, want)
	}
	if got := edgeUsage(t, c, "--source", "edge"); !maps.Equal(got, want) {
		t.Errorf("%s: usage --source edge per customer\n got %v\nwant %v", stage, got, want)
	}
}

// checkCoverage compares keymeter coverage with the generator's counts.
func checkCoverage(t *testing.T, c *cli, stage string, want map[loggen.CoverageKey]loggen.Coverage) {
	t.Helper()
	var rows []struct {
		Distribution *string
		Day          string
		Standard     int64        `json:"standard_requests"`
		WithRealtime int64        `json:"with_realtime"`
		RealtimeOnly int64        `json:"realtime_only"`
		KeyTruncated int64        `json:"key_truncated"`
		KeyRecovered int64        `json:"key_recovered"`
		Ratio        *json.Number `json:"realtime_percent"`
	}
	out := c.ok("coverage", "--from", "2025-10-01", "--to", "2025-12-01", "--format", "json")
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("%s: coverage: %v\n%s", stage, err, out)
	}
	got := map[loggen.CoverageKey]loggen.Coverage{}
	for _, r := range rows {
		if r.Distribution == nil {
			t.Errorf("%s: a coverage row without a distribution: %+v", stage, r)
			continue
		}
		got[loggen.CoverageKey{Distribution: *r.Distribution, Day: r.Day}] = loggen.Coverage{
			Standard: r.Standard, WithRealtime: r.WithRealtime, RealtimeOnly: r.RealtimeOnly, KeyTruncated: r.KeyTruncated, KeyRecovered: r.KeyRecovered}
		if r.Standard > 0 {
			if want := fmt.Sprintf("%d.%02d", r.WithRealtime*10000/r.Standard/100, r.WithRealtime*10000/r.Standard%100); r.Ratio == nil || r.Ratio.String() != want {
				t.Errorf("%s: %s %s: realtime_percent %v, want %s", stage, *r.Distribution, r.Day, r.Ratio, want)
			}
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("%s: coverage\n got %v\nwant %v", stage, got, want)
	}
	var truncated, recovered, rtOnly int64
	for _, v := range want {
		truncated, recovered, rtOnly = truncated+v.KeyTruncated, recovered+v.KeyRecovered, rtOnly+v.RealtimeOnly
	}
	if truncated < 20 || stage == "complete" && (recovered < 10 || rtOnly != 0) || len(want) < 60 {
		t.Fatalf("%s: the data set tests too little: %d truncated, %d recovered, %d real-time only, %d rows", stage, truncated, recovered, rtOnly, len(want))
	}
}

// TestEdgeJoinMonth ingests a generated month of both CloudFront logs,
// standard logs first and real-time logs first: usage gives exactly the
// per-customer truth (each request once, its bytes from the standard log,
// attributed wherever either log shows the whole key), before and after
// the second log arrives; ingesting either log again changes nothing;
// the default never adds the two logs; coverage equals the generator's
// counts.
func TestEdgeJoinMonth(t *testing.T) {
	m := makeEdgeMonth(7, 16000, time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC), 31*24*time.Hour)
	std, rt := t.TempDir(), t.TempDir()
	m.writeStandard(t, std, m.recs)
	m.writeRealtime(t, rt, m.recs)
	full, fullCov := m.truth(both)
	stdOnly, _ := m.truth(func(*loggen.Record) loggen.Arrived { return loggen.Arrived{Standard: true} })
	rtOnly, rtCov := m.truth(func(*loggen.Record) loggen.Arrived { return loggen.Arrived{Realtime: true} })
	if maps.Equal(full, stdOnly) || maps.Equal(full, rtOnly) || len(full) != 4 {
		t.Fatalf("the data set tests too little: %v", full)
	}
	for _, order := range []string{"standard first", "real-time first"} {
		t.Run(order, func(t *testing.T) {
			c := newEdgeCLI(t, m)
			if order == "standard first" {
				c.ok("ingest", "--quiet", std)
				checkEdge(t, c, "standard logs only", stdOnly)
				c.ok("ingest", "--quiet", rt)
			} else {
				c.ok("ingest", "--quiet", rt)
				checkEdge(t, c, "real-time logs only", rtOnly)
				checkCoverage(t, c, "real-time logs only", rtCov)
				c.ok("ingest", "--quiet", std)
			}
			checkEdge(t, c, "both logs", full)
			checkCoverage(t, c, "complete", fullCov)

			// Either log again, under other names: nothing changes.
			again := t.TempDir()
			for _, dir := range []string{std, rt} {
				entries, _ := os.ReadDir(dir)
				for _, e := range entries[:3] {
					b, err := os.ReadFile(filepath.Join(dir, e.Name()))
					if err != nil {
						t.Fatal(err)
					}
					writeFile(t, filepath.Join(again, "copy-"+e.Name()), string(b))
				}
			}
			if r := c.run("ingest", "--json", again); r.code != 0 || decodeSummary(t, r).Events != 0 {
				t.Errorf("ingest copies: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			checkEdge(t, c, "after ingesting copies", full)
			checkCoverage(t, c, "complete", fullCov)

			// The default never adds the two logs: one edge row, as many
			// requests as there are, not the standard and real-time
			// records together.
			var requests, records int64
			for _, v := range full {
				requests += v.Requests
			}
			for i := range m.recs {
				records++
				if m.recs[i].Realtime {
					records++
				}
			}
			rows := usageJSON(t, c, "--to", "2025-12-01", "--by", "source")
			if len(rows) != 1 || rows[0]["source"] != "edge" || num(t, rows[0]["requests"]) != requests {
				t.Errorf("usage --by source: %v, want one edge row of %d requests (%d records)", rows, requests, records)
			}
			if out := c.ok("sql", "--format", "csv", "SELECT count(*) AS n, count(*) FILTER (WHERE provisional) AS p FROM edge_events"); out != fmt.Sprintf("n,p\n%d,0\n", requests) {
				t.Errorf("sql over edge_events: %q, want %d requests, none provisional", out, requests)
			}
			checkCompleteness(t, c, m)
			checkCoverageWarning(t, c, m)
			rows = usageJSON(t, c, "--to", "2025-12-01", "--by", "", "--source", "cloudfront,cloudfront-realtime")
			var raw int64
			for _, r := range rows {
				raw += num(t, r["requests"])
			}
			if len(rows) != 2 || raw != records {
				t.Errorf("usage of both logs: %v, want one row per log, %d records", rows, records)
			}
		})
	}
}

// TestEdgeJoinLateRecord finalizes an invoice metered on the edge join,
// then ingests real-time records that arrive late and attribute requests
// of the finalized period: the finalized invoice stays as it was, its
// queries give the same answers, and the difference is billed on the
// next invoice.
func TestEdgeJoinLateRecord(t *testing.T) {
	start := time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC)
	m := makeEdgeMonth(8, 9000, start, 33*24*time.Hour) // into November: the logs of October are complete
	// 40 late real-time records attribute requests of acme's; 5 more
	// are of requests whose standard line had the key already, and
	// change nothing.
	var late, same, onTime []loggen.Record
	for _, r := range m.recs {
		switch {
		case r.Time.Month() == 10 && r.Realtime && r.StandardKey() == nil && r.RealtimeKey(false) != nil && r.Sent.Customer == "acme" && len(late) < 40:
			late = append(late, r)
		case r.Time.Month() == 10 && r.Realtime && r.StandardKey() != nil && r.Sent.Customer == "acme" && len(same) < 5:
			same = append(same, r)
		default:
			onTime = append(onTime, r)
		}
	}
	c := newEdgeCLI(t, m)
	writeFile(t, filepath.Join(c.data, "billing.yaml"), `currency: USD
meters:
  requests: {measure: requests, source: edge}
  egress: {measure: bytes_sent, source: edge, unit: MB, unit_bytes: 1000000}
plans:
  api:
    prices:
      requests: {model: per_unit, unit_amount: "0.01"}
      egress: {model: per_unit, unit_amount: "0.50"}
customers:
  acme: {plan: api, start: 2025-10-01}
  globex: {plan: api, start: 2025-10-01}
`)
	dir := t.TempDir()
	m.writeStandard(t, filepath.Join(dir, "std"), m.recs)
	m.writeRealtime(t, filepath.Join(dir, "rt"), onTime)
	c.ok("ingest", "--quiet", dir)
	c.now = func() time.Time { return time.Date(2025, 11, 3, 0, 0, 0, 0, time.UTC) }
	c.ok("invoice", "finalize", "--period", "2025-10", "--coverage-threshold", "0")
	final := c.ok("invoice", "--period", "2025-10", "--customer", "acme", "--format", "json")
	d, err := invoice.Decode([]byte(final))
	if err != nil {
		t.Fatal(err)
	}
	october := func(r *loggen.Record) bool { return r.Time.Month() == 10 }
	lateSet := map[string]bool{}
	for _, r := range append(late, same...) {
		lateSet[r.RequestID] = true
	}
	before, _ := m.truth(func(r *loggen.Record) loggen.Arrived {
		return loggen.Arrived{Standard: october(r), Realtime: october(r) && !lateSet[r.RequestID]}
	})
	if got := documentUsage(d)["requests"]; got.Events.String() != fmt.Sprint(before["acme"].Requests) || got.RawQuantity != got.Events {
		t.Errorf("the finalized requests line counts %v, want %d", got, before["acme"].Requests)
	}

	lateDir := t.TempDir()
	m.writeRealtime(t, lateDir, append(late, same...))
	c.ok("ingest", "--quiet", lateDir)
	if again := c.ok("invoice", "--period", "2025-10", "--customer", "acme", "--format", "json"); again != final {
		t.Errorf("the finalized invoice changed:\n%s\nwas\n%s", again, final)
	}
	checkQueries(t, c, d)
	after, _ := m.truth(func(r *loggen.Record) loggen.Arrived {
		return loggen.Arrived{Standard: october(r), Realtime: october(r)}
	})
	nov, err := invoice.Decode([]byte(c.ok("invoice", "--period", "2025-11", "--customer", "acme", "--format", "json", "--coverage-threshold", "0")))
	if err != nil {
		t.Fatal(err)
	}
	var lateEvents string
	for _, l := range nov.Lines {
		if l.Kind == invoice.LineLateUsage && l.Meter == "requests" && l.Events != nil {
			lateEvents = l.Events.String()
		}
	}
	if want := fmt.Sprint(after["acme"].Requests - before["acme"].Requests); lateEvents != want || want != fmt.Sprint(len(late)) || nov.LateEvents.String() != want {
		t.Errorf("November's late requests line: %q events, late events %s; want %s (%d late records attribute requests)", lateEvents, nov.LateEvents, want, len(late))
	}
	for _, l := range nov.Lines {
		if l.Query != "" {
			if !strings.Contains(l.Query, "edge_events_as_of(") {
				t.Errorf("a line of an edge meter does not count the edge join: %s", l.Query)
			}
		}
	}
	checkQueries(t, c, nov)
}

// TestEdgeJoinDefaults checks what every command counts when both
// CloudFront logs and API Gateway logs are ingested: the edge join and
// the origin side by side, never one sum.
func TestEdgeJoinDefaults(t *testing.T) {
	m := makeEdgeMonth(9, 3000, time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC), 31*24*time.Hour)
	c := newEdgeCLI(t, m)
	dir := t.TempDir()
	m.writeStandard(t, filepath.Join(dir, "std"), m.recs)
	m.writeRealtime(t, filepath.Join(dir, "rt"), m.recs)
	c.ok("ingest", "--quiet", dir)
	origin := filepath.Join(t.TempDir(), "origin.log")
	writeFile(t, origin, `{"requestId":"r-1","requestTimeEpoch":"1759320000000","httpMethod":"GET","path":"/v1/items","status":"200","responseLength":"10"}
{"requestId":"r-2","requestTimeEpoch":"1759320001000","httpMethod":"GET","path":"/v1/items","status":"200","responseLength":"20"}
`)
	c.ok("ingest", "--quiet", "--format", "apigateway", origin)
	full, _ := m.truth(both)
	var requests int64
	for _, v := range full {
		requests += v.Requests
	}
	rows := usageJSON(t, c, "--by", "")
	var got []string
	for _, r := range rows {
		got = append(got, fmt.Sprint(r["source"], " ", r["requests"]))
	}
	if want := []string{"apigateway 2", fmt.Sprint("edge ", requests)}; !slices.Equal(got, want) {
		t.Errorf("usage --by '': %v, want %v", got, want)
	}
	if out := c.ok("usage", "--by", "customer", "--from", "2025-10-01"); !strings.Contains(out, "source") || !strings.Contains(out, "complete until") {
		t.Errorf("the usage table: no source column or watermark footnote:\n%s", out)
	}

	// keys list: a customer's keys count its requests once each.
	perCustomer := map[string]int64{}
	for _, r := range decodeRows(t, c.ok("keys", "list", "--format", "json")) {
		name, _ := r["customer"].(string)
		perCustomer[name] += num(t, r["requests"])
	}
	for _, name := range []string{"acme", "globex", "initech"} {
		if perCustomer[name] != full[name].Requests {
			t.Errorf("keys list: %s's keys have %d requests, want %d", name, perCustomer[name], full[name].Requests)
		}
	}

	// costs: CloudFront's requests are the edge join's, per customer too.
	writeFile(t, filepath.Join(c.data, "billing.yaml"), `currency: USD
meters:
  requests: {measure: requests, source: edge}
plans:
  api: {prices: {requests: {model: per_unit, unit_amount: "0.01"}}}
customers:
  acme: {plan: api, start: 2025-10-01}
  globex: {plan: api, start: 2025-10-01}
  initech: {plan: api, start: 2025-10-01}
`)
	account := decodeRows(t, c.ok("costs", "--period", "2025-10", "--format", "json"))
	if len(account) != 1 || num(t, account[0]["cloudfront_requests"]) != requests || num(t, account[0]["apigateway_requests"]) != 2 {
		t.Errorf("costs: %v, want %d CloudFront and 2 API Gateway requests", account, requests)
	}
	for _, r := range decodeRows(t, c.ok("costs", "--period", "2025-10", "--by", "customer", "--format", "json")) {
		name, _ := r["customer"].(string)
		if num(t, r["cloudfront_requests"]) != full[name].Requests {
			t.Errorf("costs of %q: %v CloudFront requests, want %d", name, r["cloudfront_requests"], full[name].Requests)
		}
	}
	// reconcile compares the edge join with the origin.
	if r := c.run("reconcile", "--from", "2025-10-01", "--to", "2025-11-01", "--by", ""); r.code != 0 ||
		!strings.Contains(r.stderr, "edge source edge, origin source apigateway") || !strings.Contains(r.stdout, fmt.Sprint(requests)) {
		t.Errorf("reconcile: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// checkCompleteness checks usage's completeness fields by day: the edge
// join is complete until the earliest, over the distributions, of its
// logs' newest request less their settling delays (24 hours for
// standard logs, 15 minutes for real-time logs), and a day that ends
// after it is provisional.
func checkCompleteness(t *testing.T, c *cli, m *edgeMonth) {
	t.Helper()
	newest := map[[2]string]time.Time{}
	for i := range m.recs {
		r := &m.recs[i]
		std := [2]string{"std", r.Distribution}
		if r.Time.After(newest[std]) {
			newest[std] = r.Time
		}
		rt := [2]string{"rt", r.Distribution}
		if at := r.Time.Add(time.Duration(r.Millis) * time.Millisecond); r.Realtime && at.After(newest[rt]) {
			newest[rt] = at
		}
	}
	var until time.Time
	for k, t0 := range newest {
		w := t0.Add(-15 * time.Minute)
		if k[0] == "std" {
			w = t0.Add(-24 * time.Hour)
		}
		if until.IsZero() || w.Before(until) {
			until = w
		}
	}
	rows := usageJSON(t, c, "--by", "day")
	provisional := 0
	for _, r := range rows {
		day, _ := time.Parse("2006-01-02", r["day"].(string))
		want := day.AddDate(0, 0, 1).After(until)
		if r["provisional"] != want || r["complete_until"] != until.Format(time.RFC3339Nano) {
			t.Errorf("usage of %s: provisional %v, complete until %v; want %v, %s", r["day"], r["provisional"], r["complete_until"], want, until.Format(time.RFC3339Nano))
		}
		if want {
			provisional++
		}
	}
	if provisional != 2 || len(rows) != 31 {
		t.Errorf("%d of %d days provisional, want the last 2 of 31", provisional, len(rows))
	}
}

// checkCoverageWarning checks that usage warns that the real-time log
// misses records, and by how much each customer is under-billed: its
// requests attributed by a real-time record, times the share of the
// standard log's requests without one, over the share with one.
func checkCoverageWarning(t *testing.T, c *cli, m *edgeMonth) {
	t.Helper()
	var std, with int64
	keyed := map[string]int64{}
	for i := range m.recs {
		r := &m.recs[i]
		std++
		if !r.Realtime {
			continue
		}
		with++
		if k := r.RealtimeKey(m.query); r.StandardKey() == nil && k != nil && k.Customer != "" {
			keyed[k.Customer]++
		}
	}
	r := c.run("usage", "--from", "2025-10-01", "--to", "2025-11-01")
	pct := fmt.Sprintf("%d.%02d%%", with*10000/std/100, with*10000/std%100)
	if r.code != 0 || !strings.Contains(r.stderr, "has a record of "+pct+" of the standard log's requests") {
		t.Errorf("usage: exit %d, no coverage warning of %s:\n%s", r.code, pct, r.stderr)
	}
	for _, name := range []string{"acme", "globex", "initech"} {
		if want := fmt.Sprintf("%s about %d", name, keyed[name]*(std-with)/with); !strings.Contains(r.stderr, want) {
			t.Errorf("usage's coverage warning lacks %q:\n%s", want, r.stderr)
		}
	}
	if r := c.run("usage", "--from", "2025-10-01", "--to", "2025-11-01", "--coverage-threshold", "90"); r.code != 0 || strings.Contains(r.stderr, "warning") {
		t.Errorf("usage --coverage-threshold 90: exit %d, %s", r.code, r.stderr)
	}
}

// TestFinalizeWaitsForLogs: an invoice whose meter counts a source that
// is not complete up to the period's end is not finalized without
// --force; with it, it is, with a warning.
func TestFinalizeWaitsForLogs(t *testing.T) {
	m := makeEdgeMonth(10, 3000, time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC), 31*24*time.Hour)
	c := newEdgeCLI(t, m)
	writeFile(t, filepath.Join(c.data, "billing.yaml"), `currency: USD
meters:
  requests: {measure: requests, source: edge}
plans:
  api: {prices: {requests: {model: per_unit, unit_amount: "0.01"}}}
customers:
  acme: {plan: api, start: 2025-10-01}
`)
	dir := t.TempDir()
	m.writeStandard(t, filepath.Join(dir, "std"), m.recs)
	m.writeRealtime(t, filepath.Join(dir, "rt"), m.recs)
	c.ok("ingest", "--quiet", dir)
	// The draft says by how much the sampled real-time log under-bills:
	// the requests it attributes, times the share of the standard log's
	// requests without a real-time record over the share with one, at
	// one cent each.
	var std, with, keyed int64
	for i := range m.recs {
		r := &m.recs[i]
		std++
		if r.Realtime {
			with++
			if k := r.RealtimeKey(m.query); r.StandardKey() == nil && k != nil && k.Customer == "acme" {
				keyed++
			}
		}
	}
	short := keyed * (std - with) / with
	var draft invoice.Document
	if err := json.Unmarshal([]byte(c.ok("invoice", "--period", "2025-10", "--customer", "acme", "--format", "json")), &draft); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("acme is probably under-billed by about %d.%02d USD; meter requests: about %d requests more", short/100, short%100, short)
	if len(draft.Warnings) != 1 || !strings.Contains(draft.Warnings[0], want) || short == 0 {
		t.Errorf("the draft's warnings %q, want one with %q", draft.Warnings, want)
	}
	if out := c.ok("invoice", "--period", "2025-10", "--customer", "acme"); !strings.Contains(out, "warning: the real-time log has a record of only") {
		t.Errorf("the draft's text lacks the warning:\n%s", out)
	}
	c.now = func() time.Time { return time.Date(2025, 11, 5, 0, 0, 0, 0, time.UTC) }
	r := c.run("invoice", "finalize", "--period", "2025-10")
	if r.code != exitConflict || !strings.Contains(r.stderr, "acme: its logs are not complete up to the period's end 2025-11-01T00:00:00Z") ||
		!strings.Contains(r.stderr, "edge: complete until 2025-10-30T") || !strings.Contains(r.stderr, "settling 24h") {
		t.Errorf("finalize before the logs are complete: exit %d, want %d\n%s", r.code, exitConflict, r.stderr)
	}
	r = c.run("invoice", "finalize", "--period", "2025-10", "--force")
	if r.code != 0 || !strings.Contains(r.stderr, "warning: --force: acme: its logs are not complete") {
		t.Errorf("finalize --force: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// The finalized invoice keeps no warning.
	var d invoice.Document
	if err := json.Unmarshal([]byte(c.ok("invoice", "--period", "2025-10", "--customer", "acme", "--format", "json")), &d); err != nil {
		t.Fatal(err)
	}
	if d.Status != invoice.Final || len(d.Warnings) != 0 || !strings.Contains(r.stderr, "warning: the real-time log has a record of only") {
		t.Errorf("finalized: status %s, warnings %q; finalize's stderr:\n%s", d.Status, d.Warnings, r.stderr)
	}
}

// TestEdgeJoinKinesis ingests the standard logs of a month from files,
// then its real-time records from a Kinesis stream (kinesalite), with a
// real-time configuration that logs the query string too: the edge join
// gives the truth, each request once, and a second read of the stream
// changes nothing.
func TestEdgeJoinKinesis(t *testing.T) {
	k := newKinesalite(t, 2)
	awsTestEnv(t)
	m := makeEdgeMonth(11, 4000, time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC), 31*24*time.Hour)
	m.fields, m.query = rtFields, true
	c := newEdgeCLI(t, m)
	std := t.TempDir()
	m.writeStandard(t, std, m.recs)
	c.ok("ingest", "--quiet", std)
	var delivered []loggen.Record
	for _, r := range m.recs {
		if r.Realtime {
			delivered = append(delivered, r)
		}
	}
	d := &rtData{fields: m.fields}
	k.put(d, delivered)
	k.put(d, delivered[:200]) // a producer retried
	src := "kinesis://" + k.name
	for range 2 {
		if r := c.run("ingest", src, "--endpoint", k.endpoint); r.code != 0 {
			t.Fatalf("ingest %s: exit %d\n%s%s", src, r.code, r.stdout, r.stderr)
		}
		full, cov := m.truth(both)
		checkEdge(t, c, "standard logs, then the stream", full)
		var recovered int64
		for _, v := range cov {
			recovered += v.KeyRecovered
		}
		if recovered != 0 {
			t.Errorf("a real-time log with the query string recovers %d keys from it", recovered)
		}
		checkCoverage(t, c, "the stream", cov)
	}
}
