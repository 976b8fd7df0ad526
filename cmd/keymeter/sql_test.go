package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/keymeter/keymeter/internal/loggen"
	"github.com/keymeter/keymeter/store/duckdb"
)

// logFile writes n generated requests as a CloudFront log and returns
// its path.
func logFile(t testing.TB, seed uint64, n int) string {
	t.Helper()
	g := loggen.New(loggen.Config{Seed: seed, KeySeed: 9, Start: time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC), Span: 24 * time.Hour, Customers: 2, KeysPerCustomer: 2, Paths: 8})
	var b []byte
	b = append(b, loggen.Header(loggen.StandardFields)...)
	var r loggen.Record
	for range n {
		g.Next(&r)
		b = r.AppendLine(b, loggen.StandardFields)
	}
	path := filepath.Join(t.TempDir(), fmt.Sprintf("E2EXAMPLE.2025-10-01-00.%d.log", seed))
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// sqlStore makes a store of n generated requests in c's data directory.
func sqlStore(t testing.TB, c *cli, n int) {
	t.Helper()
	var out, errb strings.Builder
	m := &Main{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return c.env[k] }}
	if code := m.report(m.Run(context.Background(), []string{"ingest", "--quiet", "--data", c.data, logFile(t, 9, n)})); code != 0 {
		t.Fatalf("ingest: exit %d\n%s%s", code, out.String(), errb.String())
	}
}

// snapshot is every file under a directory with a hash of its content.
func snapshot(t *testing.T, dirs ...string) map[string]string {
	t.Helper()
	files := map[string]string{}
	for _, dir := range dirs {
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				t.Fatal(err)
			}
			if d.IsDir() {
				files[p] = "dir"
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			files[p] = fmt.Sprintf("%x", sha256.Sum256(b))
			return nil
		})
	}
	return files
}

// restoreDir makes dst hold what src holds, and nothing else.
func restoreDir(t *testing.T, dst, src string) {
	t.Helper()
	if err := os.RemoveAll(dst); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
}

