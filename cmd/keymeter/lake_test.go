package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/format/cloudfront"
	"github.com/keymeter/keymeter/internal/loggen"
	"github.com/keymeter/keymeter/lake"
	"github.com/keymeter/keymeter/store/duckdb"
)

// TestLakeDDL pins what keymeter lake ddl prints (testdata/lake/ddl.golden;
// -update-cli rewrites it), and checks that the location comes from the
// flag or else from the config's lake setting, and is checked.
func TestLakeDDL(t *testing.T) {
	c := newCLI(t)
	r := c.run("lake", "ddl", "--location", "s3://amzn-s3-demo-bucket/keymeter/lake")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	path := filepath.Join("testdata", "lake", "ddl.golden")
	if *updateCLI {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(r.stdout), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestLakeDDL -update-cli)", err)
	}
	if r.stdout != string(want) {
		t.Errorf("keymeter lake ddl: output differs from %s:\n%s", path, diffLines(string(want), r.stdout))
	}
	for _, table := range []string{"cloudfront_logs", "cloudfront_real_time_logs", "apigateway_logs"} {
		if !strings.Contains(r.stdout, "CREATE EXTERNAL TABLE "+table+" (") {
			t.Errorf("no table %s", table)
		}
	}

	// Without --location, the config's lake setting, if it is on S3.
	if r := c.run("lake", "ddl"); r.code != exitUsage || !strings.Contains(r.stderr, "--location") {
		t.Errorf("lake ddl without a location: exit %d, %q", r.code, r.stderr)
	}
	writeFile(t, filepath.Join(c.data, "keymeter.yaml"), "lake: s3://amzn-s3-demo-bucket/keymeter/lake/\n")
	if r := c.run("lake", "ddl"); r.code != 0 || r.stdout != string(want) {
		t.Errorf("lake ddl with the config's lake: exit %d, %s", r.code, r.stderr)
	}
	writeFile(t, filepath.Join(c.data, "keymeter.yaml"), "lake: s3://b/it's\n")
	if r := c.run("lake", "ddl"); r.code != exitUsage || !strings.Contains(r.stderr, "lake:") {
		t.Errorf("lake ddl with a bad lake setting: exit %d, %q", r.code, r.stderr)
	}
	if r := c.run("lake", "ddl", "--location", "/srv/lake"); r.code != exitUsage {
		t.Errorf("lake ddl --location /srv/lake: exit %d, want %d", r.code, exitUsage)
	}
}

// TestLakeCompactCommand lists small files of a closed day in the
// store's manifest (as a writer does in the transaction of their
// events), then compacts them with keymeter lake compact: keymeter sql
// reads the same rows from the merged file, and the replaced files go
// once the delay has passed.
func TestLakeCompactCommand(t *testing.T) {
	c := newCLI(t)
	c.now = func() time.Time { return time.Date(2025, 10, 5, 12, 0, 0, 0, time.UTC) }
	writeFile(t, filepath.Join(c.data, "keymeter.yaml"), "lake: lake\n")
	c.ok("ingest", "../../testdata/sample/logs")

	root, err := lake.NewLocal(filepath.Join(c.data, "lake"))
	if err != nil {
		t.Fatal(err)
	}
	lw, err := lake.NewWriter(root, lake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var p cloudfront.Parser
	var ev keymeter.Event
	for _, l := range strings.Split(strings.TrimSuffix(loggen.Header(loggen.StandardFields), "\n"), "\n") {
		if _, err := p.Parse([]byte(l), &ev); err != nil {
			t.Fatal(err)
		}
	}
	var entries []lake.Entry
	for i := range 3 {
		g := loggen.New(loggen.Config{Seed: uint64(i + 1), Start: time.Date(2025, 10, 1, i, 0, 0, 0, time.UTC), Span: time.Hour, Customers: 1, KeysPerCustomer: 1})
		b, err := lw.Begin(context.Background(), fmt.Sprintf("load-%d", i), c.now())
		if err != nil {
			t.Fatal(err)
		}
		var r loggen.Record
		for range 100 {
			g.Next(&r)
			r.Query = "-"
			line := r.AppendLine(nil, loggen.StandardFields)
			if ok, err := p.Parse(line[:len(line)-1], &ev); !ok || err != nil {
				t.Fatal(ok, err)
			}
			if err := b.Add(&ev, &lake.Facts{Object: "test", Attribution: keymeter.NoKey}); err != nil {
				t.Fatal(err)
			}
		}
		e, err := b.Finish(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, e...)
	}
	db, err := duckdb.Open(context.Background(), filepath.Join(c.data, "keymeter.duckdb"), duckdb.Options{Lake: root})
	if err != nil {
		t.Fatal(err)
	}
	w, err := db.NewWriter(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.(duckdb.LakeLister).ListLakeFiles(context.Background(), entries); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	w.Close()
	db.Close()

	count := "SELECT count(*) AS n, count(DISTINCT x_edge_request_id) AS ids FROM lake_cloudfront_logs WHERE year = '2025' AND month = '10' AND day = '01'"
	before := c.ok("sql", "--format", "csv", count)
	if before != "n,ids\n300,300\n" {
		t.Fatalf("lake rows before compaction:\n%s", before)
	}
	out := c.ok("lake", "compact")
	if want := "merged 3 files into 1 (300 rows) of the days before 2025-10-04\ndeleted 0 replaced files and 0 unlisted files\n"; out != want {
		t.Errorf("lake compact:\n%s\nwant:\n%s", out, want)
	}
	if got := c.ok("sql", "--format", "csv", count); got != before {
		t.Errorf("lake rows after compaction:\n%s", got)
	}
	for _, e := range entries {
		if _, err := os.Stat(root.Location(e.Path)); err != nil {
			t.Errorf("a replaced file is gone within the delay: %v", err)
		}
	}
	c.now = func() time.Time { return time.Date(2025, 10, 5, 14, 0, 0, 0, time.UTC) }
	if out := c.ok("lake", "compact"); !strings.Contains(out, "deleted 3 replaced files and 0 unlisted files") {
		t.Errorf("lake compact past the delay:\n%s", out)
	}
	if got := c.ok("sql", "--format", "csv", count); got != before {
		t.Errorf("lake rows after the cleanup:\n%s", got)
	}
	// The sandbox reads the lake's files, and no other.
	if r := c.run("sql", "SELECT count(*) FROM read_parquet('"+filepath.Join(c.data, "..", "*.parquet")+"')"); r.code == 0 {
		t.Errorf("keymeter sql read a file outside the lake")
	}
}
