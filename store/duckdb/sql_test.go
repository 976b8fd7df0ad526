package duckdb_test

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	duckdbgo "github.com/duckdb/duckdb-go/v2"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/store/duckdb"
)

// describe renders a value of a RowWriter with its Go type.
func describe(v any) string {
	switch x := v.(type) {
	case *big.Int:
		return "*big.Int " + x.String()
	case time.Time:
		return "time.Time " + x.Format(time.RFC3339Nano)
	case []byte:
		return fmt.Sprintf("[]byte %x", x)
	case json.RawMessage:
		return "json.RawMessage " + string(x)
	}
	return fmt.Sprintf("%T %v", v, v)
}

// TestStreamSQLTypes reads a value of every DuckDB type a query can
// return, as the types keymeter.RowWriter promises.
func TestStreamSQLTypes(t *testing.T) {
	db := open(t, duckdb.Options{})
	defer db.Close()
	tests := []struct{ expr, want string }{
		{`true`, "bool true"},
		{`-5::TINYINT`, "int64 -5"},
		{`-300::SMALLINT`, "int64 -300"},
		{`-70000::INTEGER`, "int64 -70000"},
		{`-5000000000::BIGINT`, "int64 -5000000000"},
		{`200::UTINYINT`, "int64 200"},
		{`60000::USMALLINT`, "int64 60000"},
		{`4000000000::UINTEGER`, "int64 4000000000"},
		{`18446744073709551615::UBIGINT`, "uint64 18446744073709551615"},
		{`(-170141183460469231731687303715884105727 - 1)::HUGEINT`, "*big.Int -170141183460469231731687303715884105728"},
		{`-1::HUGEINT`, "*big.Int -1"},
		{`340282366920938463463374607431768211455::UHUGEINT`, "*big.Int 340282366920938463463374607431768211455"},
		{`1.5::FLOAT`, "float64 1.5"},
		{`2.25::DOUBLE`, "float64 2.25"},
		{`12.50::DECIMAL(4, 2)`, "string 12.50"},
		{`0.05::DECIMAL(9, 2)`, "string 0.05"},
		{`0::DECIMAL(9, 2)`, "string 0.00"},
		{`-1234567.891::DECIMAL(10, 3)`, "string -1234567.891"},
		{`12345678901234567890.123::DECIMAL(38, 3)`, "string 12345678901234567890.123"},
		{`-0.001::DECIMAL(38, 3)`, "string -0.001"},
		{`7::DECIMAL(18, 0)`, "string 7"},
		{`'héllo'`, "string héllo"},
		{`'a string longer than twelve bytes'`, "string a string longer than twelve bytes"},
		{`''`, "string "},
		{`'\xAA\xBB'::BLOB`, "[]byte aabb"},
		{`DATE '2025-10-01'`, "time.Time 2025-10-01T00:00:00Z"},
		{`DATE '1969-12-31'`, "time.Time 1969-12-31T00:00:00Z"},
		{`TIME '12:34:56.789'`, "time.Time 0001-01-01T12:34:56.789Z"},
		{`TIMETZ '12:00:00+01'`, "time.Time 0001-01-01T12:00:00+01:00"},
		{`TIMESTAMP '2025-10-01 12:00:00.123456'`, "time.Time 2025-10-01T12:00:00.123456Z"},
		{`TIMESTAMPTZ '2025-10-01 12:00:00+02'`, "time.Time 2025-10-01T10:00:00Z"},
		{`'2025-10-01 12:00:01'::TIMESTAMP_S`, "time.Time 2025-10-01T12:00:01Z"},
		{`'2025-10-01 12:00:00.5'::TIMESTAMP_MS`, "time.Time 2025-10-01T12:00:00.5Z"},
		{`'2025-10-01 12:00:00.123456789'::TIMESTAMP_NS`, "time.Time 2025-10-01T12:00:00.123456789Z"},
		{`INTERVAL 1 MONTH + INTERVAL 2 DAY + INTERVAL 3 SECOND`, "string 1 months 2 days 3000000 µs"},
		{`'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::UUID`, "string a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
		{`'00000000-0000-0000-0000-000000000001'::UUID`, "string 00000000-0000-0000-0000-000000000001"},
		{`'b'::ENUM('a', 'b')`, "string b"},
		{`'101'::BIT`, "string 101"},
		{`-12345678901234567890123::BIGNUM`, "*big.Int -12345678901234567890123"},
		{`12345678901234567890123::BIGNUM`, "*big.Int 12345678901234567890123"},
		{`union_value(num := 2)::UNION(num INTEGER, str VARCHAR)`, "int64 2"},
		{`NULL`, "<nil> <nil>"},
		{`NULL::VARCHAR`, "<nil> <nil>"},
		{`'{"a": [1, 2]}'::JSON`, `json.RawMessage {"a": [1, 2]}`},
		{`[1, NULL, 3]`, "json.RawMessage [1,null,3]"},
		{`[[1], [2, 3], []]`, "json.RawMessage [[1],[2,3],[]]"},
		{`['x', 'y']::VARCHAR[2]`, `json.RawMessage ["x","y"]`},
		{`{'a': 1, 'b': 'two', 'c': NULL}`, `json.RawMessage {"a":1,"b":"two","c":null}`},
		{`MAP {'k': [1], 'j': NULL}`, `json.RawMessage {"k":[1],"j":null}`},
		{`MAP {1: 'one', 2: 'two'}`, `json.RawMessage {"1":"one","2":"two"}`},
		{`[{'t': TIMESTAMP '2025-10-01 00:00:00', 'd': 1.50::DECIMAL(4, 2), 'f': 0.5::DOUBLE, 'b': '\x01'::BLOB, 's': '<"q">'}]`,
			`json.RawMessage [{"t":"2025-10-01T00:00:00Z","d":1.50,"f":0.5,"b":"01","s":"\u003c\"q\"\u003e"}]`},
	}
	for _, tt := range tests {
		tab, err := db.QuerySQL(ctx, "SELECT "+tt.expr+" AS v")
		if err != nil {
			t.Errorf("%s: %v", tt.expr, err)
			continue
		}
		if got := describe(tab.Rows[0][0]); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.expr, got, tt.want)
		}
	}
}

