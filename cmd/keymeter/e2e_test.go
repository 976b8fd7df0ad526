package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/internal/loggen"
	"github.com/keymeter/keymeter/store/duckdb"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func gzipBytes(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// totals is the independent count: requests and bytes per group.
type totals struct {
	Requests, Sent, Recv int64
}

// dataset is a generated month of logs and its ground truth.
type dataset struct {
	dir        string
	keys       []loggen.Key
	records    map[string]loggen.Record // unique records by request ID
	malformed  int
	truncLines int // complete lines the truncated file still holds
}

// layout26 is the Dec 2017 to Dec 2019 layout; reordered is the standard
// layout in another order.
var (
	layout26  = loggen.StandardFields[:26]
	reordered = func() []string {
		f := append([]string(nil), loggen.StandardFields...)
		for i, j := 0, len(f)-1; i < j; i, j = i+1, j-1 {
			f[i], f[j] = f[j], f[i]
		}
		return f
	}()
)

// makeDataset writes a month of CloudFront logs for four customers: files
// in the 33-field, 26-field, reordered and headerless 23-field layouts,
// plain and gzip (one of several gzip members), with a renamed copy of a
// file, lines repeated in another file, malformed lines and a truncated
// gzip file.
func makeDataset(t *testing.T) *dataset {
	t.Helper()
	d := &dataset{dir: t.TempDir(), records: map[string]loggen.Record{}}
	gen := loggen.New(loggen.Config{
		Seed: 42, Start: time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC), Span: 31 * 24 * time.Hour,
		Customers: 4, KeysPerCustomer: 2, UnknownKeys: 2, NoKeyPercent: 7, Paths: 30,
	})
	d.keys = gen.Keys()
	const n = 12000
	recs := make([]loggen.Record, n)
	for i := range recs {
		gen.Next(&recs[i])
		d.records[recs[i].RequestID] = recs[i]
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Time.Before(recs[j].Time) })
	part := func(i int) []loggen.Record { return recs[i*n/6 : (i+1)*n/6] }
	lines := func(rs []loggen.Record, fields []string) string {
		var b []byte
		for i := range rs {
			b = rs[i].AppendLine(b, fields)
		}
		return string(b)
	}
	std := loggen.StandardFields
	dist := "E2EXAMPLE"

	// 1: the standard layout, gzip.
	f1 := gzipBytes(t, loggen.Header(std)+lines(part(0), std))
	writeFile(t, filepath.Join(d.dir, "2025/10", dist+".2025-10-01-00.a1.gz"), string(f1))
	// A renamed copy of it.
	writeFile(t, filepath.Join(d.dir, "copies", "renamed.gz"), string(f1))
	// 2: two gzip members in one file.
	half := len(part(1)) / 2
	f2 := append(gzipBytes(t, loggen.Header(std)+lines(part(1)[:half], std)), gzipBytes(t, lines(part(1)[half:], std))...)
	writeFile(t, filepath.Join(d.dir, "2025/10", dist+".2025-10-06-00.b2.gz"), string(f2))
	// 3: the 26-field layout, plain text.
	writeFile(t, filepath.Join(d.dir, "2025/10", dist+".2025-10-11-00.c3"), loggen.Header(layout26)+lines(part(2), layout26))
	// 4: fields in another order, every line with a trailing empty field.
	f4 := loggen.Header(reordered) + strings.ReplaceAll(lines(part(3), reordered), "\n", "\t\n")
	writeFile(t, filepath.Join(d.dir, "2025/10", dist+".2025-10-16-00.d4.gz"), string(gzipBytes(t, f4)))
	// 5: a 2016-style file: 23 fields and no header.
	writeFile(t, filepath.Join(d.dir, "2025/10", dist+".2025-10-21-00.e5"), lines(part(4), std[:23]))
	// 6: the standard layout with malformed lines among the good ones.
	var f6 strings.Builder
	f6.WriteString(loggen.Header(std))
	key := d.keys[0].Key
	for i, r := range part(5) {
		f6.Write(r.AppendLine(nil, std))
		if i%400 == 0 {
			bad := string(r.AppendLine(nil, std))
			switch (i / 400) % 3 {
			case 0: // a number that is not one, with a raw key in the line
				bad = strings.Replace(bad, "\t"+strconv.FormatInt(r.BytesSent, 10)+"\t", "\t12.5\t", 1)
				bad = strings.Replace(bad, "\t"+r.Query+"\t", "\tcf_api_key="+key+"\t", 1)
			case 1: // cut short
				bad = bad[:len(bad)/2] + "\n"
			case 2: // a bad date
				bad = "2025-13-01" + bad[10:]
			}
			f6.WriteString(bad)
			d.malformed++
		}
	}
	f6gz := gzipBytes(t, f6.String())
	writeFile(t, filepath.Join(d.dir, "2025/10", dist+".2025-10-26-00.f6.gz"), string(f6gz))
	// 7: lines from files 2 and 4 again, and 100 new requests.
	var f7 strings.Builder
	f7.WriteString(loggen.Header(std))
	f7.WriteString(lines(part(1)[:150], std))
	f7.WriteString(lines(part(3)[200:350], std))
	for range 100 {
		var r loggen.Record
		gen.Next(&r)
		d.records[r.RequestID] = r
		f7.Write(r.AppendLine(nil, std))
	}
	writeFile(t, filepath.Join(d.dir, "late", dist+".2025-10-31-23.g7"), f7.String())
	// 8: file 2 cut in the middle of its second gzip member.
	trunc := f2[:len(f2)*3/4]
	writeFile(t, filepath.Join(d.dir, "late", "truncated.gz"), string(trunc))
	d.truncLines = completeLines(trunc)
	return d
}