// TestSQLReadOnly tries every way out of keymeter sql that we know of:
// each must be refused with a clear error (exit 2), and leave the store,
// the secret and every other file as they were, and print nothing of the
// secret.
func TestSQLReadOnly(t *testing.T) {
	c := newCLI(t)
	sqlStore(t, c, 50)
	D := c.data
	O := t.TempDir() // a directory of someone else's
	writeFile(t, filepath.Join(O, "outside.csv"), "a,b\n1,2\n")
	secret, err := os.ReadFile(filepath.Join(D, "secret"))
	if err != nil {
		t.Fatal(err)
	}
	q := func(s string) string { return strings.ReplaceAll(s, "'", "''") }
	const (
		refused  = "not allowed"   // the statement check
		onlyRead = "reads only"    // the engine's sandbox
		oneStmt  = "one at a time" // several statements
	)
	tests := []struct{ query, want string }{
		// Writing files: over the store, the secret, or anywhere.
		{`COPY (SELECT 1) TO '` + D + `/keymeter.duckdb'`, refused},
		{`COPY (SELECT 'x') TO '` + D + `/secret' (FORMAT csv, HEADER false)`, refused},
		{`COPY events TO '` + O + `/events.csv'`, refused},
		{`COPY (SELECT 1) TO '` + D + `/keymeter.duckdb.tmp/x.csv'`, refused},
		{`EXPORT DATABASE '` + O + `/export'`, refused},
		{`EXPLAIN ANALYZE COPY (SELECT 1) TO '` + O + `/explain.csv'`, refused},
		{`PRAGMA profiling_output = '` + O + `/profile.json'`, refused},
		{`SELECT * FROM enable_logging(storage = 'file', storage_path = '` + O + `/logs')`, refused},
		// Reading files that are not the store's.
		{`COPY meta FROM '` + O + `/outside.csv'`, refused},
		{`IMPORT DATABASE '` + O + `'`, refused},
		{`SELECT * FROM read_text('` + D + `/secret')`, onlyRead},
		{`SELECT content FROM read_blob('` + D + `/secret')`, onlyRead},
		{`SELECT * FROM read_csv('` + O + `/outside.csv')`, onlyRead},
		{`SELECT * FROM '` + O + `/outside.csv'`, onlyRead},
		{`SELECT * FROM read_parquet('` + O + `/*.parquet')`, onlyRead},
		{`SELECT * FROM read_json('` + D + `/secret')`, onlyRead},
		{`SELECT * FROM glob('` + D + `/*')`, onlyRead},
		{`SELECT * FROM sniff_csv('` + D + `/secret')`, onlyRead},
		{`SELECT * FROM read_text('` + D + `/../` + filepath.Base(D) + `/secret')`, onlyRead},
		// ... hidden in a CTE, a subquery, a join, a string run as SQL.
		{`WITH s AS (SELECT content FROM read_text('` + D + `/secret')) SELECT * FROM s`, onlyRead},
		{`SELECT (SELECT content FROM read_text('` + D + `/secret')) AS s`, onlyRead},
		{`SELECT count(*) FROM events WHERE path IN (SELECT content FROM read_text('` + D + `/secret'))`, onlyRead},
		{`SELECT * FROM events JOIN read_text('` + D + `/secret') ON true`, onlyRead},
		{`SELECT * FROM query('SELECT content FROM read_text(''` + q(D) + `/secret'')')`, refused},
		{`SELECT * FROM query('COPY events TO ''` + q(O) + `/q.csv''')`, refused},
		// Other databases, extensions, settings.
		{`ATTACH '` + O + `/other.duckdb' AS other`, refused},
		{`ATTACH ':memory:' AS scratch`, refused},
		{`DETACH keymeter`, refused},
		{`INSTALL httpfs`, refused},
		{`LOAD httpfs`, refused},
		{`LOAD '` + O + `/evil.duckdb_extension'`, refused},
		{`SET enable_external_access = true`, refused},
		{`SET memory_limit = '1TB'`, refused},
		{`RESET integer_division`, refused},
		{`SET VARIABLE x = 1`, refused},
		{`PRAGMA enable_profiling`, refused},
		{`PRAGMA show_tables`, refused},
		{`CALL pragma_version()`, refused},
		{`CHECKPOINT`, refused},
		{`SELECT * FROM force_checkpoint()`, refused},
		{`SELECT * FROM disable_logging()`, refused},
		{`BEGIN TRANSACTION`, refused},
		{`VACUUM`, refused},
		{`PREPARE p AS SELECT 1`, refused},
		// Changing the store.
		{`CREATE TABLE t (x INTEGER)`, refused},
		{`CREATE TEMP TABLE t AS SELECT 1 AS x`, refused},
		{`CREATE OR REPLACE TEMP VIEW events AS SELECT 1 AS x`, refused},
		{`CREATE MACRO m() AS 1`, refused},
		{`INSERT INTO meta VALUES ('k', 'v')`, refused},
		{`UPDATE meta SET value = 'x'`, refused},
		{`DELETE FROM event_rows`, refused},
		{`DROP VIEW events`, refused},
		{`ALTER TABLE meta RENAME TO m`, refused},
		{`WITH x AS (SELECT 1) INSERT INTO meta SELECT 'k', 'v'`, refused},
		// Several statements smuggling one of these.
		{`SELECT 1; COPY (SELECT 'x') TO '` + D + `/secret'`, oneStmt},
		{`SELECT 1; ATTACH '` + O + `/other.duckdb'`, oneStmt},
		{"SELECT 1;\nSELECT * FROM read_text('" + D + "/secret')", oneStmt},
	}
	pristine := t.TempDir()
	restoreDir(t, pristine, D)
	before := snapshot(t, D, O)
	for _, tt := range tests {
		r := c.run("sql", tt.query)
		if r.code != exitUsage || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("keymeter sql %q: exit %d, stderr %q; want exit %d and %q", tt.query, r.code, r.stderr, exitUsage, tt.want)
		}
		if strings.Contains(r.stdout+r.stderr, strings.TrimSpace(string(secret))) {
			t.Errorf("keymeter sql %q printed the secret", tt.query)
		}
		after := snapshot(t, D, O)
		changed := false
		for p, h := range after {
			if before[p] != h {
				t.Errorf("keymeter sql %q: %s was created or changed", tt.query, p)
				changed = true
			}
		}
		for p := range before {
			if _, ok := after[p]; !ok {
				t.Errorf("keymeter sql %q: %s was removed", tt.query, p)
				changed = true
			}
		}
		if changed { // put things back, so that the next attempt starts clean
			restoreDir(t, D, pristine)
			os.RemoveAll(O)
			writeFile(t, filepath.Join(O, "outside.csv"), "a,b\n1,2\n")
			before = snapshot(t, D, O)
		}
	}
	// The store still answers.
	if out := c.ok("sql", "--format", "csv", "SELECT count(*) AS n FROM events"); out != "n\n50\n" {
		t.Errorf("after the attempts: %q", out)
	}
}

