package duckdb_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/store/duckdb"
)

// BenchmarkWrite measures the writer's path from batches to committed
// event rows (deduplication, keymeter_rows, the INSERT and the commit).
// An op is one row.
func BenchmarkWrite(b *testing.B) {
	db, err := duckdb.Open(context.Background(), filepath.Join(b.TempDir(), "keymeter.duckdb"), duckdb.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	const per = 10_000
	base := int64(1759276800) * 1e6 // 2025-10-01
	rows := make([]keymeter.Row, per)
	b.ReportAllocs()
	b.ResetTimer()
	w, err := db.NewWriter(ctx)
	if err != nil {
		b.Fatal(err)
	}
	for n := 0; n < b.N; n += per {
		for i := range rows {
			id := uint64(n + i + 1)
			rows[i] = keymeter.Row{Time: base + int64(id)*1000, ID: [2]uint64{id, 7}, Status: 200, BytesSent: int64(id), BytesRecv: 1, TimeTaken: 1}
		}
		if _, err := w.Write(ctx, batchOf(keymeter.SourceCloudFront, rows...)); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Commit(ctx); err != nil {
		b.Fatal(err)
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
}