// completeLines counts the newline-terminated lines that the standard
// library's gzip reader gets out of a truncated stream: an independent
// count of what keymeter can still read.
func completeLines(gz []byte) int {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return 0
	}
	b, _ := io.ReadAll(zr)
	return bytes.Count(b, []byte("\n"))
}

// truth returns the expected usage per customer, per key and without a
// key, from the generated records.
func (d *dataset) truth() (perCustomer, perKey map[string]totals, none totals) {
	perCustomer, perKey = map[string]totals{}, map[string]totals{}
	for _, r := range d.records {
		add := func(m map[string]totals, k string) {
			v := m[k]
			v.Requests++
			v.Sent += r.BytesSent
			v.Recv += r.BytesRecv
			m[k] = v
		}
		if r.Key == nil {
			none.Requests++
			none.Sent += r.BytesSent
			none.Recv += r.BytesRecv
			add(perCustomer, "")
			continue
		}
		add(perCustomer, r.Key.Customer)
		add(perKey, r.Key.Key)
	}
	return
}

func (d *dataset) keysCSV() string {
	var b strings.Builder
	b.WriteString("customer,api_key\n")
	for _, k := range d.keys {
		if k.Customer != "" {
			fmt.Fprintf(&b, "%s,%s\n", k.Customer, k.Key)
		}
	}
	return b.String()
}

