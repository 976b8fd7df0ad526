package duckdb_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

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
