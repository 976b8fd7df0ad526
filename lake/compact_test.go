package lake_test

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/lake"
)

// entry returns the entry of a file that is not written: planning reads
// only entries.
func entry(table, date, name string, bytes int64, minute int) lake.Entry {
	d, _ := time.Parse(time.DateOnly, date)
	return lake.Entry{
		Table: table, Date: d, Bytes: bytes, Rows: bytes / 100,
		Path:    fmt.Sprintf("%s/year=%s/month=%s/day=%s/%s", table, date[:4], date[5:7], date[8:], name),
		MinTime: d.Add(time.Duration(minute) * time.Minute), MaxTime: d.Add(time.Duration(minute+10) * time.Minute),
	}
}

func TestPlanCompaction(t *testing.T) {
	const mb = 1 << 20
	cf, rt := "cloudfront_logs", "cloudfront_real_time_logs"
	entries := []lake.Entry{
		entry(cf, "2025-10-01", "b-5.parquet", 10*mb, 50),
		entry(cf, "2025-10-01", "b-1.parquet", 10*mb, 10),
		entry(cf, "2025-10-01", "big.parquet", 300*mb, 0), // not small: left alone
		entry(cf, "2025-10-01", "b-3.parquet", 30*mb, 30),
		entry(cf, "2025-10-01", "b-2.parquet", 20*mb, 20),
		entry(cf, "2025-10-01", "b-4.parquet", 30*mb, 40),
		entry(cf, "2025-10-02", "b-9.parquet", 5*mb, 0), // alone in its day: nothing to merge with
		entry(rt, "2025-10-01", "b-7.parquet", 1*mb, 5),
		entry(rt, "2025-10-01", "b-6.parquet", 1*mb, 1),
	}
	merges, err := lake.PlanCompaction(entries, lake.CompactOptions{SmallBytes: 64 * mb, TargetBytes: 70 * mb})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range merges {
		var names []string
		for _, e := range m.Inputs {
			names = append(names, e.Path[strings.LastIndex(e.Path, "/")+1:])
		}
		got = append(got, m.Table+" "+m.Date.Format(time.DateOnly)+": "+strings.Join(names, " "))
	}
	want := []string{
		"cloudfront_logs 2025-10-01: b-1.parquet b-2.parquet b-3.parquet", // 60 MB; with b-4 it would be 90
		"cloudfront_logs 2025-10-01: b-4.parquet b-5.parquet",
		"cloudfront_real_time_logs 2025-10-01: b-6.parquet b-7.parquet",
	}
	if !slices.Equal(got, want) {
		t.Errorf("merges\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	for name, bad := range map[string][]lake.Entry{
		"twice":         {entries[0], entries[0]},
		"wrong day":     {func() lake.Entry { e := entries[0]; e.Date = e.Date.Add(24 * time.Hour); return e }()},
		"wrong table":   {func() lake.Entry { e := entries[0]; e.Table = rt; return e }()},
		"unknown table": {func() lake.Entry { e := entries[0]; e.Table = "logs"; return e }()},
	} {
		if _, err := lake.PlanCompaction(bad, lake.CompactOptions{}); keymeter.ErrorCode(err) != keymeter.EINVALID {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestMerge merges the small files of a day and checks that the merged
// file holds exactly their rows, in row groups of the configured size.
func TestMerge(t *testing.T) {
	root, w := newLake(t, lake.Options{RowGroupRows: lake.MinRowGroupRows})
	var entries []lake.Entry
	for i := range 5 {
		b, err := w.Begin(ctx, fmt.Sprintf("load-%d", i), loadedAt.Add(time.Duration(i)*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		addGenerated(t, b, gen(uint64(10+i), fmt.Sprintf("2025-10-01T%02d:00:00Z", 2*i), time.Hour), 30_000)
		es, err := b.Finish(ctx)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, es...)
	}
	merges, err := lake.PlanCompaction(entries, lake.CompactOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(merges) != 1 || len(merges[0].Inputs) != 5 {
		t.Fatalf("merges: %+v", merges)
	}
	merged, err := w.Merge(ctx, merges[0])
	if err != nil {
		t.Fatal(err)
	}
	if merged.Rows != 150_000 || !merged.MinTime.Equal(entries[0].MinTime) || !merged.MaxTime.Equal(entries[4].MaxTime) ||
		merged.Path != "cloudfront_logs/year=2025/month=10/day=01/"+lake.MergedFileName(merges[0].Inputs) {
		t.Errorf("merged entry %+v", merged)
	}
	data, err := os.ReadFile(root.Location(merged.Path))
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(data)) != merged.Bytes {
		t.Errorf("merged file has %d bytes, its entry %d", len(data), merged.Bytes)
	}

	// The same rows, column by column, and row groups of at most the
	// writer's size.
	db := openDuckDB(t)
	oldFiles, _ := lake.EntryFiles(lake.CloudFrontLogs, root, entries)
	newFiles, _ := lake.EntryFiles(lake.CloudFrontLogs, root, []lake.Entry{merged})
	sum := func(files []string) string {
		// An order-free digest of the rows: their number and the sum of
		// their hashes.
		return fmt.Sprint(query(t, db, "SELECT count(*), sum(hash(r)) FROM ("+lake.ReadSQL(lake.CloudFrontLogs, files)+") r").rows)
	}
	if before, after := sum(oldFiles), sum(newFiles); before != after {
		t.Errorf("the inputs hold %s (rows, hash), the merged file %s", before, after)
	}
	groups := query(t, db, "SELECT DISTINCT row_group_id, row_group_num_rows FROM parquet_metadata(?) ORDER BY 1", root.Location(merged.Path))
	if fmt.Sprint(groups.rows) != fmt.Sprintf("[[0 %d] [1 %d]]", lake.MinRowGroupRows, 150_000-lake.MinRowGroupRows) {
		t.Errorf("row groups of the merged file: %v", groups.rows)
	}

	// The inputs are still there: deleting them is the store's job.
	for _, e := range entries {
		if _, err := os.Stat(root.Location(e.Path)); err != nil {
			t.Errorf("input %s: %v", e.Path, err)
		}
	}
	// Merging again replaces the file with the same one.
	again, err := w.Merge(ctx, merges[0])
	if err != nil || again != merged {
		t.Errorf("merge again: %+v, %v", again, err)
	}
}

// TestMergeChangedInput checks that an input that is not what its entry
// says fails the merge and leaves no file.
func TestMergeChangedInput(t *testing.T) {
	root, w := newLake(t, lake.Options{})
	var entries []lake.Entry
	for i := range 3 {
		b, _ := w.Begin(ctx, fmt.Sprintf("load-%d", i), loadedAt)
		addGenerated(t, b, gen(uint64(20+i), "2025-10-01T00:00:00Z", time.Hour), 200)
		es, err := b.Finish(ctx)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, es...)
	}
	m := lake.Merge{Table: entries[0].Table, Date: entries[0].Date, Inputs: entries}
	for name, change := range map[string]func(e *lake.Entry){
		"checksum": func(e *lake.Entry) { e.Checksum = strings.Repeat("0", 64) },
		"size":     func(e *lake.Entry) { e.Bytes++ },
		"rows":     func(e *lake.Entry) { e.Rows++ },
	} {
		bad := m
		bad.Inputs = slices.Clone(entries)
		change(&bad.Inputs[1])
		if _, err := w.Merge(ctx, bad); keymeter.ErrorCode(err) != keymeter.ECONFLICT || !strings.Contains(err.Error(), entries[1].Path) {
			t.Errorf("%s changed: %v", name, err)
		}
	}
	if _, err := w.Merge(ctx, lake.Merge{Table: m.Table, Date: m.Date, Inputs: entries[:1]}); keymeter.ErrorCode(err) != keymeter.EINVALID {
		t.Errorf("merge of one file: %v", err)
	}
	listed, _ := root.List(ctx, "")
	if len(listed) != 3 {
		t.Errorf("failed merges left files: %v", listed)
	}
}
