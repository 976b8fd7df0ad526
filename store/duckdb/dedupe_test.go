package duckdb_test

import (
	"testing"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/store/duckdb"
)

// TestDedupeWindowOption sets a two-hour window: copies two hours from
// their original (by the UTC hour) count once, three hours away twice,
// in one transaction as in two; 0 hours (a negative window) means the
// same hour only.
func TestDedupeWindowOption(t *testing.T) {
	base := int64(1759276800)*1e6 + 10*3_600_000_000 + 1 // 2025-10-01 10:00
	row := func(id uint64, hours float64) keymeter.Row {
		return keymeter.Row{Time: base + int64(hours*3_600_000_000), ID: [2]uint64{id, 7}, Status: 200, BytesSent: 1}
	}
	for _, tt := range []struct {
		window  time.Duration
		near    float64 // a copy this many hours later is one
		earlier float64 // and this many hours earlier
		farther float64 // and this many hours later or earlier another request
	}{{2 * time.Hour, 2.9, 2, 3}, {-1, 0.99, 0, 1}, {90 * time.Minute, 2.5, 2, 3}} {
		db := open(t, duckdb.Options{DedupeWindow: tt.window})
		if res := writeRows(t, db, batchOf(keymeter.SourceCloudFront, row(1, 0), row(1, tt.near), row(2, 0), row(2, tt.farther))); res.Stored != 3 {
			t.Errorf("window %v, one transaction: %+v, want 3 stored", tt.window, res)
		}
		if res := writeRows(t, db, batchOf(keymeter.SourceCloudFront, row(3, 0))); res.Stored != 1 {
			t.Fatal(res)
		}
		if res := writeRows(t, db, batchOf(keymeter.SourceCloudFront, row(3, tt.near), row(3, -tt.earlier))); res.Stored != 0 || res.Duplicates != 2 {
			t.Errorf("window %v, two transactions, near: %+v, want 2 duplicates", tt.window, res)
		}
		if res := writeRows(t, db, batchOf(keymeter.SourceCloudFront, row(3, tt.farther), row(3, -tt.farther))); res.Stored != 2 {
			t.Errorf("window %v, two transactions, farther: %+v, want 2 stored", tt.window, res)
		}
		db.Close()
	}
}

// TestDedupeWindowBeyondMemoryBudget writes copies shifted by hours of
// events spread over many hours, with a budget of a few hundred IDs: the
// writer evicts hours and loads them back, and still counts each request
// once.
func TestDedupeWindowBeyondMemoryBudget(t *testing.T) {
	db := open(t, duckdb.Options{SeenBudget: 300})
	defer db.Close()
	base := int64(1759276800) * 1e6
	var rows, shifted []keymeter.Row
	for i := range 3000 {
		r := keymeter.Row{Time: base + int64(i%200)*3_600_000_000 + int64(i), ID: [2]uint64{uint64(i) + 1, 9}, Status: 200, BytesSent: 1}
		rows = append(rows, r)
		r.Time += int64(1+i%24) * 3_600_000_000 // 1 to 24 hours later
		shifted = append(shifted, r)
	}
	if res := writeRows(t, db, batchOf(keymeter.SourceCloudFront, rows[:1500]...)); res.Stored != 1500 {
		t.Fatalf("first half: %+v", res)
	}
	// The shifted copies of the first half with the second half, in one
	// transaction, then all the shifted copies again.
	if res := writeRows(t, db, batchOf(keymeter.SourceCloudFront, append(shifted[:1500:1500], rows[1500:]...)...)); res.Stored != 1500 || res.Duplicates != 1500 {
		t.Fatalf("second write: %+v", res)
	}
	if res := writeRows(t, db, batchOf(keymeter.SourceCloudFront, shifted...)); res.Stored != 0 || res.Duplicates != 3000 {
		t.Fatalf("third write: %+v", res)
	}
	got, err := db.Usage(ctx, keymeter.UsageQuery{From: time.UnixMicro(base), To: time.UnixMicro(base).AddDate(0, 1, 0)})
	if err != nil || got[0].Requests != keymeter.NewInt128(3000) {
		t.Errorf("usage: %+v, %v", got, err)
	}
}
