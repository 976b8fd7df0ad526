package duckdb_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/format/cloudfront"
	"github.com/keymeter/keymeter/internal/loggen"
	"github.com/keymeter/keymeter/lake"
	"github.com/keymeter/keymeter/store/duckdb"
)

// lakeStore is a store and its lake in one test directory.
type lakeStore struct {
	dir  string
	root *lake.Local
	lw   *lake.Writer
	// now is the store's clock: the real time, to compare with the
	// files' times, unless a test moves it on.
	now time.Time
}

func newLakeStore(t testing.TB, dir string) *lakeStore {
	t.Helper()
	root, err := lake.NewLocal(filepath.Join(dir, "lake"))
	if err != nil {
		t.Fatal(err)
	}
	lw, err := lake.NewWriter(root, lake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &lakeStore{dir: dir, root: root, lw: lw, now: time.Now().UTC()}
}

func (ls *lakeStore) open(t testing.TB, sandbox bool) *duckdb.DB {
	t.Helper()
	opts := duckdb.Options{Lake: ls.root, Now: func() time.Time { return ls.now }}
	if sandbox {
		opts.Sandbox, opts.AllowedDirs = true, []string{ls.root.Dir()}
	}
	db, err := duckdb.Open(ctx, filepath.Join(ls.dir, "keymeter.duckdb"), opts)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// writeFiles writes n generated standard-log events of the days from
// start on into the lake as one batch with key, and returns the files'
// entries. Nothing lists them yet.
func (ls *lakeStore) writeFiles(t testing.TB, key string, start time.Time, span time.Duration, n int) []lake.Entry {
	t.Helper()
	g := loggen.New(loggen.Config{Seed: uint64(len(key)) + uint64(start.Unix()), Start: start, Span: span, Customers: 2, KeysPerCustomer: 2, NoKeyPercent: 10})
	var p cloudfront.Parser
	var ev keymeter.Event
	for _, l := range strings.Split(strings.TrimSuffix(loggen.Header(loggen.StandardFields), "\n"), "\n") {
		if _, err := p.Parse([]byte(l), &ev); err != nil {
			t.Fatal(err)
		}
	}
	b, err := ls.lw.Begin(ctx, key, ls.now)
	if err != nil {
		t.Fatal(err)
	}
	var r loggen.Record
	for range n {
		g.Next(&r)
		r.Query = "-" // no key reaches the lake: none is in these events
		line := r.AppendLine(nil, loggen.StandardFields)
		if ok, err := p.Parse(line[:len(line)-1], &ev); !ok || err != nil {
			t.Fatal(ok, err)
		}
		f := lake.Facts{Object: "s3://logs/" + key, Attribution: keymeter.NoKey}
		if err := b.Add(&ev, &f); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := b.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

// list lists entries through a writer, and commits unless abandon.
func list(t testing.TB, db *duckdb.DB, entries []lake.Entry, abandon bool) error {
	t.Helper()
	w, err := db.NewWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.(duckdb.LakeLister).ListLakeFiles(ctx, entries); err != nil {
		t.Fatal(err)
	}
	if abandon {
		return nil
	}
	return w.Commit(ctx)
}

// lakeCount runs a count over lake_cloudfront_logs in keymeter sql's
// sandbox.
func (ls *lakeStore) lakeCount(t testing.TB, where string) string {
	t.Helper()
	db := ls.open(t, true)
	defer db.Close()
	res, err := db.QuerySQL(ctx, "SELECT count(*) FROM lake_cloudfront_logs "+where)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(res.Rows)
}

// TestLakeManifest: files are read only once a commit lists them, a file
// is listed once, and keymeter sql reads them, pruning partitions.
func TestLakeManifest(t *testing.T) {
	ls := newLakeStore(t, t.TempDir())
	db := ls.open(t, false)
	entries := ls.writeFiles(t, "load-1", time.Date(2025, 10, 30, 12, 0, 0, 0, time.UTC), 48*time.Hour, 3000)
	if len(entries) != 3 {
		t.Fatalf("%d files, want 3 (October 30 to November 1)", len(entries))
	}
	// Abandoned: nothing listed, nothing read.
	if err := list(t, db, entries, true); err != nil {
		t.Fatal(err)
	}
	if got, err := db.LakeFiles(ctx, ""); err != nil || len(got) != 0 {
		t.Fatalf("manifest after a rollback: %v, %v", got, err)
	}
	db.Close()
	if got := ls.lakeCount(t, ""); got != "[[0]]" {
		t.Errorf("unlisted files are read: %s", got)
	}
	db = ls.open(t, false)
	if err := list(t, db, entries, false); err != nil {
		t.Fatal(err)
	}
	got, err := db.LakeFiles(ctx, "cloudfront_logs")
	if err != nil || fmt.Sprint(got) != fmt.Sprint(entries) {
		t.Fatalf("manifest %v (%v), want %v", got, err, entries)
	}
	// A file is listed once.
	if err := list(t, db, entries[:1], false); keymeter.ErrorCode(err) != keymeter.ECONFLICT {
		t.Errorf("listing a file again: %v, want a conflict", err)
	}
	db.Close()
	if got := ls.lakeCount(t, ""); got != "[[3000]]" {
		t.Errorf("lake rows %s, want 3000", got)
	}
	var oct int64
	for _, e := range entries {
		if e.Date.Month() == time.October {
			oct += e.Rows
		}
	}
	if got := ls.lakeCount(t, "WHERE year = '2025' AND month = '10'"); got != fmt.Sprintf("[[%d]]", oct) {
		t.Errorf("October's rows %s, want %d", got, oct)
	}
	// Partition pruning: with October 31's file spoilt, a query of
	// November's rows reads none of October's files, and succeeds.
	if err := os.WriteFile(ls.root.Location(entries[1].Path), []byte("not parquet"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := ls.lakeCount(t, "WHERE year = '2025' AND month = '11'"); got != fmt.Sprintf("[[%d]]", 3000-oct) {
		t.Errorf("November's rows %s, want %d", got, 3000-oct)
	}
	db = ls.open(t, true)
	defer db.Close()
	if _, err := db.QuerySQL(ctx, "SELECT count(*) FROM lake_cloudfront_logs WHERE day = '31'"); err == nil {
		t.Error("a query of October 31's rows does not read its file")
	}
}

// TestLakeCompact merges the small files of closed days by swapping
// manifest rows, and deletes the replaced files only after the delay.
func TestLakeCompact(t *testing.T) {
	ls := newLakeStore(t, t.TempDir())
	db := ls.open(t, false)
	defer db.Close()
	day := time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC)
	var inputs []lake.Entry
	for i := range 4 {
		e := ls.writeFiles(t, fmt.Sprintf("load-%d", i), day.Add(time.Duration(i)*time.Hour), time.Hour, 500)
		if err := list(t, db, e, false); err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, e...)
	}
	// A day still open (November 3) is left alone.
	open := ls.writeFiles(t, "load-open", time.Date(2025, 11, 3, 0, 0, 0, 0, time.UTC), time.Hour, 100)
	open = append(open, ls.writeFiles(t, "load-open-2", time.Date(2025, 11, 3, 1, 0, 0, 0, time.UTC), time.Hour, 100)...)
	if err := list(t, db, open, false); err != nil {
		t.Fatal(err)
	}
	// A batch that crashed before its commit.
	orphan := ls.writeFiles(t, "load-crashed", day, time.Hour, 10)
	res, err := db.CompactLake(ctx, ls.lw, time.Date(2025, 11, 3, 0, 0, 0, 0, time.UTC), lake.CompactOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res != (duckdb.LakeCompaction{Merges: 1, Inputs: 4, Rows: 2000}) {
		t.Errorf("compaction %+v, want 4 files of 500 rows into 1", res)
	}
	got, err := db.LakeFiles(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Rows != 2000 || !strings.Contains(got[0].Path, "/c-") {
		t.Fatalf("manifest after compaction: %+v", got)
	}
	db.Close()
	if c := ls.lakeCount(t, ""); c != "[[2200]]" {
		t.Errorf("rows after compaction %s, want 2200", c)
	}
	db = ls.open(t, false)
	// Within the delay, the replaced files stay for readers that listed
	// them before the swap; so does the orphan, which may be about to be
	// listed.
	clean, err := db.CleanLake(ctx, ls.root, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if clean != (duckdb.LakeCleanup{}) {
		t.Errorf("cleanup within the delay: %+v, want nothing", clean)
	}
	for _, e := range append(inputs, orphan...) {
		if _, err := os.Stat(ls.root.Location(e.Path)); err != nil {
			t.Errorf("%s is gone within the delay: %v", e.Path, err)
		}
	}
	// Past it, both go (the orphan's age is its file's, so age it).
	ls.now = ls.now.Add(2 * time.Hour)
	for _, e := range orphan {
		old := time.Now().Add(-3 * time.Hour)
		if err := os.Chtimes(ls.root.Location(e.Path), old, old); err != nil {
			t.Fatal(err)
		}
	}
	clean, err = db.CleanLake(ctx, ls.root, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if clean != (duckdb.LakeCleanup{Replaced: 4, Unlisted: 1}) {
		t.Errorf("cleanup past the delay: %+v, want the 4 replaced files and the orphan", clean)
	}
	for _, e := range append(inputs, orphan...) {
		if _, err := os.Stat(ls.root.Location(e.Path)); !os.IsNotExist(err) {
			t.Errorf("%s is still there: %v", e.Path, err)
		}
	}
	db.Close()
	if c := ls.lakeCount(t, ""); c != "[[2200]]" {
		t.Errorf("rows after the cleanup %s, want 2200", c)
	}
}

// TestLakeCrash kills a writer (SIGKILL) between writing its files and
// the commit that lists them: nothing is read, nothing is lost from what
// was committed, and the files are cleaned up later. Then a writer killed
// right after its commit: its files are read once.
func TestLakeCrash(t *testing.T) {
	if dir := os.Getenv("KEYMETER_LAKE_CRASH_DIR"); dir != "" {
		lakeCrashChild(t, dir, os.Getenv("KEYMETER_LAKE_CRASH_AT"))
		return
	}
	dir := t.TempDir()
	run := func(at string) {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run=^TestLakeCrash$", "-test.count=1")
		cmd.Env = append(os.Environ(), "KEYMETER_LAKE_CRASH_DIR="+dir, "KEYMETER_LAKE_CRASH_AT="+at)
		out, err := cmd.CombinedOutput()
		ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("the child was not killed (%v):\n%s", err, out)
		}
	}
	ls := newLakeStore(t, dir)
	run("before-commit")
	db := ls.open(t, false)
	if got, _ := db.LakeFiles(ctx, ""); len(got) != 0 {
		t.Errorf("files listed after a crash before the commit: %v", got)
	}
	written, _ := ls.root.List(ctx, "")
	if len(written) != 2 {
		t.Fatalf("the child left %v, want its 2 files", written)
	}
	db.Close()
	if c := ls.lakeCount(t, ""); c != "[[0]]" {
		t.Errorf("rows read after a crash before the commit: %s", c)
	}
	run("after-commit")
	if c := ls.lakeCount(t, ""); c != "[[1500]]" {
		t.Errorf("rows after a crash after the commit: %s, want 1500", c)
	}
	db = ls.open(t, false)
	defer db.Close()
	// The first child's files are cleaned up once old enough; the second
	// child's are listed and stay.
	for _, p := range written {
		old := time.Now().Add(-2 * time.Hour)
		os.Chtimes(ls.root.Location(p), old, old)
	}
	clean, err := db.CleanLake(ctx, ls.root, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if clean.Unlisted != 2 {
		t.Errorf("cleanup: %+v, want the 2 unlisted files", clean)
	}
	listed, _ := db.LakeFiles(ctx, "")
	left, _ := ls.root.List(ctx, "")
	if len(listed) != 1 || len(left) != 1 || left[0] != listed[0].Path {
		t.Errorf("left %v, listed %v: want only the listed file", left, listed)
	}
}

func lakeCrashChild(t *testing.T, dir, at string) {
	ls := newLakeStore(t, dir)
	db := ls.open(t, false)
	var entries []lake.Entry
	if at == "before-commit" {
		entries = ls.writeFiles(t, "crashed", time.Date(2025, 10, 1, 23, 0, 0, 0, time.UTC), 2*time.Hour, 1000)
	} else {
		entries = ls.writeFiles(t, "committed", time.Date(2025, 10, 5, 10, 0, 0, 0, time.UTC), time.Hour, 1500)
	}
	w, err := db.NewWriter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.(duckdb.LakeLister).ListLakeFiles(ctx, entries); err != nil {
		t.Fatal(err)
	}
	if at == "after-commit" {
		if err := w.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}
