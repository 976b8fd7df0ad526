package lake_test

import (
	"bytes"
	"context"
	"database/sql"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/format/cloudfront"
	"github.com/keymeter/keymeter/format/cloudfrontrt"
	"github.com/keymeter/keymeter/internal/loggen"
	"github.com/keymeter/keymeter/lake"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var ctx = context.Background()

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run go test -update to accept):\n%s", name, got)
	}
}

// testEvent is a log record to add to a batch, and the row it must
// become: the value of every column of its table, by name.
type testEvent struct {
	source keymeter.Source
	line   []byte // the record as logged (keys already fingerprinted)
	ev     *keymeter.Event
	facts  lake.Facts
	want   map[string]any
}

// fingerprint returns the fingerprint of a test key.
func fingerprint(key string) string {
	fingerprintsMu.Lock()
	defer fingerprintsMu.Unlock()
	fp, ok := fingerprints[key]
	if !ok {
		fp = fingerprinter.Fingerprint([]byte(key)).Fingerprint
		fingerprints[key] = fp
	}
	return fp
}

var (
	fingerprinter  = keymeter.NewFingerprinter([]byte("lake test secret"))
	fingerprintsMu sync.Mutex
	fingerprints   = map[string]string{}
)

// redactQuery replaces the key in a generated query string by its
// fingerprint, as ingest does before events reach the lake, and returns
// the fingerprint ("" without a key).
func redactQuery(t testing.TB, r *loggen.Record) string {
	t.Helper()
	if r.Key == nil {
		return ""
	}
	fp := fingerprint(r.Key.Key)
	for _, form := range []string{loggen.CloudFrontEscape(loggen.ClientEscape(r.Key.Key)), loggen.CloudFrontEscape(r.Key.Key)} {
		r.Query = strings.ReplaceAll(r.Query, form, fp)
	}
	if strings.Contains(r.Query, r.Key.Key) || strings.Contains(r.Query, loggen.ClientEscape(r.Key.Key)) {
		t.Fatalf("key left in query %s", r.Query)
	}
	return fp
}

// facts returns the facts of the n-th generated record.
func factsOf(r *loggen.Record, n int, fp string) lake.Facts {
	f := lake.Facts{
		Object: "s3://logs/E2EXAMPLE." + r.Time.Format("2006-01-02-15") + ".gz",
	}
	if r.Key == nil {
		f.Attribution = keymeter.NoKey
	} else {
		f.Key, f.Customer = fp, r.Key.Customer
	}
	return f
}

var loadedAt = time.Date(2025, 11, 2, 3, 4, 5, 678901000, time.UTC)

// keymeterWant adds the expected values of keymeter's columns.
func keymeterWant(want map[string]any, f *lake.Facts, withKey bool) {
	if withKey {
		want["customer"] = nilIfEmpty(f.Customer)
		want["api_key"] = nilIfEmpty(f.Key)
	}
	want["attribution"] = [...]string{"attributed", "no_key", "key_truncated"}[f.Attribution]
	want["object"] = f.Object
	want["loaded_at"] = loadedAt
}

