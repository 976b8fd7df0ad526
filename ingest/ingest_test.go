package ingest_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/ingest"
	"github.com/keymeter/keymeter/internal/loggen"
	"github.com/keymeter/keymeter/store/duckdb"
)

var ctx = context.Background()

func openStore(t *testing.T) *duckdb.DB {
	t.Helper()
	db, err := duckdb.Open(ctx, filepath.Join(t.TempDir(), "k.duckdb"), duckdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// input is an in-memory object.
func input(uri string, data []byte) ingest.Input {
	return ingest.Input{
		Object: keymeter.Object{URI: uri, Size: int64(len(data))},
		Open: func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(data)), nil
		},
	}
}

func logLines(seed uint64, n int) (string, []loggen.Record) {
	gen := loggen.New(loggen.Config{Seed: seed, Start: time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC), Span: 24 * time.Hour,
		Customers: 2, KeysPerCustomer: 1, NoKeyPercent: 10})
	var b strings.Builder
	b.WriteString(loggen.Header(loggen.StandardFields))
	recs := make([]loggen.Record, n)
	for i := range recs {
		gen.Next(&recs[i])
		b.Write(recs[i].AppendLine(nil, loggen.StandardFields))
	}
	return b.String(), recs
}

func gz(s string) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	zw.Close()
	return b.Bytes()
}