// TestStreamSQLChunks reads results of many chunks, nested and with NULLs,
// against what duckdb-go reads of the same query.
func TestStreamSQLChunks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.duckdb")
	db, err := duckdb.Open(ctx, path, duckdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const query = `SELECT range AS n, CASE WHEN range % 7 = 0 THEN NULL ELSE 'v' || range END AS s,
	  range::DECIMAL(18, 2) * 0.25 AS d, [range, range + 1] AS l
	FROM range(10000) ORDER BY n DESC`
	tab, err := db.QuerySQL(ctx, query)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	connector, err := duckdbgo.NewConnector(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw := sql.OpenDB(connector)
	defer raw.Close()
	rows, err := raw.Query(query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	i := 0
	for ; rows.Next(); i++ {
		var n int64
		var s sql.NullString
		var d any
		var l []any
		if err := rows.Scan(&n, &s, &d, &l); err != nil {
			t.Fatal(err)
		}
		want := []any{n, nil, fmt.Sprintf("%d.%04d", n/4, n%4*2500), fmt.Sprintf("[%d,%d]", l[0], l[1])}
		if s.Valid {
			want[1] = s.String
		}
		got := tab.Rows[i]
		if got[0] != want[0] || got[1] != want[1] || got[2] != want[2] || fmt.Sprintf("%s", got[3]) != want[3] {
			t.Fatalf("row %d: %v, want %v", i, got, want)
		}
	}
	if i != len(tab.Rows) || i != 10000 {
		t.Errorf("%d rows, duckdb-go read %d", len(tab.Rows), i)
	}
}

// stopWriter fails after n rows.
type stopWriter struct{ n, rows int }

var errStop = errors.New("stop")

func (w *stopWriter) Begin([]string) error { return nil }
func (w *stopWriter) Row([]any) error {
	w.rows++
	if w.rows == w.n {
		return errStop
	}
	return nil
}

func TestStreamSQLWriterError(t *testing.T) {
	db := open(t, duckdb.Options{})
	defer db.Close()
	w := &stopWriter{n: 5000}
	if err := db.StreamSQL(ctx, `SELECT * FROM range(1000000000000)`, w); !errors.Is(err, errStop) || w.rows != 5000 {
		t.Errorf("%v after %d rows", err, w.rows)
	}
	// The store is still usable.
	if tab, err := db.QuerySQL(ctx, `SELECT 1`); err != nil || len(tab.Rows) != 1 {
		t.Errorf("after: %v %v", tab, err)
	}
}

// TestStreamSQLStatementCheck runs the statement check alone, on a store
// opened for writing (no sandbox): what is not a read is refused before
// it runs, and nothing changes.
func TestStreamSQLStatementCheck(t *testing.T) {
	dir := t.TempDir()
	db, err := duckdb.Open(ctx, filepath.Join(dir, "k.duckdb"), duckdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := filepath.Join(dir, "out.csv")
	for _, q := range []string{
		`COPY meta TO '` + out + `'`,
		`INSERT INTO meta VALUES ('k', 'v')`,
		`CREATE TABLE t AS SELECT 1 AS x`,
		`DELETE FROM meta`,
		`ATTACH '` + filepath.Join(dir, "other.duckdb") + `'`,
		`SET threads = 1`,
		`CALL checkpoint()`,
		`SELECT * FROM checkpoint()`,
		`SELECT * FROM main.ENABLE_LOGGING()`,
		`SELECT (SELECT count(*) FROM "force_checkpoint"())`,
		`WITH x AS (SELECT * FROM query('SELECT 1')) SELECT * FROM x`,
		`SELECT 1; DELETE FROM meta`,
		"SELECT 1\x00; DELETE FROM meta",
		`EXPLAIN SELECT 1`,
		``,
		`-- nothing`,
	} {
		_, err := db.QuerySQL(ctx, q)
		if keymeter.ErrorCode(err) != keymeter.EINVALID {
			t.Errorf("%q: %v, want EINVALID", q, err)
		}
	}
	tab, err := db.QuerySQL(ctx, `SELECT count(*) FROM meta WHERE key = 'k'`)
	if err != nil || tab.Rows[0][0] != int64(0) {
		t.Errorf("meta changed: %v %v", tab, err)
	}
	if _, err := db.QuerySQL(ctx, `SELECT * FROM t`); err == nil {
		t.Error("table t was created")
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("COPY wrote a file")
	}
	// integer division is on for the query only.
	if tab, err := db.QuerySQL(ctx, `SELECT 7 / 2, current_setting('integer_division')`); err != nil || fmt.Sprint(tab.Rows) != "[[3 true]]" {
		t.Errorf("integer division: %v %v", tab, err)
	}
}

// TestSandbox checks what DuckDB itself enforces on a sandboxed store:
// files under AllowedDirs can be read, no other; settings are locked;
// integer division is on.
func TestSandbox(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "k.duckdb")
	lake := filepath.Join(dir, "lake")
	if err := os.Mkdir(lake, 0o755); err != nil {
		t.Fatal(err)
	}
	db, err := duckdb.Open(ctx, path, duckdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := os.Mkdir(lake+"2", 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{filepath.Join(lake, "events.parquet"), filepath.Join(lake+"2", "events.parquet"), filepath.Join(dir, "other.parquet")} {
		writeParquet(t, f)
	}

	sb, err := duckdb.Open(ctx, path, duckdb.Options{Sandbox: true, AllowedDirs: []string{lake}})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	tab, err := sb.QuerySQL(ctx, `SELECT sum(x) FROM read_parquet('`+lake+`/*.parquet')`)
	if err != nil || fmt.Sprint(tab.Rows) != "[[6]]" {
		t.Errorf("a file under an allowed directory: %v %v", tab, err)
	}
	for _, q := range []string{
		`SELECT * FROM read_parquet('` + filepath.Join(dir, "other.parquet") + `')`,
		`SELECT * FROM read_parquet('` + filepath.Join(lake+"2", "events.parquet") + `')`, // lake is a prefix of lake2
		`SELECT * FROM read_parquet('` + lake + `/../other.parquet')`,
		`SELECT * FROM read_blob('` + dir + `/*')`,
	} {
		if _, err := sb.QuerySQL(ctx, q); keymeter.ErrorCode(err) != keymeter.EINVALID || !strings.Contains(err.Error(), "reads only the store's own") {
			t.Errorf("%s: %v", q, err)
		}
	}
	if tab, err := sb.QuerySQL(ctx, `SELECT 7 / 2, current_setting('lock_configuration'), current_setting('enable_external_access'), current_setting('autoload_known_extensions')`); err != nil || fmt.Sprint(tab.Rows) != "[[3 true false false]]" {
		t.Errorf("settings: %v %v", tab, err)
	}
	// The store's own methods still work.
	if _, err := sb.Usage(ctx, keymeter.UsageQuery{From: time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC)}); err != nil {
		t.Errorf("usage on a sandboxed store: %v", err)
	}
}

// writeParquet writes a Parquet file of x = 1, 2, 3 with an in-memory
// DuckDB.
func writeParquet(t *testing.T, path string) {
	t.Helper()
	connector, err := duckdbgo.NewConnector("", nil)
	if err != nil {
		t.Fatal(err)
	}
	mem := sql.OpenDB(connector)
	defer mem.Close()
	if _, err := mem.Exec(`COPY (SELECT * FROM (VALUES (1), (2), (3)) v(x)) TO '` + path + `' (FORMAT parquet)`); err != nil {
		t.Fatal(err)
	}
}