func partitionWant(want map[string]any, t time.Time) {
	want["year"] = t.UTC().Format("2006")
	want["month"] = t.UTC().Format("01")
	want["day"] = t.UTC().Format("02")
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// standardName returns the standard-log field a cloudfront_logs column
// holds.
func standardName(col string) string {
	switch col {
	case "cs_host":
		return "cs(Host)"
	case "cs_referrer":
		return "cs(Referer)"
	case "cs_user_agent":
		return "cs(User-Agent)"
	case "cs_cookie":
		return "cs(Cookie)"
	}
	return strings.ReplaceAll(col, "_", "-")
}

// standardEvents returns n generated standard-log records, each parsed
// with the layout fields, and what each must become in cloudfront_logs:
// string columns hold the field as logged ("-" when the layout lacks it),
// numeric ones the generator's truth (NULL when the layout lacks it).
// dash lists fields logged as "-" instead.
func standardEvents(t *testing.T, g *loggen.Gen, n, first int, fields []string, dash ...string) []testEvent {
	t.Helper()
	var p cloudfront.Parser
	for _, line := range strings.Split(strings.TrimSuffix(loggen.Header(fields), "\n"), "\n") {
		var ev keymeter.Event
		if _, err := p.Parse([]byte(line), &ev); err != nil {
			t.Fatal(err)
		}
	}
	var out []testEvent
	for i := range n {
		var r loggen.Record
		g.Next(&r)
		fp := redactQuery(t, &r)
		cols := strings.Split(strings.TrimSuffix(string(r.AppendLine(nil, fields)), "\n"), "\t")
		logged := map[string]string{}
		for j, f := range fields {
			if slices.Contains(dash, f) {
				cols[j] = "-"
			}
			logged[f] = cols[j]
		}
		line := []byte(strings.Join(cols, "\t"))
		ev := new(keymeter.Event)
		if ok, err := p.Parse(line, ev); !ok || err != nil {
			t.Fatalf("line does not parse: %v\n%s", err, line)
		}
		te := testEvent{source: keymeter.SourceCloudFront, line: line, ev: ev, facts: factsOf(&r, first+i, fp), want: map[string]any{}}
		num := func(field string, v any) any {
			if s, ok := logged[field]; !ok || s == "-" {
				return nil
			}
			return v
		}
		for _, c := range lake.CloudFrontLogs.Columns {
			if c.Kind == lake.String {
				s, ok := logged[standardName(c.Name)]
				if !ok {
					s = "-"
				}
				te.want[c.Name] = s
			}
		}
		te.want["date"] = r.Time.Truncate(24 * time.Hour)
		te.want["sc_bytes"] = num("sc-bytes", r.BytesSent)
		te.want["sc_status"] = num("sc-status", int32(r.Status))
		te.want["cs_bytes"] = num("cs-bytes", r.BytesRecv)
		te.want["time_taken"] = num("time-taken", float64(r.TimeTakenMs)/1000)
		te.want["fle_encrypted_fields"] = nil // logged as "-"
		te.want["c_port"] = num("c-port", int32(r.Port))
		te.want["time_to_first_byte"] = num("time-to-first-byte", float64(r.TTFBMs)/1000)
		te.want["sc_content_len"] = num("sc-content-len", r.ContentLen)
		te.want["sc_range_start"], te.want["sc_range_end"] = nil, nil
		keymeterWant(te.want, &te.facts, true)
		partitionWant(te.want, r.Time)
		out = append(out, te)
	}
	return out
}

// realtimeEvents returns n generated real-time records with every
// documented field, and what each must become in
// cloudfront_real_time_logs.
func realtimeEvents(t *testing.T, g *loggen.Gen, n, first int) []testEvent {
	t.Helper()
	p, err := cloudfrontrt.NewParser(loggen.RealtimeFields)
	if err != nil {
		t.Fatal(err)
	}
	var out []testEvent
	for i := range n {
		var r loggen.Record
		g.NextRealtime(&r)
		fp := redactQuery(t, &r)
		line := bytes.TrimSuffix(r.AppendRealtime(nil, loggen.RealtimeFields), []byte("\n"))
		ev := new(keymeter.Event)
		if ok, err := p.Parse(line, ev); !ok || err != nil {
			t.Fatalf("record does not parse: %v\n%s", err, line)
		}
		te := testEvent{source: keymeter.SourceCloudFrontRealtime, line: line, ev: ev, facts: factsOf(&r, first+i, fp), want: map[string]any{}}
		for _, c := range lake.CloudFrontRealTimeLogs.Columns {
			name := strings.ReplaceAll(c.Name, "_", "-")
			if c.Kind == lake.String && !c.Nullable {
				te.want[c.Name] = "-"
				if slices.Contains(loggen.RealtimeFields, name) {
					te.want[c.Name] = strings.TrimSuffix(string(r.AppendRealtime(nil, []string{name})), "\n")
				}
			}
		}
		te.want["time_to_first_byte"] = float64(r.TTFBMs) / 1000
		te.want["sc_status"] = int64(r.Status)
		te.want["sc_bytes"] = r.BytesSent
		te.want["cs_bytes"] = r.BytesRecv
		te.want["time_taken"] = float64(r.TimeTakenMs) / 1000
		te.want["fle_encrypted_fields"] = nil
		te.want["sc_content_len"] = r.ContentLen
		te.want["sc_range_start"], te.want["sc_range_end"] = nil, nil
		te.want["c_port"] = int64(r.Port)
		te.want["cs_headers_count"] = int64(len(r.Headers))
		keymeterWant(te.want, &te.facts, true)
		partitionWant(te.want, r.Time)
		out = append(out, te)
	}
	return out
}

// addGenerated adds n generated standard-log events to b, cheaply: one
// reused event, and no expectations.
func addGenerated(t testing.TB, b *lake.Batch, g *loggen.Gen, n int) {
	t.Helper()
	var p cloudfront.Parser
	var ev keymeter.Event
	for _, line := range strings.Split(strings.TrimSuffix(loggen.Header(loggen.StandardFields), "\n"), "\n") {
		if _, err := p.Parse([]byte(line), &ev); err != nil {
			t.Fatal(err)
		}
	}
	var r loggen.Record
	var line []byte
	for i := range n {
		g.Next(&r)
		fp := redactQuery(t, &r)
		line = r.AppendLine(line[:0], loggen.StandardFields)
		if ok, err := p.Parse(line[:len(line)-1], &ev); !ok || err != nil {
			t.Fatalf("line does not parse: %v\n%s", err, line)
		}
		f := factsOf(&r, i, fp)
		if err := b.Add(&ev, &f); err != nil {
			t.Fatal(err)
		}
	}
}

// writeBatch writes events as one batch.
func writeBatch(t *testing.T, w *lake.Writer, key string, events []testEvent) []lake.Entry {
	t.Helper()
	b, err := w.Begin(ctx, key, loadedAt)
	if err != nil {
		t.Fatal(err)
	}
	for i := range events {
		if err := b.Add(events[i].ev, &events[i].facts); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := b.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

func openDuckDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	// The session's time zone must not matter.
	if _, err := db.Exec("SET TimeZone = 'America/Los_Angeles'"); err != nil {
		t.Fatal(err)
	}
	return db
}

// result is a query's columns, their types and its rows.
type result struct {
	cols  []string
	types []string
	rows  [][]any
}

func query(t *testing.T, db *sql.DB, q string, args ...any) result {
	t.Helper()
	rows, err := db.Query(q, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	defer rows.Close()
	var res result
	if res.cols, err = rows.Columns(); err != nil {
		t.Fatal(err)
	}
	cts, err := rows.ColumnTypes()
	if err != nil {
		t.Fatal(err)
	}
	for _, ct := range cts {
		res.types = append(res.types, ct.DatabaseTypeName())
	}
	for rows.Next() {
		vals := make([]any, len(res.cols))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		res.rows = append(res.rows, vals)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return res
}

// sameValue compares a value DuckDB returned with an expected one.
func sameValue(got, want any) bool {
	if wt, ok := want.(time.Time); ok {
		gt, ok := got.(time.Time)
		return ok && gt.Equal(wt)
	}
	return reflect.DeepEqual(got, want)
}

// ddlColumns parses the column types of each table out of DDL text.
func ddlColumns(t *testing.T, ddl string) map[string][][2]string {
	t.Helper()
	tables := map[string][][2]string{}
	var cur string
	create := regexp.MustCompile("^CREATE EXTERNAL TABLE (\\w+) \\($")
	column := regexp.MustCompile("^  `(\\w+)` (\\w+),?$")
	for _, line := range strings.Split(ddl, "\n") {
		if m := create.FindStringSubmatch(line); m != nil {
			cur = m[1]
		} else if m := column.FindStringSubmatch(line); m != nil && cur != "" {
			tables[cur] = append(tables[cur], [2]string{m[1], m[2]})
		} else if line == ")" {
			cur = ""
		}
	}
	return tables
}