// TestSQLReads checks that the read queries people run still run: the
// Athena forms, DESCRIBE, SHOW, FROM-first, VALUES, JSON, a trailing
// semicolon.
func TestSQLReads(t *testing.T) {
	c := newCLI(t)
	sqlStore(t, c, 20)
	tests := []struct{ query, want string }{
		{`SELECT 7 / 2 AS q`, "q\n3\n"},
		{`SELECT count(*) AS n FROM cloudfront_logs WHERE year = '2025' AND month = '10';`, "n\n20\n"},
		{`SELECT approx_percentile(x, 0.5) AS p, approx_distinct(x) AS d, regexp_like('abc', 'b') AS r FROM range(3) t(x)`, "p,d,r\n1,3,true\n"},
		{`SELECT url_extract_parameter('https://x/?a=1&b=2', 'b') AS b, from_unixtime(0) AS t`, "b,t\n2,1970-01-01T00:00:00Z\n"},
		{`FROM (VALUES (1, 'a'), (2, 'b')) v(n, s) ORDER BY n DESC`, "n,s\n2,b\n1,a\n"},
		{`WITH x AS (SELECT 42 AS n) SELECT * FROM x`, "n\n42\n"},
		{`SELECT column_name FROM (DESCRIBE events) WHERE column_name = 'api_key'`, "column_name\napi_key\n"},
		{`SELECT count(*) > 3 AS many FROM (SHOW TABLES)`, "many\ntrue\n"},
		{`SELECT '{"total": 1250}'::JSON->>'$.total' AS total`, "total\n1250\n"},
		{`SELECT count(*) > 10 AS many FROM pragma_table_info('events')`, "many\ntrue\n"},
		{`SELECT [1, 2] AS l, {'a': 'x', 'b': NULL} AS s, MAP {'k': 2.5} AS m`, "l,s,m\n\"[1,2]\",\"{\"\"a\"\":\"\"x\"\",\"\"b\"\":null}\",\"{\"\"k\"\":2.5}\"\n"},
	}
	for _, tt := range tests {
		if out := c.ok("sql", "--format", "csv", tt.query); out != tt.want {
			t.Errorf("keymeter sql %q:\n%s\nwant\n%s", tt.query, out, tt.want)
		}
	}
}

// heapWatch is a writer that discards what it is given and, every
// megabyte, records the live heap (after a collection).
type heapWatch struct {
	n, next int64
	peak    uint64
}

func (w *heapWatch) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	if w.n >= w.next {
		w.next = w.n + 1<<20
		w.sample()
	}
	return len(p), nil
}

func (w *heapWatch) sample() {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	w.peak = max(w.peak, ms.HeapAlloc)
}

// wideQuery returns rows of a dozen columns, about 300 bytes of CSV each.
func wideQuery(rows int) string {
	return fmt.Sprintf(`SELECT range AS n, 'request-' || range AS id, range * 7 AS bytes, range / 3.0 AS ratio,
  TIMESTAMP '2025-10-01' + to_seconds(range) AS t, range %% 2 = 0 AS even, NULL AS nothing,
  repeat('x', 40) AS filler, md5(range::VARCHAR) AS hash, 'GET' AS method, '/v1/items/' || range AS path,
  CAST(range AS DECIMAL(18, 3)) AS amount
FROM range(%d)`, rows)
}

// TestSQLMemoryBounded runs a query of 300,000 rows in every format and
// checks that the live heap stays bounded while the rows are printed: they
// stream from DuckDB to the output, instead of being held.
func TestSQLMemoryBounded(t *testing.T) {
	c := newCLI(t)
	sqlStore(t, c, 10)
	const rows = 300_000
	for _, format := range []string{formatCSV, formatJSON, formatTable} {
		w := &heapWatch{}
		w.sample()
		base := w.peak
		var errb strings.Builder
		m := &Main{Stdout: w, Stderr: &errb, Getenv: func(k string) string { return c.env[k] }}
		if code := m.report(m.Run(context.Background(), []string{"sql", "--data", c.data, "--format", format, wideQuery(rows)})); code != 0 {
			t.Fatalf("%s: exit %d: %s", format, code, errb.String())
		}
		if w.n < rows*100 {
			t.Fatalf("%s: only %d bytes printed", format, w.n)
		}
		grew := int64(w.peak) - int64(base)
		t.Logf("%s: %d MB printed, live heap grew by at most %.1f MB", format, w.n>>20, float64(grew)/(1<<20))
		if grew > 24<<20 {
			t.Errorf("%s: the live heap grew by %.1f MB while printing %d rows; want it bounded (a few MB)", format, float64(grew)/(1<<20), rows)
		}
	}
}

