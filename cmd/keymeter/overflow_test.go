package main

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hugeLines returns n standard log lines over days days, each with
// sc-bytes and cs-bytes 999,999,999,999,999,999 (a valid 64-bit value):
// twelve add up beyond 64 bits.
func hugeLines(n, days int, key string) string {
	var b strings.Builder
	b.WriteString(clientBytesFields)
	for i := range n {
		fmt.Fprintf(&b, "2025-10-%02d\t10:00:%02d\tIAD89-C1\t999999999999999999\t1.2.3.4\tGET\td.cloudfront.net\t/v1/big\t200\t-\tcurl\t"+
			"cf_api_key=%s\t-\tMiss\thuge%d\tapi.example.com\thttps\t999999999999999999\t2147483.647\n", 1+i%days, i%60, key, i)
	}
	return b.String()
}

const hugeKey = "km_0123456789abcdefghij"

const hugeBillingYAML = `currency: USD
meters:
  egress: {description: Data transfer out, measure: bytes_sent, source: cloudfront, unit: GB, unit_bytes: 1000000000}
  requests: {measure: requests, source: cloudfront}
plans:
  metered:
    prices:
      egress: {model: per_unit, unit_amount: "0.01"}
      requests: {model: per_unit, unit_amount: "0.001"}
customers:
  acme: {plan: metered, start: 2025-10-01}
`