// usageJSON runs keymeter usage --format json and decodes it.
func usageJSON(t *testing.T, c *cli, args ...string) []map[string]any {
	t.Helper()
	out := c.ok(append([]string{"usage", "--from", "2025-10-01", "--to", "2025-11-01", "--format", "json"}, args...)...)
	var rows []map[string]any
	dec := json.NewDecoder(strings.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(&rows); err != nil {
		t.Fatalf("usage output is not one JSON array: %v\n%s", err, out)
	}
	return rows
}

func num(t *testing.T, v any) int64 {
	t.Helper()
	n, ok := v.(json.Number)
	if !ok {
		t.Fatalf("%v (%T) is not a JSON number", v, v)
	}
	i, err := n.Int64()
	if err != nil {
		t.Fatalf("%v is not an integer", v)
	}
	return i
}

// TestEndToEnd is the acceptance test of CloudFront ingestion: a generated
// month with every kind of trouble gives per-customer and per-key totals
// that match the independent count exactly, re-ingesting changes nothing,
// the Athena queries run verbatim, and no raw key is stored or shown.
func TestEndToEnd(t *testing.T) {
	d := makeDataset(t)
	c := newCLI(t)
	var outputs strings.Builder // everything keymeter printed

	keysFile := filepath.Join(t.TempDir(), "keys.csv")
	writeFile(t, keysFile, d.keysCSV())
	out := c.ok("keys", "import", keysFile)
	outputs.WriteString(out)
	if !strings.Contains(out, "imported 8 keys: 8 added") {
		t.Errorf("keys import: %q", out)
	}

	r := c.run("ingest", "--json", d.dir)
	outputs.WriteString(r.stdout + r.stderr)
	if r.code != exitPartial {
		t.Fatalf("ingest with a truncated file: exit %d, want %d\n%s\n%s", r.code, exitPartial, r.stdout, r.stderr)
	}
	var sum summaryJSON
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil {
		t.Fatalf("summary: %v\n%s", err, r.stdout)
	}
	if sum.Inputs != 9 || sum.Read != 8 || len(sum.Skipped) != 1 || len(sum.Failed) != 1 {
		t.Errorf("inputs %d, read %d, skipped %v, failed %v; want 9, 8, 1 (the renamed copy), 1", sum.Inputs, sum.Read, sum.Skipped, sum.Failed)
	}
	if len(sum.Skipped) == 1 && !strings.Contains(sum.Skipped[0].Reason, "same content as") {
		t.Errorf("skip reason %q", sum.Skipped[0].Reason)
	}
	if len(sum.Failed) == 1 && (!strings.HasSuffix(sum.Failed[0].URI, "truncated.gz") || !strings.Contains(sum.Failed[0].Reason, "truncated")) {
		t.Errorf("failed %+v", sum.Failed[0])
	}
	if sum.Events != int64(len(d.records)) {
		t.Errorf("events stored %d, want %d unique requests", sum.Events, len(d.records))
	}
	if sum.Lines != sum.Events+sum.Duplicates+sum.Rejected {
		t.Errorf("lines %d != events %d + duplicates %d + rejected %d", sum.Lines, sum.Events, sum.Duplicates, sum.Rejected)
	}
	// Rejected: the malformed lines, plus the truncated file's last,
	// incomplete line. Duplicates: 300 repeated lines and the complete lines
	// of the truncated file (its header lines aside).
	if sum.Rejected != int64(d.malformed)+1 {
		t.Errorf("rejected %d, want %d malformed lines and the cut line", sum.Rejected, d.malformed+1)
	}
	if want := int64(300 + d.truncLines - 2); sum.Duplicates != want {
		t.Errorf("duplicates %d, want %d", sum.Duplicates, want)
	}
	perCustomer, perKey, none := d.truth()
	if sum.Unattributed != none.Requests || sum.ByReason["no_key"] != none.Requests {
		t.Errorf("unattributed %d (%v), want %d", sum.Unattributed, sum.ByReason, none.Requests)
	}

	check := func(stage string) {
		rows := usageJSON(t, c, "--by", "customer")
		outputs.WriteString(fmt.Sprint(rows))
		got := map[string]totals{}
		for _, row := range rows {
			name := ""
			if row["customer"] != nil {
				name = row["customer"].(string)
			}
			got[name] = totals{num(t, row["requests"]), num(t, row["bytes_sent"]), num(t, row["bytes_received"])}
		}
		if fmt.Sprint(got) != fmt.Sprint(perCustomer) {
			t.Errorf("%s: per customer\n got %v\nwant %v", stage, got, perCustomer)
		}
		rows = usageJSON(t, c, "--by", "api_key")
		outputs.WriteString(fmt.Sprint(rows))
		gotKeys := map[string]totals{}
		for _, row := range rows {
			fp := "<null>"
			if row["api_key"] != nil {
				fp = row["api_key"].(string)
			}
			gotKeys[fp] = totals{num(t, row["requests"]), num(t, row["bytes_sent"]), num(t, row["bytes_received"])}
		}
		fpr := keymeter.NewFingerprinter(readSecret(t, c.data))
		wantKeys := map[string]totals{"<null>": none}
		for k, v := range perKey {
			wantKeys[fpr.Fingerprint([]byte(k)).Fingerprint] = v
		}
		if fmt.Sprint(gotKeys) != fmt.Sprint(wantKeys) {
			t.Errorf("%s: per key\n got %v\nwant %v", stage, gotKeys, wantKeys)
		}
	}
	check("first ingest")

	// Ingesting the same directory again changes nothing.
	r = c.run("ingest", "--json", d.dir)
	outputs.WriteString(r.stdout + r.stderr)
	var again summaryJSON
	if err := json.Unmarshal([]byte(r.stdout), &again); err != nil || r.code != 0 {
		t.Fatalf("second ingest: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	if again.Events != 0 || again.Read != 0 || len(again.Skipped) != 9 {
		t.Errorf("second ingest: %+v", again)
	}
	check("second ingest")

	// Ingesting a file under a new name, not byte-identical but with the
	// same lines, stores nothing new either.
	var all strings.Builder
	all.WriteString(loggen.Header(loggen.StandardFields))
	for _, rec := range d.records {
		all.Write(rec.AppendLine(nil, loggen.StandardFields))
	}
	relog := filepath.Join(t.TempDir(), "everything.log")
	writeFile(t, relog, all.String())
	r = c.run("ingest", "--json", relog)
	if err := json.Unmarshal([]byte(r.stdout), &again); err != nil || r.code != 0 {
		t.Fatalf("relog ingest: exit %d, %v\n%s", r.code, err, r.stderr)
	}
	if again.Events != 0 || again.Duplicates != int64(len(d.records)) {
		t.Errorf("relogged lines: %d stored, %d duplicates; want 0 and %d", again.Events, again.Duplicates, len(d.records))
	}
	check("relogged lines")

	checkAthenaQueries(t, c, d, &outputs)
	checkRejects(t, c, d, &outputs)
	checkNoRawKeys(t, c, d, outputs.String())
}

func readSecret(t *testing.T, data string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(data, "secret"))
	if err != nil {
		t.Fatal(err)
	}
	secret, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// The queries from the issue, verbatim.
const (
	athenaQuery1 = `SELECT regexp_extract(cs_uri_query, 'cf_api_key=([^&]+)', 1) as api_key, COUNT(*) as total_requests,
  SUM(sc_bytes) / 1024 / 1024 as total_mb_sent, SUM(cs_bytes) / 1024 / 1024 as total_mb_received, AVG(time_taken) as avg_response_time
FROM cloudfront_logs WHERE year = '2025' AND month = '10' AND cs_uri_query LIKE '%cf_api_key=%'
GROUP BY regexp_extract(cs_uri_query, 'cf_api_key=([^&]+)', 1) ORDER BY total_requests DESC;`
	athenaQuery2 = `SELECT regexp_extract(cs_uri_query, 'cf_api_key=([^&]+)', 1) as api_key, x_edge_result_type as cache_status, COUNT(*) as request_count,
  COUNT(*) * 100.0 / SUM(COUNT(*)) OVER (PARTITION BY regexp_extract(cs_uri_query, 'cf_api_key=([^&]+)', 1)) as percentage
FROM cloudfront_logs WHERE year = '2025' AND month = '10' AND cs_uri_query LIKE '%cf_api_key=%'
GROUP BY regexp_extract(cs_uri_query, 'cf_api_key=([^&]+)', 1), x_edge_result_type;`
)

func checkAthenaQueries(t *testing.T, c *cli, d *dataset, outputs *strings.Builder) {
	fpr := keymeter.NewFingerprinter(readSecret(t, c.data))
	type agg struct {
		n, sent, recv, ms int64
		byResult          map[string]int64
	}
	want := map[string]*agg{}
	for _, r := range d.records {
		if r.Key == nil || !strings.Contains(r.Query, "cf_api_key=") {
			continue
		}
		fp := fpr.Fingerprint([]byte(r.Key.Key)).Fingerprint
		a := want[fp]
		if a == nil {
			a = &agg{byResult: map[string]int64{}}
			want[fp] = a
		}
		a.n++
		a.sent += r.BytesSent
		a.recv += r.BytesRecv
		a.ms += int64(r.TimeTakenMs)
		a.byResult[r.Result]++
	}
	if len(want) == 0 {
		t.Fatal("no request used cf_api_key: the dataset is not testing the queries")
	}

	out := c.ok("sql", "--format", "json", athenaQuery1)
	outputs.WriteString(out)
	var rows []map[string]any
	dec := json.NewDecoder(strings.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(&rows); err != nil {
		t.Fatalf("query 1: %v\n%s", err, out)
	}
	if len(rows) != len(want) {
		t.Errorf("query 1: %d keys, want %d", len(rows), len(want))
	}
	prev := int64(1 << 62)
	for _, row := range rows {
		a := want[row["api_key"].(string)]
		if a == nil {
			t.Errorf("query 1: unexpected api_key %v", row["api_key"])
			continue
		}
		n := num(t, row["total_requests"])
		if n != a.n || num(t, row["total_mb_sent"]) != a.sent/1024/1024 || num(t, row["total_mb_received"]) != a.recv/1024/1024 {
			t.Errorf("query 1 row %v; want %d requests, %d MB sent, %d MB received", row, a.n, a.sent/1024/1024, a.recv/1024/1024)
		}
		avg, _ := row["avg_response_time"].(json.Number).Float64()
		if wantAvg := float64(a.ms) / 1000 / float64(a.n); avg < wantAvg-1e-9 || avg > wantAvg+1e-9 {
			t.Errorf("query 1: avg_response_time %v, want %v", avg, wantAvg)
		}
		if n > prev {
			t.Errorf("query 1 is not ordered by total_requests DESC")
		}
		prev = n
	}

	out = c.ok("sql", "--format", "json", athenaQuery2)
	outputs.WriteString(out)
	dec = json.NewDecoder(strings.NewReader(out))
	dec.UseNumber()
	rows = nil
	if err := dec.Decode(&rows); err != nil {
		t.Fatalf("query 2: %v\n%s", err, out)
	}
	seen := 0
	for _, row := range rows {
		a := want[row["api_key"].(string)]
		status := row["cache_status"].(string)
		if a == nil || a.byResult[status] != num(t, row["request_count"]) {
			t.Errorf("query 2 row %v: want count %d", row, a.byResult[status])
			continue
		}
		pct, err := strconv.ParseFloat(string(row["percentage"].(json.Number)), 64)
		if wantPct := float64(a.byResult[status]) * 100 / float64(a.n); err != nil || pct < wantPct-1e-6 || pct > wantPct+1e-6 {
			t.Errorf("query 2 row %v: percentage, want %v", row, wantPct)
		}
		seen++
	}
	total := 0
	for _, a := range want {
		total += len(a.byResult)
	}
	if seen != total {
		t.Errorf("query 2: %d rows, want %d", seen, total)
	}
}

func checkRejects(t *testing.T, c *cli, d *dataset, outputs *strings.Builder) {
	out := c.ok("rejects", "--limit", "0", "--format", "json")
	outputs.WriteString(out)
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != d.malformed+1 {
		t.Errorf("%d rejects listed, want %d", len(rows), d.malformed+1)
	}
	reasons := map[string]bool{}
	for _, r := range rows {
		if r["file"] == "" || r["line"].(float64) < 3 || r["text"] == "" {
			t.Errorf("reject without a place or text: %v", r)
		}
		reasons[fmt.Sprint(r["field"], ": ", r["reason"])] = true
	}
	for _, want := range []string{"sc-bytes: not a valid number", "date: not a valid date or time", "<nil>: wrong number of fields", "<nil>: record cut short"} {
		found := false
		for r := range reasons {
			found = found || strings.HasPrefix(r, want)
		}
		if !found {
			t.Errorf("no reject %q among %v", want, reasons)
		}
	}
}

// checkNoRawKeys looks for every raw key in everything keymeter printed,
// in every text column of every table, and in the store's files.
func checkNoRawKeys(t *testing.T, c *cli, d *dataset, printed string) {
	db, err := duckdb.Open(context.Background(), filepath.Join(c.data, "keymeter.duckdb"), duckdb.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cols, err := db.QuerySQL(context.Background(), `SELECT table_name, column_name FROM information_schema.columns
		WHERE data_type = 'VARCHAR' AND table_name IN (SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE')`)
	if err != nil {
		t.Fatal(err)
	}
	if len(cols.Rows) < 10 {
		t.Fatalf("only %d text columns found", len(cols.Rows))
	}
	var files []byte
	filepath.Walk(c.data, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && filepath.Base(p) != "secret" {
			b, _ := os.ReadFile(p)
			files = append(files, b...)
		}
		return nil
	})
	for _, k := range d.keys {
		for _, form := range []string{k.Key, loggen.ClientEscape(k.Key)} {
			if strings.Contains(printed, form) {
				t.Errorf("keymeter printed a raw key (%s…)", form[:6])
			}
			if bytes.Contains(files, []byte(form)) {
				t.Errorf("a raw key (%s…) is in the data directory's files", form[:6])
			}
		}
		for _, col := range cols.Rows {
			q := fmt.Sprintf(`SELECT count(*) FROM %q WHERE contains(%q, '%s')`, col[0], col[1], strings.ReplaceAll(k.Key, "'", "''"))
			res, err := db.QuerySQL(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			if n := res.Rows[0][0].(int64); n != 0 {
				t.Errorf("%d rows of %s.%s contain a raw key", n, col[0], col[1])
			}
		}
	}
}
