package lake_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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

func newLake(t testing.TB, opts lake.Options) (*lake.Local, *lake.Writer) {
	t.Helper()
	root, err := lake.NewLocal(filepath.Join(t.TempDir(), "lake"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := lake.NewWriter(root, opts)
	if err != nil {
		t.Fatal(err)
	}
	return root, w
}

func gen(seed uint64, start string, span time.Duration) *loggen.Gen {
	day, err := time.Parse(time.RFC3339, start)
	if err != nil {
		panic(err)
	}
	return loggen.New(loggen.Config{Seed: seed, Start: day, Span: span, Customers: 2, KeysPerCustomer: 2, NoKeyPercent: 10})
}

// TestLayout checks where files go, what their entries say, and that a
// batch's file names derive from its key alone.
func TestLayout(t *testing.T) {
	root, w := newLake(t, lake.Options{})
	events := standardEvents(t, gen(1, "2025-10-31T22:00:00Z", 4*time.Hour), 500, 0, loggen.StandardFields)
	rt := realtimeEvents(t, gen(2, "2025-11-01T01:00:00Z", time.Hour), 100, 500)
	entries := writeBatch(t, w, "load-42", append(events, rt...))

	name := lake.BatchFileName("load-42")
	if !regexp.MustCompile(`^b-[0-9a-f]{32}\.parquet$`).MatchString(name) || name == lake.BatchFileName("load-43") {
		t.Fatalf("batch file name %s", name)
	}
	want := []string{
		"cloudfront_logs/year=2025/month=10/day=31/" + name,
		"cloudfront_logs/year=2025/month=11/day=01/" + name,
		"cloudfront_real_time_logs/year=2025/month=11/day=01/" + name,
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Path)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paths\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	listed, err := root.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(listed, want) {
		t.Errorf("the lake holds\n%s\nwant only\n%s", strings.Join(listed, "\n"), strings.Join(want, "\n"))
	}

	for _, e := range entries {
		var evs []testEvent
		for _, te := range append(events, rt...) {
			day := time.UnixMicro(te.ev.Time).UTC().Truncate(24 * time.Hour)
			tb, _ := lake.TableOf(te.ev.Source)
			if tb.Name == e.Table && day.Equal(e.Date) {
				evs = append(evs, te)
			}
		}
		minT, maxT := time.UnixMicro(evs[0].ev.Time), time.UnixMicro(evs[0].ev.Time)
		for _, te := range evs {
			at := time.UnixMicro(te.ev.Time)
			if at.Before(minT) {
				minT = at
			}
			if at.After(maxT) {
				maxT = at
			}
		}
		b, err := os.ReadFile(root.Location(e.Path))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if e.Rows != int64(len(evs)) || e.Bytes != int64(len(b)) || e.Checksum != hex.EncodeToString(sum[:]) ||
			!e.MinTime.Equal(minT) || !e.MaxTime.Equal(maxT) || e.MinTime.Location() != time.UTC {
			t.Errorf("entry %+v, want %d rows, %d bytes, checksum %x, times %v to %v", e, len(evs), len(b), sum, minT, maxT)
		}
		f, err := parquet.OpenFile(strings.NewReader(string(b)), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		if f.NumRows() != e.Rows {
			t.Errorf("%s holds %d rows, its entry says %d", e.Path, f.NumRows(), e.Rows)
		}
		if v, ok := f.Lookup("keymeter.batch"); !ok || v != "load-42" {
			t.Errorf("%s: batch key %q in its metadata", e.Path, v)
		}
	}
}

// TestRetry checks that a batch written again under its key replaces
// the files of the attempt before, whether that attempt finished (and
// was never listed) or died half-way.
func TestRetry(t *testing.T) {
	root, w := newLake(t, lake.Options{})
	g := gen(3, "2025-10-01T00:00:00Z", time.Hour)
	first := writeBatch(t, w, "load-7", standardEvents(t, g, 300, 0, loggen.StandardFields))

	// An attempt that dies after writing part of its file: a process
	// killed between Add and Finish leaves only a temporary file.
	b, err := w.Begin(ctx, "load-7", loadedAt)
	if err != nil {
		t.Fatal(err)
	}
	for _, te := range standardEvents(t, g, 5000, 0, loggen.StandardFields) {
		if err := b.Add(te.ev, &te.facts); err != nil {
			t.Fatal(err)
		}
	}
	listed, _ := root.List(ctx, "")
	tmp := filepath.Dir(first[0].Path) + "/." + filepath.Base(first[0].Path) + ".tmp"
	if !slices.Equal(listed, []string{tmp, first[0].Path}) {
		t.Fatalf("while writing, the lake holds %v, want the first file and %s", listed, tmp)
	}
	again := standardEvents(t, g, 200, 0, loggen.StandardFields)
	second := writeBatch(t, w, "load-7", again)
	if len(second) != 1 || second[0].Path != first[0].Path || second[0].Rows != 200 || second[0].Checksum == first[0].Checksum {
		t.Fatalf("retry wrote %+v, first attempt %+v", second, first)
	}
	if listed, _ := root.List(ctx, ""); !slices.Equal(listed, []string{first[0].Path}) {
		t.Errorf("after the retry the lake holds %v", listed)
	}
	checkTable(t, root, lake.CloudFrontLogs, second, again)
}

// TestNoPartialFile checks that nothing is visible at a file's path until
// the batch finishes, and that an aborted batch leaves nothing.
func TestNoPartialFile(t *testing.T) {
	root, w := newLake(t, lake.Options{})
	b, err := w.Begin(ctx, "load-9", loadedAt)
	if err != nil {
		t.Fatal(err)
	}
	for _, te := range standardEvents(t, gen(4, "2025-10-01T00:00:00Z", time.Hour), 3000, 0, loggen.StandardFields) {
		if err := b.Add(te.ev, &te.facts); err != nil {
			t.Fatal(err)
		}
	}
	final := "cloudfront_logs/year=2025/month=10/day=01/" + lake.BatchFileName("load-9")
	if _, err := os.Stat(root.Location(final)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%s is visible before the batch finished: %v", final, err)
	}
	if err := b.Abort(); err != nil {
		t.Fatal(err)
	}
	if listed, _ := root.List(ctx, ""); len(listed) != 0 {
		t.Errorf("an aborted batch left %v", listed)
	}
	if _, err := b.Finish(ctx); err == nil {
		t.Error("an aborted batch finished")
	}
}

func TestEmptyBatch(t *testing.T) {
	_, w := newLake(t, lake.Options{})
	entries := writeBatch(t, w, "load-0", nil)
	if len(entries) != 0 {
		t.Errorf("an empty batch wrote %v", entries)
	}
	if _, err := w.Begin(ctx, "", loadedAt); keymeter.ErrorCode(err) != keymeter.EINVALID {
		t.Errorf("empty batch key: %v", err)
	}
	b, _ := w.Begin(ctx, "load-1", loadedAt)
	ev := keymeter.Event{Source: keymeter.SourceUnknown}
	if err := b.Add(&ev, &lake.Facts{}); keymeter.ErrorCode(err) != keymeter.EINVALID || !strings.Contains(err.Error(), "source unknown") {
		t.Errorf("event of an unknown source: %v", err)
	}
}

func TestOptions(t *testing.T) {
	err := lake.Options{RowGroupRows: 1000, Compression: "gzip"}.Validate()
	if keymeter.ErrorCode(err) != keymeter.EINVALID || !strings.Contains(err.Error(), "row group size 1000") || !strings.Contains(err.Error(), `compression "gzip"`) {
		t.Errorf("bad options: %v, want both problems", err)
	}
	for _, o := range []lake.Options{{}, {RowGroupRows: lake.MinRowGroupRows}, {RowGroupRows: lake.MaxRowGroupRows, Compression: "snappy"}} {
		if err := o.Validate(); err != nil {
			t.Errorf("%+v: %v", o, err)
		}
	}
	if err := (lake.Options{RowGroupRows: lake.MaxRowGroupRows + 1}).Validate(); err == nil {
		t.Error("a row group of more than 1 M rows was accepted")
	}
}

func TestLocalPaths(t *testing.T) {
	root, err := lake.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"", ".", "/etc/passwd", "../x", "a/../../x", `a\b`, "a//b", "a/./b"} {
		if _, err := root.Create(ctx, p); keymeter.ErrorCode(err) != keymeter.EINVALID {
			t.Errorf("Create(%q): %v", p, err)
		}
		if _, err := root.Open(ctx, p); keymeter.ErrorCode(err) != keymeter.EINVALID {
			t.Errorf("Open(%q): %v", p, err)
		}
	}
	if err := root.Remove(ctx, "t/never/written.parquet"); err != nil {
		t.Errorf("removing a missing file: %v", err)
	}
	if _, err := root.Open(ctx, "t/never/written.parquet"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("opening a missing file: %v", err)
	}
	p, err := root.Create(ctx, "t/a.parquet")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(p, "hello")
	if err := p.Commit(); err != nil {
		t.Fatal(err)
	}
	f, err := root.Open(ctx, "t/a.parquet")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := f.ReadAt(buf, 0); err != nil || string(buf) != "hello" || f.Size() != 5 {
		t.Errorf("read back %q, size %d: %v", buf, f.Size(), err)
	}
	f.Close()
	if err := root.Remove(ctx, "t/a.parquet"); err != nil {
		t.Fatal(err)
	}
	if listed, _ := root.List(ctx, "t"); len(listed) != 0 {
		t.Errorf("after Remove: %v", listed)
	}
}

// TestFileFormat checks what Athena and Trino need of the files, read
// back by DuckDB (an independent reader) and from the footer: DataPage
// v1, zstd or snappy, dictionaries for repeated strings and plain
// encoding otherwise, INT64 timestamps adjusted to UTC, and row groups of
// the configured size.
func TestFileFormat(t *testing.T) {
	for _, tc := range []struct {
		codec      string
		rows       int
		wantGroups string
	}{
		{"zstd", 2*lake.MinRowGroupRows + 1000, fmt.Sprintf("[[0 %d] [1 %d] [2 1000]]", lake.MinRowGroupRows, lake.MinRowGroupRows)},
		{"snappy", 1000, "[[0 1000]]"},
	} {
		codec := tc.codec
		t.Run(codec, func(t *testing.T) {
			root, w := newLake(t, lake.Options{RowGroupRows: lake.MinRowGroupRows, Compression: codec})
			b, err := w.Begin(ctx, "load-5", loadedAt)
			if err != nil {
				t.Fatal(err)
			}
			addGenerated(t, b, gen(5, "2025-10-01T00:00:00Z", time.Hour), tc.rows)
			entries, err := b.Finish(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 {
				t.Fatalf("%d files", len(entries))
			}
			file := root.Location(entries[0].Path)
			db := openDuckDB(t)

			groups := query(t, db, "SELECT DISTINCT row_group_id, row_group_num_rows FROM parquet_metadata(?) ORDER BY 1", file)
			if fmt.Sprint(groups.rows) != tc.wantGroups {
				t.Errorf("row groups (id, rows): %v, want %s", groups.rows, tc.wantGroups)
			}
			chunks := query(t, db, "SELECT path_in_schema, compression, encodings FROM parquet_metadata(?) WHERE row_group_id = 0", file)
			for i, row := range chunks.rows {
				c := lake.CloudFrontLogs.Columns[i]
				if row[0] != c.Name || row[1] != strings.ToUpper(codec) {
					t.Errorf("column chunk %v, want %s with %s", row, c.Name, codec)
				}
				enc := row[2].(string)
				switch {
				case c.Dict && !strings.Contains(enc, "RLE_DICTIONARY"):
					t.Errorf("%s is not dictionary-encoded: %s", c.Name, enc)
				case !c.Dict && strings.Contains(enc, "DICTIONARY"):
					t.Errorf("%s is dictionary-encoded: %s", c.Name, enc)
				}
				for _, e := range strings.Split(enc, ", ") {
					if e != "PLAIN" && e != "RLE" && e != "RLE_DICTIONARY" {
						t.Errorf("%s uses encoding %s", c.Name, e)
					}
				}
			}
			schema := query(t, db, "SELECT name, type, logical_type FROM parquet_schema(?) WHERE name = 'loaded_at'", file)
			if lt := fmt.Sprint(schema.rows); !strings.Contains(lt, "INT64") || !strings.Contains(lt, "isAdjustedToUTC=1") || !strings.Contains(lt, "MICROS=MicroSeconds()") {
				t.Errorf("loaded_at is %s, want INT64 TIMESTAMP(MICROS, isAdjustedToUTC)", lt)
			}

			// Page types, from the footer's encoding statistics.
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			f, err := parquet.OpenFile(strings.NewReader(string(data)), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			for _, rg := range f.Metadata().RowGroups {
				for _, cc := range rg.Columns {
					if len(cc.MetaData.EncodingStats) == 0 {
						t.Fatalf("%v: no encoding statistics", cc.MetaData.PathInSchema)
					}
					for _, s := range cc.MetaData.EncodingStats {
						if s.PageType != format.DataPage && s.PageType != format.DictionaryPage {
							t.Errorf("%v has a page of type %v", cc.MetaData.PathInSchema, s.PageType)
						}
					}
				}
			}
		})
	}
}

// TestConcurrentBatches writes batches from several goroutines through
// one Writer.
func TestConcurrentBatches(t *testing.T) {
	root, w := newLake(t, lake.Options{})
	errs := make(chan error, 4)
	entries := make([][]lake.Entry, 4)
	for i := range 4 {
		go func() {
			var err error
			defer func() { errs <- err }() // also when addGenerated fails the test
			var b *lake.Batch
			if b, err = w.Begin(ctx, fmt.Sprintf("load-%d", i), loadedAt); err == nil {
				addGenerated(t, b, gen(uint64(30+i), "2025-10-01T00:00:00Z", 48*time.Hour), 3000)
				entries[i], err = b.Finish(ctx)
			}
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	var all []lake.Entry
	for _, es := range entries {
		all = append(all, es...)
	}
	files, _ := lake.EntryFiles(lake.CloudFrontLogs, root, all)
	res := query(t, openDuckDB(t), "SELECT count(*), count(DISTINCT x_edge_request_id) FROM ("+lake.ReadSQL(lake.CloudFrontLogs, files)+")")
	if fmt.Sprint(res.rows) != "[[12000 12000]]" || len(all) != 8 {
		t.Errorf("%d files hold %v rows (count, distinct IDs), want 12000", len(all), res.rows)
	}
}
