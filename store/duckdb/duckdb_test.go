package duckdb_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/store/duckdb"
	"github.com/keymeter/keymeter/store/storetest"
)

func open(t *testing.T, opts duckdb.Options) *duckdb.DB {
	t.Helper()
	db, err := duckdb.Open(context.Background(), filepath.Join(t.TempDir(), "keymeter.duckdb"), opts)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) keymeter.Store { return open(t, duckdb.Options{}) })
}

var ctx = context.Background()

// row returns a minimal stored event at hour h with the given ID.
func batchOf(src keymeter.Source, rows ...keymeter.Row) *keymeter.Batch {
	b := &keymeter.Batch{Source: src, Object: &keymeter.Object{URI: "test"}}
	for _, r := range rows {
		r.TTFB, r.ClientPort, r.FLEEncrypt, r.ContentLen, r.RangeStart, r.RangeEnd = -1, -1, -1, -1, -1, -1
		b.Rest = append(b.Rest, "id\t-\t-\t-\t-"...)
		r.RestEnd = uint32(len(b.Rest))
		b.Rows = append(b.Rows, r)
	}
	return b
}

func writeRows(t *testing.T, db *duckdb.DB, b *keymeter.Batch) keymeter.WriteResult {
	t.Helper()
	w, err := db.NewWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	res, err := w.Write(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return res
}

// TestDedupeBeyondMemoryBudget writes more events than the writer may
// keep in memory, spread over many hours, and writes them all again: the
// writer must load the evicted hours back and still skip every one.
func TestDedupeBeyondMemoryBudget(t *testing.T) {
	db := open(t, duckdb.Options{SeenBudget: 500})
	defer db.Close()
	base := int64(1759276800) * 1e6 // 2025-10-01
	var rows []keymeter.Row
	for i := range 5000 {
		rows = append(rows, keymeter.Row{Time: base + int64(i%100)*3_600_000_000 + int64(i), ID: [2]uint64{uint64(i) + 1, 7}, Status: 200, BytesSent: 1, BytesRecv: 1, TimeTaken: 1})
	}
	if res := writeRows(t, db, batchOf(keymeter.SourceCloudFront, rows...)); res.Stored != 5000 {
		t.Fatalf("first write: %+v", res)
	}
	// Twice more: once in one transaction, once hour by hour.
	if res := writeRows(t, db, batchOf(keymeter.SourceCloudFront, rows...)); res.Stored != 0 || res.Duplicates != 5000 {
		t.Fatalf("second write: %+v", res)
	}
	extra := keymeter.Row{Time: base, ID: [2]uint64{99999, 7}, Status: 200}
	if res := writeRows(t, db, batchOf(keymeter.SourceCloudFront, append(rows[:10:10], extra)...)); res.Stored != 1 || res.Duplicates != 10 {
		t.Fatalf("third write: %+v", res)
	}
	// The zero ID is an ID like any other.
	zero := keymeter.Row{Time: base, Status: 200}
	if res := writeRows(t, db, batchOf(keymeter.SourceCloudFront, zero, zero)); res.Stored != 1 || res.Duplicates != 1 {
		t.Fatalf("zero ID: %+v", res)
	}
}

func TestDictionaryCollision(t *testing.T) {
	db := open(t, duckdb.Options{})
	defer db.Close()
	b := batchOf(keymeter.SourceCloudFront, keymeter.Row{Time: 1759276800e6, ID: [2]uint64{1, 1}, Path: 42})
	b.Dict = []keymeter.DictEntry{{Kind: keymeter.DictPath, Source: keymeter.SourceCloudFront, ID: 42, Values: []string{"/a", "/a"}}}
	writeRows(t, db, b)
	b.Rows[0].ID = [2]uint64{2, 2}
	b.Dict[0].Values = []string{"/b", "/b"}
	w, err := db.NewWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx); err == nil || !strings.Contains(err.Error(), "collision") {
		t.Fatalf("commit with a colliding dictionary entry: %v", err)
	}
}