// TestTotalsBeyond64Bits ingests twelve lines a day whose byte counts add
// up beyond 64 bits: the run succeeds, and usage (from the rollups and
// from the events), SQL, invoices and the cost report give the exact
// totals.
func TestTotalsBeyond64Bits(t *testing.T) {
	c := newCLI(t)
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys.csv")
	writeFile(t, keys, "customer,api_key\nacme,"+hugeKey+"\n")
	c.ok("keys", "import", keys)
	writeFile(t, filepath.Join(dir, "logs", "E2EXAMPLE.2025-10-01-10.a1"), hugeLines(24, 2, hugeKey))
	r := c.run("ingest", "--json", filepath.Join(dir, "logs"))
	if r.code != 0 {
		t.Fatalf("ingest: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	const total = "23999999999999999976" // 24 × 999,999,999,999,999,999
	const mean = "2147483.6470"          // seconds, exact
	for _, by := range []string{"customer", "path", "day", ""} {
		out := c.ok("usage", "--from", "2025-10-01", "--to", "2025-11-01", "--by", by, "--format", "csv")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		var sent, recv []string
		for _, l := range lines[1:] {
			f := strings.Split(l, ",")
			if by != "" {
				f = f[1:]
			}
			sent, recv = append(sent, f[1]), append(recv, f[2])
			if f[3] != mean {
				t.Errorf("usage --by %q: mean time taken %s, want %s", by, f[3], mean)
			}
		}
		want := []string{total}
		if by == "day" {
			want = []string{"11999999999999999988", "11999999999999999988"}
		}
		if strings.Join(sent, " ") != strings.Join(want, " ") || strings.Join(recv, " ") != strings.Join(want, " ") {
			t.Errorf("usage --by %q: bytes sent %v, received %v; want %v\n%s", by, sent, recv, want, out)
		}
	}
	// JSON numbers keep every digit; so does the table.
	out := c.ok("usage", "--from", "2025-10-01", "--to", "2025-11-01", "--by", "", "--format", "json")
	var rows []map[string]any
	d := json.NewDecoder(strings.NewReader(out))
	d.UseNumber()
	if err := d.Decode(&rows); err != nil || len(rows) != 1 || rows[0]["bytes_sent"] != json.Number(total) || rows[0]["requests"] != json.Number("24") {
		t.Errorf("usage --format json: %v %v\n%s", rows, err, out)
	}
	if out := c.ok("usage", "--from", "2025-10-01", "--to", "2025-11-01"); !strings.Contains(out, total) {
		t.Errorf("usage table lacks %s:\n%s", total, out)
	}
	if out := c.ok("sql", "--format", "csv", "SELECT sum(sc_bytes) AS s FROM cloudfront_logs"); out != "s\n"+total+"\n" {
		t.Errorf("sql sum: %q", out)
	}

	// Invoices count the exact quantity: 23,999,999,999.999999976 GB at
	// one cent is $239,999,999.99999999976, rounded once.
	writeFile(t, filepath.Join(c.data, "billing.yaml"), hugeBillingYAML)
	out = c.ok("invoice", "--period", "2025-10", "--customer", "acme", "--format", "json")
	var doc struct {
		Lines []struct {
			Meter       string          `json:"meter"`
			Quantity    string          `json:"quantity"`
			Amount      string          `json:"amount"`
			RawQuantity json.Number     `json:"raw_quantity"`
			Events      json.Number     `json:"events"`
			Extra       json.RawMessage `json:"-"`
		} `json:"lines"`
		Total string `json:"total"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("invoice: %v\n%s", err, out)
	}
	var egress string
	for _, l := range doc.Lines {
		if l.Meter == "egress" {
			egress = fmt.Sprint(l.RawQuantity, " ", l.Quantity, " ", l.Amount, " ", l.Events)
		}
	}
	if want := total + " 23999999999.999999976 24000000000 24"; egress != want {
		t.Errorf("invoice egress line: %q, want %q\n%s", egress, want, out)
	}
	if out := c.ok("costs", "--period", "2025-10", "--format", "csv"); !strings.Contains(out, ",24,"+total+",0,") {
		t.Errorf("costs:\n%s", out)
	}
}

// TestUpgradeMakesRollupsWide upgrades a store written at schema version
// 1 (testdata/upgrade/v1) and ingests totals beyond 64 bits into it.
func TestUpgradeMakesRollupsWide(t *testing.T) {
	c := newCLI(t)
	src := filepath.Join("..", "..", "testdata", "upgrade", "v1")
	gz, err := os.Open(filepath.Join(src, "keymeter.duckdb.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer gz.Close()
	zr, err := gzip.NewReader(gz)
	if err != nil {
		t.Fatal(err)
	}
	var db strings.Builder
	if _, err := io.Copy(&db, zr); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(c.data, "keymeter.duckdb"), db.String())
	secret, err := os.ReadFile(filepath.Join(src, "secret"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(c.data, "secret"), string(secret))
	if err := os.Chmod(filepath.Join(c.data, "secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := c.ok("usage", "--from", "2025-10-01", "--to", "2025-11-01", "--by", "", "--format", "csv")
	logs := filepath.Join(t.TempDir(), "E2EXAMPLE.2025-10-01-10.huge")
	writeFile(t, logs, hugeLines(12, 1, hugeKey))
	if r := c.run("ingest", logs); r.code != 0 {
		t.Fatalf("ingest into the upgraded store: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	after := c.ok("usage", "--from", "2025-10-01", "--to", "2025-11-01", "--by", "", "--format", "csv")
	b, a := strings.Split(strings.Split(before, "\n")[1], ","), strings.Split(strings.Split(after, "\n")[1], ",")
	if want := addDecimal(t, b[1], "11999999999999999988"); a[1] != want {
		t.Errorf("bytes sent %s before, %s after; want %s", b[1], a[1], want)
	}
}

// addDecimal adds two non-negative decimal integers of any size.
func addDecimal(t *testing.T, x, y string) string {
	t.Helper()
	var out []byte
	carry := 0
	for i, j := len(x)-1, len(y)-1; i >= 0 || j >= 0 || carry > 0; i, j = i-1, j-1 {
		d := carry
		if i >= 0 {
			d += int(x[i] - '0')
		}
		if j >= 0 {
			d += int(y[j] - '0')
		}
		out = append([]byte{byte('0' + d%10)}, out...)
		carry = d / 10
	}
	return string(out)
}
