package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
