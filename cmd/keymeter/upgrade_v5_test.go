package main

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestUpgradeV5Store opens a data directory that keymeter wrote at schema
// version 5, before the lake (testdata/upgrade/v5, made by the binary of
// commit 69462ba), and checks that usage, the finalized invoices and the
// seed's four Athena queries are exactly what that binary answered, on
// the first open (which upgrades the store, adding the lake's manifest)
// and after a writing command.
func TestUpgradeV5Store(t *testing.T) {
	src := filepath.Join("..", "..", "testdata", "upgrade", "v5")
	c := newCLI(t)
	gz, err := os.Open(filepath.Join(src, "keymeter.duckdb.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer gz.Close()
	zr, err := gzip.NewReader(gz)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(c.data, "keymeter.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, zr); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	secret, err := os.ReadFile(filepath.Join(src, "secret"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(c.data, "secret"), string(secret))
	if err := os.Chmod(filepath.Join(c.data, "secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.env["KEYMETER_BILLING"] = filepath.Join("..", "..", "testdata", "sample", "billing.yaml")
	want := func(name string) string {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	var queries []string
	sc := bufio.NewScanner(strings.NewReader(want("athena.sql")))
	for sc.Scan() {
		queries = append(queries, sc.Text())
	}
	if len(queries) != 4 {
		t.Fatalf("athena.sql has %d queries, want the seed's 4", len(queries))
	}
	// Whether a row is provisional depends on the time of the run.
	completeness := regexp.MustCompile(`, "provisional": (true|false)`)
	check := func(when string) {
		t.Helper()
		got := c.ok("usage", "--from", "2025-01-01", "--to", "2026-01-01", "--by", "customer,source", "--format", "json",
			"--source", "cloudfront,cloudfront-realtime,apigateway")
		if completeness.ReplaceAllString(got, "") != completeness.ReplaceAllString(want("usage.json"), "") {
			t.Errorf("%s: usage differs from the v5 binary's:\n got: %s\nwant: %s", when, got, want("usage.json"))
		}
		if got := c.ok("invoice", "--period", "2025-10", "--format", "json"); got != want("invoices.json") {
			t.Errorf("%s: invoices differ from the v5 binary's:\n got: %s\nwant: %s", when, got, want("invoices.json"))
		}
		for i, q := range queries {
			name := fmt.Sprintf("athena-%d.csv", i+1)
			if got := c.ok("sql", "--format", "csv", q); got != want(name) {
				t.Errorf("%s: %s differs from the v5 binary's:\n got: %s\nwant: %s", when, name, got, want(name))
			}
		}
	}
	check("first open")
	if got := c.ok("sql", "--format", "csv", "SELECT (SELECT value FROM meta WHERE key = 'schema_version') AS version, (SELECT count(*) FROM lake_files) AS files"); got != "version,files\n8,0\n" {
		t.Errorf("after the upgrade:\n%s", got)
	}
	c.ok("ingest", filepath.Join("..", "..", "testdata", "sample", "logs"))
	check("after ingesting the same logs again")
}