// BenchmarkSQL prints 265,000 rows of cloudfront_logs (as in the report
// that found 12 s and 720 MB) in each format: rows per second, bytes
// allocated per row, and the peak live heap.
func BenchmarkSQL(b *testing.B) {
	const rows = 265_000
	c := &cli{data: b.TempDir(), env: map[string]string{"HOME": b.TempDir()}}
	sqlStore(b, c, rows)
	for _, format := range []string{formatCSV, formatJSON, formatTable} {
		b.Run(format, func(b *testing.B) {
			run := func(w io.Writer) {
				var errb strings.Builder
				m := &Main{Stdout: w, Stderr: &errb, Getenv: func(k string) string { return c.env[k] }}
				if code := m.report(m.Run(context.Background(), []string{"sql", "--data", c.data, "--format", format, "SELECT * FROM cloudfront_logs"})); code != 0 {
					b.Fatalf("exit %d: %s", code, errb.String())
				}
			}
			peak := &heapWatch{}
			peak.sample()
			base := peak.peak
			run(peak) // once, sampling the live heap every megabyte printed
			b.ReportAllocs()
			var total int64
			var ms0, ms1 runtime.MemStats
			runtime.ReadMemStats(&ms0)
			b.ResetTimer()
			start := time.Now()
			for b.Loop() {
				run(io.Discard)
				total += rows
			}
			elapsed := time.Since(start)
			runtime.ReadMemStats(&ms1)
			b.ReportMetric(float64(total)/elapsed.Seconds(), "rows/s")
			b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/float64(total), "B/row")
			b.ReportMetric(float64(int64(peak.peak)-int64(base))/(1<<20), "peak-heap-MB")
		})
	}
}

// TestSQLStreamsCSV reads the first rows of a large result, then cancels
// the command: it stops where it is (the rows stream, so the query is
// still running) and exits 1.
func TestSQLStreamsCSV(t *testing.T) {
	c := newCLI(t)
	sqlStore(t, c, 10)
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		var errb strings.Builder
		m := &Main{Stdout: pw, Stderr: &errb, Getenv: func(k string) string { return c.env[k] }}
		done <- m.report(m.Run(ctx, []string{"sql", "--data", c.data, "--format", "csv", "SELECT range AS n FROM range(1000000)"}))
		pw.Close()
	}()
	r := csv.NewReader(bufio.NewReader(pr))
	for i := -1; i < 10000; i++ {
		rec, err := r.Read()
		if err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		if i >= 0 && rec[0] != fmt.Sprint(i) {
			t.Fatalf("row %d: %q", i, rec)
		}
	}
	cancel()
	go io.Copy(io.Discard, pr)
	select {
	case code := <-done:
		if code != exitError {
			t.Errorf("interrupted query: exit %d", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the query did not stop when cancelled")
	}
}

// TestSQLJSONStreams checks the JSON format row by row against the JSON
// the result had before it streamed.
func TestSQLJSON(t *testing.T) {
	c := newCLI(t)
	sqlStore(t, c, 10)
	out := c.ok("sql", "--format", "json", `SELECT 1 AS n, '<a&b>' AS s, NULL AS z, 2.5::DOUBLE AS f, 1e300::DOUBLE AS big, 12.50::DECIMAL(6,2) AS d, TIMESTAMP '2025-10-01 12:00:00' AS t, 18446744073709551615::UBIGINT AS u, 170141183460469231731687303715884105727::HUGEINT AS h, true AS b, '\x01'::BLOB AS blob`)
	want := `[
  {"n": 1, "s": "\u003ca\u0026b\u003e", "z": null, "f": 2.5, "big": 1e+300, "d": "12.50", "t": "2025-10-01T12:00:00Z", "u": 18446744073709551615, "h": 170141183460469231731687303715884105727, "b": true, "blob": "01"}
]
`
	if out != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	if out := c.ok("sql", "--format", "json", `SELECT 1 AS n WHERE false`); out != "[]\n" {
		t.Errorf("no rows: %q", out)
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(c.ok("sql", "--format", "json", wideQuery(3000))), &rows); err != nil || len(rows) != 3000 {
		t.Errorf("3000 rows: %d, %v", len(rows), err)
	}
}

// TestSQLTable checks that the table format sizes its columns from the
// first rows and then streams: wider values later on still get two
// spaces before the next column.
func TestSQLTable(t *testing.T) {
	c := newCLI(t)
	sqlStore(t, c, 10)
	out := c.ok("sql", `SELECT 'a' AS x, 1 AS y UNION ALL SELECT NULL, 22 UNION ALL SELECT 'tab'||chr(9)||'x', 3`)
	want := "x       y\na       1\n(null)  22\ntab\\tx  3\n"
	if out != want {
		t.Errorf("got\n%q\nwant\n%q", out, want)
	}
	const n = 5000 // more rows than the table format sizes its columns from
	out = c.ok("sql", fmt.Sprintf(`SELECT CASE WHEN range < %d THEN 'a' ELSE 'wider value' END AS x, range AS y FROM range(%d)`, n-2, n))
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != n+1 || lines[1] != "a  0" || lines[n] != fmt.Sprintf("wider value  %d", n-1) {
		t.Errorf("%d lines: %q ... %q", len(lines), lines[1], lines[len(lines)-1])
	}
}

// TestHelperHoldStore is not a test: TestStoreBusy runs the test binary
// as a second process that holds the store open (read-only or for
// writing) until its standard input closes.
func TestHelperHoldStore(t *testing.T) {
	path, mode := os.Getenv("KEYMETER_TEST_HOLD"), os.Getenv("KEYMETER_TEST_HOLD_MODE")
	if path == "" {
		t.Skip("a helper for TestStoreBusy")
	}
	db, err := duckdb.Open(context.Background(), path, duckdb.Options{ReadOnly: mode == "read"})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("holding")
	io.Copy(io.Discard, os.Stdin)
	db.Close()
	os.Exit(0)
}

// holdStore starts a second process that holds the store open in mode
// (read or write) and returns its process ID and a function that lets it
// go.
func holdStore(t *testing.T, c *cli, mode string) (int, func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHoldStore$")
	cmd.Env = append(os.Environ(), "KEYMETER_TEST_HOLD="+filepath.Join(c.data, "keymeter.duckdb"), "KEYMETER_TEST_HOLD_MODE="+mode)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if line != "holding\n" {
		stdin.Close()
		cmd.Wait()
		t.Fatalf("the helper process did not open the store: %q %v", line, err)
	}
	release := func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("helper: %v", err)
		}
	}
	return cmd.Process.Pid, release
}

