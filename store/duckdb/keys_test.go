package duckdb_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/store/duckdb"
)

// BenchmarkImportKeys imports 100,000 keys of 1,000 customers into an
// empty store (new), again (unchanged), and moved to other customers
// from a time on (moved). Each takes about a second or less.
func BenchmarkImportKeys(b *testing.B) {
	const n = 100_000
	fp := keymeter.NewFingerprinter([]byte("bench secret"))
	keys := make([]keymeter.KeyAssignment, n)
	for i := range keys {
		keys[i] = keymeter.KeyAssignment{KeyFingerprint: fp.Fingerprint(fmt.Appendf(nil, "km_bench_key_%08d_abcdefgh", i)), Customer: fmt.Sprint("customer-", i%1000)}
	}
	moved := make([]keymeter.KeyAssignment, n)
	for i, k := range keys {
		k.Customer = fmt.Sprint("customer-", (i+1)%1000)
		k.From = time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC)
		moved[i] = k
	}
	for _, bb := range []struct {
		name   string
		before [][]keymeter.KeyAssignment
		keys   []keymeter.KeyAssignment
		want   keymeter.KeyImport
	}{
		{"new", nil, keys, keymeter.KeyImport{Added: n}},
		{"unchanged", [][]keymeter.KeyAssignment{keys}, keys, keymeter.KeyImport{Unchanged: n}},
		{"moved", [][]keymeter.KeyAssignment{keys}, moved, keymeter.KeyImport{Moved: n}},
	} {
		b.Run(bb.name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				db, err := duckdb.Open(ctx, filepath.Join(b.TempDir(), "keymeter.duckdb"), duckdb.Options{})
				if err != nil {
					b.Fatal(err)
				}
				for _, ks := range bb.before {
					if _, err := db.ImportKeys(ctx, ks); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				res, err := db.ImportKeys(ctx, bb.keys)
				b.StopTimer()
				if err != nil || res != bb.want {
					b.Fatalf("%+v, %v; want %+v", res, err, bb.want)
				}
				db.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/import")
		})
	}
}