func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.duckdb")
	db, err := duckdb.Open(ctx, path, duckdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	writeRows(t, db, batchOf(keymeter.SourceCloudFront, keymeter.Row{Time: 1759276800e6, ID: [2]uint64{1, 1}, Status: 200, BytesSent: 5}))
	if err := db.CheckSecret(ctx, "check-1"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	ro, err := duckdb.Open(ctx, path, duckdb.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	tab, err := ro.QuerySQL(ctx, "SELECT count(*), sum(bytes_sent) FROM events")
	if err != nil || len(tab.Rows) != 1 || fmt.Sprint(tab.Rows[0]) != "[1 5]" {
		t.Errorf("after reopening: %+v, %v", tab, err)
	}
	if _, err := ro.NewWriter(ctx); keymeter.ErrorCode(err) != keymeter.EINVALID {
		t.Errorf("writer on a read-only store: %v", err)
	}
	if err := ro.CheckSecret(ctx, "check-2"); keymeter.ErrorCode(err) != keymeter.ECONFLICT {
		t.Errorf("other secret: %v", err)
	}
	if err := ro.CheckSecret(ctx, "check-1"); err != nil {
		t.Errorf("same secret: %v", err)
	}
	ro.Close()

	if _, err := duckdb.Open(ctx, filepath.Join(t.TempDir(), "empty.duckdb"), duckdb.Options{ReadOnly: true}); err == nil {
		t.Error("read-only open of a missing store succeeded")
	}
}

func TestQuerySQL(t *testing.T) {
	db := open(t, duckdb.Options{})
	defer db.Close()
	tab, err := db.QuerySQL(ctx, "SELECT 7 / 2 AS q, 7.0 / 2 AS d, 'x' AS s, NULL AS n, TIMESTAMP '2025-10-01 12:00:00' AS t")
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(tab.Columns, tab.Rows); got != "[q d s n t] [[3 3.5 x <nil> 2025-10-01 12:00:00 +0000 UTC]]" {
		t.Errorf("got %s (7 / 2 must be 3, as in Athena)", got)
	}
	if _, err := db.QuerySQL(ctx, "SELEC 1"); keymeter.ErrorCode(err) != keymeter.EINVALID {
		t.Errorf("syntax error: %v, want EINVALID", err)
	}
	// QuerySQL turns integer division on for the query.
	if tab, err := db.QuerySQL(ctx, "SELECT current_setting('integer_division')"); err != nil || fmt.Sprint(tab.Rows) != "[[true]]" {
		t.Errorf("setting inside QuerySQL: %v %v", tab, err)
	}
}

// TestRollups checks that day-aligned usage is answered from the daily
// rollups, which keep one row per group however many transactions added
// to it, and that a store without them gets them rebuilt.
func TestRollups(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.duckdb")
	db, err := duckdb.Open(ctx, path, duckdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	day := int64(1759276800e6) // 2025-10-01
	for run := range 3 {
		var rows []keymeter.Row
		for i := range 100 {
			rows = append(rows, keymeter.Row{Time: day + int64(i)*3_600_000_000/4, ID: [2]uint64{uint64(run*1000 + i + 1), 1},
				Status: 200, BytesSent: 10, BytesRecv: 1, TimeTaken: int32(i)})
		}
		writeRows(t, db, batchOf(keymeter.SourceCloudFront, rows...))
	}
	db.Close()

	raw, err := sql.Open("duckdb", path)
	if err != nil {
		t.Fatal(err)
	}
	var dupGroups int
	if err := raw.QueryRow(`SELECT count(*) FROM (SELECT source, day, key_id, attribution FROM usage_daily GROUP BY ALL HAVING count(*) > 1)`).Scan(&dupGroups); err != nil || dupGroups != 0 {
		t.Errorf("usage_daily has %d groups on several rows (%v)", dupGroups, err)
	}
	// Without the events, only the rollups can answer. Day 1 holds
	// time-takens 0 to 95 three times (p50: rank 144 of 288 is 47; p95:
	// rank 274 is 91; p99: rank 286 is 95), day 2 96 to 99 three times
	// (their buckets are 2 ms wide: 97 and 99).
	if _, err := raw.Exec(`DELETE FROM event_rows`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	db, err = duckdb.Open(ctx, path, duckdb.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	from := time.UnixMicro(day).UTC()
	days, err := db.Usage(ctx, keymeter.UsageQuery{From: from, To: from.AddDate(0, 0, 2), By: []keymeter.Dimension{keymeter.DimDay}})
	if err != nil || fmt.Sprint(days) != "[{[{2025-10-01 false}] 288 2880 288 {288 13680 47 91 95}} {[{2025-10-02 false}] 12 120 12 {12 1170 97 99 99}}]" {
		t.Errorf("from the rollups: %v, %v", days, err)
	}
	micros, err := db.Usage(ctx, keymeter.UsageQuery{From: from.Add(-time.Microsecond), To: from.AddDate(0, 0, 2), By: []keymeter.Dimension{keymeter.DimDay}})
	if err != nil || len(micros) != 0 {
		t.Errorf("from the events: %v, %v", micros, err)
	}
	db.Close()

	// A store that lost its rollups gets them back from the events.
	raw, _ = sql.Open("duckdb", path)
	raw.Exec(`DELETE FROM meta WHERE key = 'rollups'`)
	raw.Close()
	db, err = duckdb.Open(ctx, path, duckdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if again, err := db.Usage(ctx, keymeter.UsageQuery{From: from, To: from.AddDate(0, 0, 2)}); err != nil || len(again) != 1 || !again[0].Requests.IsZero() {
		t.Errorf("after rebuilding from no events: %v, %v", again, err)
	}
}