// TestStoreBusy checks both directions of DuckDB's file lock with a real
// second process: a reader (a running keymeter sql, usage, ...) makes
// ingest fail with exit 4, and a writer makes keymeter sql fail the same
// way; each message says which, and names the process.
func TestStoreBusy(t *testing.T) {
	c := newCLI(t)
	sqlStore(t, c, 10)
	logs := logFile(t, 10, 5)

	pid, release := holdStore(t, c, "read")
	r := c.run("ingest", logs)
	release()
	if r.code != exitConflict || !strings.Contains(r.stderr, "keymeter sql") || !strings.Contains(r.stderr, fmt.Sprintf("PID %d", pid)) {
		t.Errorf("ingest while another process reads: exit %d, %q; want exit %d, a word on keymeter sql and PID %d", r.code, r.stderr, exitConflict, pid)
	}

	pid, release = holdStore(t, c, "write")
	r = c.run("sql", "SELECT 1")
	release()
	if r.code != exitConflict || !strings.Contains(r.stderr, "being written") || !strings.Contains(r.stderr, fmt.Sprintf("PID %d", pid)) {
		t.Errorf("sql while another process writes: exit %d, %q; want exit %d, \"being written\" and PID %d", r.code, r.stderr, exitConflict, pid)
	}

	// Once the other process is gone, both work.
	c.ok("ingest", logs)
	c.ok("sql", "SELECT 1")
}

// TestSQLUpgradesStore runs keymeter sql first on a store made by the
// previous release: it upgrades it, then opens it sandboxed.
func TestSQLUpgradesStore(t *testing.T) {
	src := filepath.Join("..", "..", "testdata", "upgrade", "v1")
	c := newCLI(t)
	gz, err := os.ReadFile(filepath.Join(src, "keymeter.duckdb.gz"))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	db, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(c.data, "keymeter.duckdb"), string(db))
	if out := c.ok("sql", "--format", "csv", "SELECT count(*) > 0 AS some FROM events"); out != "some\ntrue\n" {
		t.Errorf("got %q", out)
	}
	if r := c.run("sql", "COPY events TO '"+filepath.Join(c.data, "x.csv")+"'"); r.code != exitUsage {
		t.Errorf("COPY after the upgrade: exit %d %s", r.code, r.stderr)
	}
}
