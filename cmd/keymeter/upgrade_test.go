package main

import (
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// TestUpgradeV1Store opens a data directory that keymeter wrote at schema
// version 1 (testdata/upgrade/v1, made by the binary of commit 479c585)
// and checks that usage and the finalized invoices are exactly what that
// binary reported, after the store is upgraded by the first command that
// opens it, and again after a writing command.
func TestUpgradeV1Store(t *testing.T) {
	src := filepath.Join("..", "..", "testdata", "upgrade", "v1")
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
	// The v1 binary added up every source; each source alone is what it
	// showed. Rows now also say how complete they are.
	completeness := regexp.MustCompile(`, "complete_until": [^,]*, "provisional": (true|false)`)
	check := func(when string) {
		t.Helper()
		got := c.ok("usage", "--from", "2025-01-01", "--to", "2026-01-01", "--by", "customer,source", "--format", "json",
			"--source", "cloudfront,cloudfront-realtime,apigateway")
		if got = completeness.ReplaceAllString(got, ""); got != want("usage.json") {
			t.Errorf("%s: usage differs from the v1 binary's:\n got: %s\nwant: %s", when, got, want("usage.json"))
		}
		if got := c.ok("invoice", "--period", "2025-10", "--format", "json"); got != want("invoices.json") {
			t.Errorf("%s: invoices differ from the v1 binary's:\n got: %s\nwant: %s", when, got, want("invoices.json"))
		}
	}
	check("first open")
	// A writing command on the upgraded store, then the same answers.
	c.ok("ingest", filepath.Join("..", "..", "testdata", "sample", "logs"))
	check("after ingesting the same logs again")
	// Reprocessing them as they were replaces every event and changes
	// nothing, checked against invoices finalized without plan snapshots;
	// the next period's drafts rate on the config's plans.
	c.ok("ingest", "--reprocess", filepath.Join("..", "..", "testdata", "sample", "logs"))
	check("after reprocessing the same logs")
	for _, d := range decodeDocs(t, c.ok("invoice", "--period", "2025-11", "--format", "json")) {
		if !d.LateEvents.IsZero() || !d.LateAdjustments.IsZero() {
			t.Errorf("%s: November has late changes after an unchanged reprocess: %d events, %s", d.Customer, d.LateEvents, d.LateAdjustments)
		}
	}
}
