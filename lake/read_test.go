package lake_test

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/internal/loggen"
	"github.com/keymeter/keymeter/lake"
)

// duckdbTypeOf maps the Athena types of the DDL to the DuckDB types the
// lake must read as.
var duckdbTypeOf = map[string]string{
	"string": "VARCHAR", "int": "INTEGER", "bigint": "BIGINT", "double": "DOUBLE",
	"date": "DATE", "timestamp": "TIMESTAMP",
}

// idColumn is the column of each table that holds the request's ID.
var idColumn = map[string]string{
	"cloudfront_logs": "x_edge_request_id", "cloudfront_real_time_logs": "x_edge_request_id", "apigateway_logs": "request_id",
}

// checkTable reads table tb back from entries through DuckDB with
// lake.ReadSQL and checks that its columns are those of the DDL, with
// the types it declares, then year, month and day, and that every row
// holds exactly the values of its event.
func checkTable(t *testing.T, root *lake.Local, tb *lake.Table, entries []lake.Entry, events []testEvent) {
	t.Helper()
	ddl, err := lake.DDL("s3://bucket/lake")
	if err != nil {
		t.Fatal(err)
	}
	declared := ddlColumns(t, ddl)[tb.Name]
	if len(declared) == 0 {
		t.Fatalf("the DDL declares no table %s", tb.Name)
	}
	files, err := lake.EntryFiles(tb, root, entries)
	if err != nil {
		t.Fatal(err)
	}
	db := openDuckDB(t)
	// Rows in the order of their request IDs, which are unique.
	id := idColumn[tb.Name]
	events = slices.Clone(events)
	slices.SortStableFunc(events, func(a, b testEvent) int { return strings.Compare(a.want[id].(string), b.want[id].(string)) })
	res := query(t, db, "SELECT * FROM ("+lake.ReadSQL(tb, files)+") ORDER BY "+id)
	var wantCols, wantTypes []string
	for _, c := range declared {
		wantCols = append(wantCols, c[0])
		wantTypes = append(wantTypes, duckdbTypeOf[c[1]])
	}
	wantCols = append(wantCols, "year", "month", "day")
	wantTypes = append(wantTypes, "VARCHAR", "VARCHAR", "VARCHAR")
	if fmt.Sprint(res.cols) != fmt.Sprint(wantCols) {
		t.Fatalf("columns\n%v\nwant the DDL's\n%v", res.cols, wantCols)
	}
	if fmt.Sprint(res.types) != fmt.Sprint(wantTypes) {
		t.Fatalf("types\n%v\nwant the DDL's\n%v", res.types, wantTypes)
	}
	if len(res.rows) != len(events) {
		t.Fatalf("read %d rows, wrote %d", len(res.rows), len(events))
	}
	bad := 0
	for i, row := range res.rows {
		want := events[i].want
		if len(want) != len(res.cols) {
			t.Fatalf("test bug: %d expected values for %d columns", len(want), len(res.cols))
		}
		for j, col := range res.cols {
			w, ok := want[col]
			if !ok {
				t.Fatalf("test bug: no expected value for column %s", col)
			}
			if !sameValue(row[j], w) {
				bad++
				if bad <= 10 {
					t.Errorf("row %d (%.60s...), column %s = %#v, want %#v", i, events[i].line, col, row[j], w)
				}
			}
		}
	}
}

