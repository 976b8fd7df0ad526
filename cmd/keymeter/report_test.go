package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/report"
	"github.com/keymeter/keymeter/service"
)

// TestUsageJSONIsTheService checks that usage --format json is the
// service's result written by package report, as the HTTP server will
// write GET /api/v1/usage: the same bytes.
func TestUsageJSONIsTheService(t *testing.T) {
	c := newCLI(t)
	c.ok("keys", "import", "../../testdata/sample/keys.csv")
	c.ok("ingest", "--quiet", "../../testdata/sample/logs")
	cli := c.ok("usage", "--from", "2025-10", "--by", "customer,day", "--format", "json")

	m := &Main{Getenv: func(k string) string { return c.env[k] }}
	cfg, err := (&commonFlags{data: c.data}).load(m.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	q := keymeter.UsageQuery{From: time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC),
		By: []keymeter.Dimension{keymeter.DimCustomer, keymeter.DimDay}}
	rep, err := m.service(cfg).Usage(context.Background(), service.UsageRequest{Query: q, CoverageThreshold: cfg.coverageThreshold()})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := report.Usage(rep).WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	if b.String() != cli {
		t.Errorf("the service's usage, written by report:\n%s\nwant usage --format json:\n%s", b.String(), cli)
	}
	if len(rep.Rows) < 31 {
		t.Errorf("only %d rows", len(rep.Rows))
	}
}