func run(t *testing.T, db keymeter.Store, cfg ingest.Config, inputs ...ingest.Input) *ingest.Summary {
	t.Helper()
	cfg.Secret = []byte("0123456789abcdef")
	in, err := ingest.New(db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := in.Run(ctx, inputs)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Lines != sum.Events+sum.Duplicates+sum.Rejected {
		t.Errorf("lines %d != events %d + duplicates %d + rejected %d", sum.Lines, sum.Events, sum.Duplicates, sum.Rejected)
	}
	return sum
}

func requests(t *testing.T, db *duckdb.DB) int64 {
	t.Helper()
	rows, err := db.Usage(ctx, keymeter.UsageQuery{From: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	n, ok := rows[0].Requests.Int64()
	if !ok {
		t.Fatalf("requests %s", rows[0].Requests)
	}
	return n
}

// TestTruncatedGzip keeps the complete lines of a truncated file, rejects
// the line the truncation cut, records the object as partial and reports
// it, and still ingests the other inputs.
func TestTruncatedGzip(t *testing.T) {
	db := openStore(t)
	text, _ := logLines(1, 3000)
	full := gz(text)
	cut := full[:len(full)/2]
	// The standard library's reader tells independently how many complete
	// lines the cut file holds (two of them are headers).
	zr, _ := gzip.NewReader(bytes.NewReader(cut))
	readable, _ := io.ReadAll(zr)
	complete := int64(bytes.Count(readable, []byte("\n")) - 2)
	other, _ := logLines(2, 10)

	sum := run(t, db, ingest.Config{}, input("cut.gz", cut), input("other.log", []byte(other)))
	if len(sum.Failed) != 1 || sum.Failed[0].URI != "cut.gz" || !strings.Contains(sum.Failed[0].Reason, "truncated") {
		t.Fatalf("failed: %+v", sum.Failed)
	}
	if sum.Events != complete+10 || sum.Rejected != 1 {
		t.Errorf("events %d, rejected %d; want %d complete lines + 10, and 1 cut line", sum.Events, sum.Rejected, complete)
	}
	rec, err := db.FindObject(ctx, keymeter.Object{URI: "cut.gz", Size: int64(len(cut))})
	if err != nil || rec == nil || rec.Status != keymeter.ObjectPartial || rec.Events != complete {
		t.Errorf("object record %+v, %v", rec, err)
	}
	rejects, err := db.Rejects(ctx, keymeter.RejectFilter{})
	if err != nil || len(rejects) != 1 || !strings.Contains(rejects[0].Reason, "cut short") || rejects[0].Line != complete+3 {
		t.Errorf("rejects %+v, %v", rejects, err)
	}
	// Once the whole file arrives, only its missing lines are added.
	sum = run(t, db, ingest.Config{}, input("full.gz", full))
	if sum.Events != 3000-complete || sum.Duplicates != complete {
		t.Errorf("complete file: %d events, %d duplicates; want %d and %d", sum.Events, sum.Duplicates, 3000-complete, complete)
	}
	if n := requests(t, db); n != 3010 {
		t.Errorf("%d requests stored, want 3010", n)
	}
}

func TestUnreadableInputs(t *testing.T) {
	db := openStore(t)
	good, _ := logLines(3, 5)
	broken := ingest.Input{
		Object: keymeter.Object{URI: "broken"},
		Open:   func(context.Context) (io.ReadCloser, error) { return nil, errors.New("permission denied") },
	}
	notGzip := append([]byte{0x1f, 0x8b}, "not really gzip"...)
	sum := run(t, db, ingest.Config{}, broken, input("bad.gz", notGzip), input("good.log", []byte(good)))
	if sum.Events != 5 || len(sum.Failed) != 2 {
		t.Fatalf("summary %+v", sum)
	}
	reasons := fmt.Sprint(sum.Failed)
	if !strings.Contains(reasons, "broken unreadable: permission denied") || !strings.Contains(reasons, "bad.gz") {
		t.Errorf("failed %v", reasons)
	}
}

func TestLongLines(t *testing.T) {
	db := openStore(t)
	text, _ := logLines(4, 4)
	lines := strings.SplitAfter(text, "\n")
	long := "2025-10-01\t00:00:00\t" + strings.Repeat("x", ingest.MaxLineLen+10) + "\n"
	mixed := strings.Join(lines[:4], "") + long + strings.Join(lines[4:], "")
	sum := run(t, db, ingest.Config{}, input("long.log", []byte(mixed)))
	if sum.Events != 4 || sum.Rejected != 1 {
		t.Errorf("events %d, rejected %d; want 4 and 1", sum.Events, sum.Rejected)
	}
	rejects, _ := db.Rejects(ctx, keymeter.RejectFilter{})
	if len(rejects) != 1 || rejects[0].Line != 5 || !strings.Contains(rejects[0].Reason, "longer than") {
		t.Errorf("rejects %+v", rejects)
	}
}

// TestSmallBatches commits many times within one run and across runs; the
// totals do not depend on how work is cut up.
func TestSmallBatches(t *testing.T) {
	db := openStore(t)
	text, recs := logLines(5, 5000)
	var inputs []ingest.Input
	for i := range 5 { // five files sharing lines: each holds 2000 lines, 1000 new ones
		lines := strings.SplitAfter(strings.TrimSuffix(text, "\n"), "\n")
		body := strings.Join(lines[2+i*1000:min(2+(i+2)*1000, len(lines))], "")
		inputs = append(inputs, input(fmt.Sprintf("part%d.log", i), []byte(loggen.Header(loggen.StandardFields)+body+"\n")))
	}
	sum := run(t, db, ingest.Config{BatchRows: 97, CommitRows: 500, Workers: 3}, inputs...)
	if sum.Events != int64(len(recs)) {
		t.Errorf("events %d, want %d", sum.Events, len(recs))
	}
	if n := requests(t, db); n != int64(len(recs)) {
		t.Errorf("stored %d, want %d", n, len(recs))
	}
}

// TestCancel stops a run midway: what was committed stays, and running
// again completes the work without counting anything twice.
func TestCancel(t *testing.T) {
	db := openStore(t)
	text, recs := logLines(6, 20000)
	cctx, cancel := context.WithCancel(ctx)
	in, err := ingest.New(db, ingest.Config{Secret: []byte("0123456789abcdef"), BatchRows: 100, CommitRows: 1000,
		Progress: func(s ingest.Summary) {
			if s.Events > 5000 {
				cancel()
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = in.Run(cctx, []ingest.Input{input("big.log", []byte(text))})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: %v", err)
	}
	stored := requests(t, db)
	if stored == 0 || stored >= int64(len(recs)) {
		t.Fatalf("%d stored after cancelling, want some but not all", stored)
	}
	sum := run(t, db, ingest.Config{}, input("big.log", []byte(text)))
	if sum.Events != int64(len(recs))-stored || sum.Duplicates != stored {
		t.Errorf("second run: %d events, %d duplicates; want %d and %d", sum.Events, sum.Duplicates, int64(len(recs))-stored, stored)
	}
	if n := requests(t, db); n != int64(len(recs)) {
		t.Errorf("stored %d, want %d", n, len(recs))
	}
}