func TestCloudFrontLogs(t *testing.T) {
	root, err := lake.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	w, err := lake.NewWriter(root, lake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	g := loggen.New(loggen.Config{
		Seed: 7, Start: time.Date(2025, 9, 30, 12, 0, 0, 0, time.UTC), Span: 48 * time.Hour,
		Customers: 3, KeysPerCustomer: 2, UnknownKeys: 2, NoKeyPercent: 15,
	})
	events := standardEvents(t, g, 3000, 0, loggen.StandardFields)
	// A log of the 26-field layout before December 2019, and lines with
	// "-" for numbers.
	events = append(events, standardEvents(t, g, 50, len(events), loggen.StandardFields[:26])...)
	events = append(events, standardEvents(t, g, 50, len(events), loggen.StandardFields, "sc-bytes", "time-taken", "sc-status", "cs-bytes", "c-port", "time-to-first-byte", "sc-content-len")...)
	entries := writeBatch(t, w, "load-1", events)

	days := map[string]bool{}
	for _, e := range entries {
		days[e.Date.Format(time.DateOnly)] = true
	}
	if len(entries) != 3 || len(days) != 3 {
		t.Fatalf("%d files for %d days, want one per day: %+v", len(entries), len(days), entries)
	}
	checkTable(t, root, lake.CloudFrontLogs, entries, events)

	// No raw key is in any column, in any form the client sent it.
	files, _ := lake.EntryFiles(lake.CloudFrontLogs, root, entries)
	res := query(t, openDuckDB(t), lake.ReadSQL(lake.CloudFrontLogs, files))
	for _, row := range res.rows {
		for _, v := range row {
			s, _ := v.(string)
			for _, k := range g.Keys() {
				if s != "" && (strings.Contains(s, k.Key) || strings.Contains(s, loggen.ClientEscape(k.Key))) {
					t.Fatalf("a raw key in the lake: %s", s)
				}
			}
		}
	}
}

func TestRealTimeLogs(t *testing.T) {
	root, err := lake.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	w, err := lake.NewWriter(root, lake.Options{Compression: "snappy"})
	if err != nil {
		t.Fatal(err)
	}
	g := loggen.New(loggen.Config{
		Seed: 8, Start: time.Date(2025, 10, 31, 20, 0, 0, 0, time.UTC), Span: 8 * time.Hour,
		Customers: 2, KeysPerCustomer: 2, NoKeyPercent: 20, BigHeadersPercent: 10,
	})
	events := realtimeEvents(t, g, 2000, 0)
	entries := writeBatch(t, w, "load-2", events)
	if len(entries) != 2 {
		t.Fatalf("%d files, want 2 (October 31 and November 1): %+v", len(entries), entries)
	}
	checkTable(t, root, lake.CloudFrontRealTimeLogs, entries, events)
}

// apiEvent returns an API Gateway event as the format and ingest fill it.
func apiEvent(at time.Time, fields map[keymeter.Field]string, status, length, latency int64) *keymeter.Event {
	ev := new(keymeter.Event)
	ev.Reset()
	ev.Source = keymeter.SourceAPIGateway
	ev.Time = at.UnixMicro()
	for f, v := range fields {
		ev.Fields[f] = []byte(v)
	}
	ev.Status, ev.BytesSent, ev.TimeTaken = int32(status), length, int32(latency)
	return ev
}

func TestAPIGatewayLogs(t *testing.T) {
	root, err := lake.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	w, err := lake.NewWriter(root, lake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 10, 5, 6, 7, 8, 123000000, time.UTC)
	full := map[keymeter.Field]string{
		keymeter.FieldRequestID: "Yk3xJHxyIAMEbUg=", keymeter.FieldAPIRequestID: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
		keymeter.FieldClientIP: "192.0.2.10", keymeter.FieldMethod: "GET", keymeter.FieldURIStem: "/prod/pets/7",
		keymeter.FieldResourcePath: "/pets/{petId}", keymeter.FieldStage: "prod", keymeter.FieldAPIID: "a1b2c3d4e5",
		keymeter.FieldViewerHost: "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com", keymeter.FieldProtocol: "HTTP/1.1",
		keymeter.FieldUserAgent: "curl/8.4.0",
	}
	httpAPI := map[keymeter.Field]string{
		keymeter.FieldRequestID: "JdRdXhZzIAMEcRQ=", keymeter.FieldRouteKey: "POST /orders", keymeter.FieldMethod: "POST",
		keymeter.FieldURIStem: "/orders", keymeter.FieldStage: "$default", keymeter.FieldAPIRequestID: "-",
		keymeter.FieldClientIP: "-", keymeter.FieldUserAgent: "-",
	}
	bare := map[keymeter.Field]string{keymeter.FieldRequestID: "req-3"}
	keyID := keymeter.OriginIdentity(keymeter.IdentityAPIKeyID, []byte("k8x2mq9z1a")).Fingerprint
	identity := keymeter.OriginIdentity(keymeter.IdentityCaller, []byte("tenant-42")).Fingerprint
	logged := fingerprint("a logged api key")
	events := []testEvent{
		{ev: apiEvent(at, full, 200, 1234, 45), facts: lake.Facts{Key: keyID, Customer: "acme", Object: "cw/a"}},
		{ev: apiEvent(at.Add(time.Hour), httpAPI, 201, 0, 3), facts: lake.Facts{Key: identity, Object: "cw/a"}},
		{ev: apiEvent(at.Add(2*time.Hour), full, 403, -1, -1), facts: lake.Facts{Key: logged, Customer: "globex", Object: "cw/b"}},
		{ev: apiEvent(at.Add(3*time.Hour), bare, -1, -1, -1), facts: lake.Facts{Attribution: keymeter.NoKey, Object: "cw/b"}},
	}
	row := func(rt time.Time, f map[keymeter.Field]string, keyID, identity, key, customer any, status, length, latency any) map[string]any {
		v := func(fl keymeter.Field) any {
			s, ok := f[fl]
			if !ok || s == "-" {
				return nil
			}
			return s
		}
		return map[string]any{
			"request_time": rt, "request_id": f[keymeter.FieldRequestID], "api_request_id": v(keymeter.FieldAPIRequestID),
			"source_ip": v(keymeter.FieldClientIP), "api_key_id": keyID, "identity": identity, "api_key": key,
			"customer": customer, "http_method": v(keymeter.FieldMethod), "path": v(keymeter.FieldURIStem),
			"resource_path": v(keymeter.FieldResourcePath), "route_key": v(keymeter.FieldRouteKey),
			"stage": v(keymeter.FieldStage), "api_id": v(keymeter.FieldAPIID), "domain_name": v(keymeter.FieldViewerHost),
			"protocol": v(keymeter.FieldProtocol), "status": status, "response_length": length,
			"response_latency_ms": latency, "user_agent": v(keymeter.FieldUserAgent),
		}
	}
	events[0].want = row(at, full, "k8x2mq9z1a", nil, nil, "acme", int32(200), int64(1234), int32(45))
	events[1].want = row(at.Add(time.Hour), httpAPI, nil, "tenant-42", nil, nil, int32(201), int64(0), int32(3))
	events[2].want = row(at.Add(2*time.Hour), full, nil, nil, logged, "globex", int32(403), nil, nil)
	events[3].want = row(at.Add(3*time.Hour), bare, nil, nil, nil, nil, nil, nil, nil)
	for i := range events {
		events[i].line = events[i].ev.Fields[keymeter.FieldRequestID]
		keymeterWant(events[i].want, &events[i].facts, false)
		partitionWant(events[i].want, at)
	}
	entries := writeBatch(t, w, "load-3", events)
	checkTable(t, root, lake.APIGatewayLogs, entries, events)
}

// TestPartitionPruning checks that a query naming a month reads only
// that month's files: the others are not even opened.
func TestPartitionPruning(t *testing.T) {
	root, err := lake.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	w, err := lake.NewWriter(root, lake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var entries []lake.Entry
	var events []testEvent
	for i, start := range []string{"2024-10-15", "2025-09-30", "2025-10-01", "2025-10-31", "2025-11-01"} {
		day, _ := time.Parse(time.DateOnly, start)
		g := loggen.New(loggen.Config{Seed: uint64(i + 1), Start: day, Span: 24 * time.Hour, Customers: 1, KeysPerCustomer: 1})
		ev := standardEvents(t, g, 100+i, len(events), loggen.StandardFields)
		events = append(events, ev...)
		entries = append(entries, writeBatch(t, w, "load-"+start, ev)...)
	}
	if len(entries) != 5 {
		t.Fatalf("%d files, want 5", len(entries))
	}
	files, err := lake.EntryFiles(lake.CloudFrontLogs, root, entries)
	if err != nil {
		t.Fatal(err)
	}
	// Files outside October 2025 become garbage: a query that read one
	// would fail. Only the first (October 2024) stays: DuckDB reads its
	// footer to bind the query.
	for _, e := range entries[1:] {
		if e.Date.Format("2006-01") != "2025-10" {
			if err := os.WriteFile(root.Location(e.Path), []byte("not parquet"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	db := openDuckDB(t)
	q := "SELECT count(*) AS n, min(\"date\") AS first, max(\"date\") AS last FROM (" + lake.ReadSQL(lake.CloudFrontLogs, files) + ") WHERE year = '2025' AND month = '10'"
	res := query(t, db, q)
	if n := res.rows[0][0]; n != int64(102+103) {
		t.Errorf("October 2025 has %v rows, want %d", n, 102+103)
	}
	explain := query(t, db, "EXPLAIN ANALYZE "+q)
	text := fmt.Sprint(explain.rows)
	if m := regexp.MustCompile(`Total Files Read: (\d+)`).FindStringSubmatch(text); m == nil || m[1] != "2" {
		t.Errorf("DuckDB read %v files, want 2:\n%s", m, text)
	}
}

// TestReadNoFiles checks that a table without files reads as no rows,
// with its columns.
func TestReadNoFiles(t *testing.T) {
	db := openDuckDB(t)
	for _, tb := range lake.Tables() {
		res := query(t, db, lake.ReadSQL(tb, nil))
		if len(res.rows) != 0 || len(res.cols) != len(tb.Columns)+3 {
			t.Errorf("%s without files: %d rows, %d columns", tb.Name, len(res.rows), len(res.cols))
		}
		for i, c := range tb.Columns {
			if res.cols[i] != c.Name || res.types[i] != c.Kind.DuckDB() {
				t.Errorf("%s column %d is %s %s, want %s %s", tb.Name, i, res.cols[i], res.types[i], c.Name, c.Kind.DuckDB())
			}
		}
	}
}

// TestDictionaryFallback writes a dictionary column whose values do not
// repeat, far beyond the dictionary's limit (1 MiB), so that the writer
// goes on in plain encoding: every value must still read back.
func TestDictionaryFallback(t *testing.T) {
	const n = 100_000
	root, w := newLake(t, lake.Options{})
	b, err := w.Begin(ctx, "load-fallback", loadedAt)
	if err != nil {
		t.Fatal(err)
	}
	g := gen(40, "2025-10-01T00:00:00Z", time.Hour)
	events := standardEvents(t, g, 1, 0, loggen.StandardFields)
	ev, f := events[0].ev, events[0].facts
	pad := strings.Repeat("x", 100)
	for i := range n {
		ev.Fields[keymeter.FieldUserAgent] = fmt.Appendf(nil, "agent-%06d-%s", i, pad)
		if err := b.Add(ev, &f); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := b.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := lake.EntryFiles(lake.CloudFrontLogs, root, entries)
	res := query(t, openDuckDB(t), "SELECT count(DISTINCT cs_user_agent), count(*) FILTER (WHERE NOT regexp_full_match(cs_user_agent, 'agent-[0-9]{6}-' || ?)) FROM ("+lake.ReadSQL(lake.CloudFrontLogs, files)+")", pad)
	if fmt.Sprint(res.rows) != fmt.Sprintf("[[%d 0]]", n) {
		t.Errorf("distinct user agents, rows with another user agent: %v, want %d and 0", res.rows, n)
	}

	// Data pages of both encodings, from the footer's statistics.
	file, err := root.Open(ctx, entries[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	pf, err := parquet.OpenFile(file, file.Size())
	if err != nil {
		t.Fatal(err)
	}
	pages := map[format.Encoding]int32{}
	for _, cc := range pf.Metadata().RowGroups[0].Columns {
		if cc.MetaData.PathInSchema[0] == "cs_user_agent" {
			for _, s := range cc.MetaData.EncodingStats {
				if s.PageType == format.DataPage {
					pages[s.Encoding] += s.Count
				}
			}
		}
	}
	if pages[format.RLEDictionary] == 0 || pages[format.Plain] == 0 {
		t.Errorf("cs_user_agent data pages by encoding: %v, want dictionary pages, then plain ones", pages)
	}
}
