package postgres_test

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/ingest"
	"github.com/keymeter/keymeter/store/duckdb"
)

// sampleInputs are the demo's sample logs (testdata/sample/logs).
func sampleInputs(t *testing.T) []ingest.Input {
	t.Helper()
	var inputs []ingest.Input
	err := filepath.WalkDir("../../testdata/sample/logs", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		inputs = append(inputs, ingest.Input{
			Object: keymeter.Object{URI: path, Size: info.Size(), ModTime: info.ModTime()},
			Open:   func(context.Context) (io.ReadCloser, error) { return os.Open(path) },
		})
		return nil
	})
	if err != nil || len(inputs) == 0 {
		t.Fatalf("sample logs: %d, %v", len(inputs), err)
	}
	return inputs
}

// TestIngestAgreesWithDuckDB runs the real ingest pipeline over the
// sample logs into PostgreSQL and into DuckDB: every whole-day usage
// question the rollups answer gets the same answer from both, keys
// included, and so do their progress and sources; ingesting again
// stores nothing.
func TestIngestAgreesWithDuckDB(t *testing.T) {
	pg := open(t, freshDatabase(t))
	defer pg.Close()
	dd, err := duckdb.Open(ctx, filepath.Join(t.TempDir(), "k.duckdb"), duckdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer dd.Close()
	cfg := ingest.Config{Secret: []byte("0123456789abcdef0123456789abcdef")}
	var sums [2]*ingest.Summary
	for i, s := range []keymeter.Store{pg, dd} {
		in, err := ingest.New(s, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if sums[i], err = in.Run(ctx, sampleInputs(t)); err != nil {
			t.Fatal(err)
		}
	}
	if sums[0].Events == 0 || sums[0].Events != sums[1].Events || sums[0].Duplicates != sums[1].Duplicates || sums[0].Rejected != sums[1].Rejected {
		t.Errorf("summaries differ: postgres %d events, %d duplicates, %d rejected; duckdb %d, %d, %d",
			sums[0].Events, sums[0].Duplicates, sums[0].Rejected, sums[1].Events, sums[1].Duplicates, sums[1].Rejected)
	}
	from, to := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, by := range [][]keymeter.Dimension{
		nil, {keymeter.DimAPIKey}, {keymeter.DimDay, keymeter.DimSource}, {keymeter.DimReason},
		{keymeter.DimSource, keymeter.DimAPIKey, keymeter.DimMonth},
	} {
		q := keymeter.UsageQuery{From: from, To: to, By: by}
		a, err := pg.Usage(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		b, err := dd.Usage(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Errorf("usage by %v:\n postgres %v\n duckdb   %v", by, a, b)
		}
	}
	ka, err := pg.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := dd.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ka) == 0 || fmt.Sprint(ka) != fmt.Sprint(kb) {
		t.Errorf("keys:\n postgres %v\n duckdb   %v", ka, kb)
	}
	pa, err := pg.Progress(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := dd.Progress(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(pa) == 0 || fmt.Sprint(pa) != fmt.Sprint(pb) {
		t.Errorf("progress:\n postgres %v\n duckdb   %v", pa, pb)
	}
	for _, p := range [][2]time.Time{{from, to}, {pa[0].Newest.Add(time.Hour).Truncate(time.Hour), to}, {pa[0].First.Truncate(time.Hour), pa[0].First.Truncate(time.Hour).Add(time.Hour)}} {
		sa, err := pg.SourcesIn(ctx, p[0], p[1])
		if err != nil {
			t.Fatal(err)
		}
		sb, err := dd.SourcesIn(ctx, p[0], p[1])
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(sa) != fmt.Sprint(sb) {
			t.Errorf("sources in %v: postgres %v, duckdb %v", p, sa, sb)
		}
	}
	in, err := ingest.New(pg, cfg)
	if err != nil {
		t.Fatal(err)
	}
	again, err := in.Run(ctx, sampleInputs(t))
	if err != nil || again.Events != 0 || len(again.Skipped) != len(sampleInputs(t)) {
		t.Errorf("ingest again: %+v, %v; want every object skipped", again, err)
	}
}
