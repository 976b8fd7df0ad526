package main

import (
	"strings"
	"testing"
	"time"
)

// TestClockIsMain checks that the commands that default to "this month"
// read the clock of Main (Main.Now), as every other command does: with
// the clock in October 2025, usage, coverage and reconcile without
// --from report October 2025, as with --from 2025-10.
func TestClockIsMain(t *testing.T) {
	c := newCLI(t)
	c.ok("keys", "import", "../../testdata/sample/keys.csv")
	c.ok("ingest", "--quiet", "../../testdata/sample/logs")
	c.now = func() time.Time { return time.Date(2025, 10, 15, 12, 0, 0, 0, time.UTC) }
	for _, cmd := range [][]string{
		{"usage", "--format", "json"},
		{"usage", "--by", "day", "--format", "csv"},
		{"coverage", "--format", "json"},
		{"reconcile", "--format", "json"},
	} {
		got := c.ok(cmd...)
		want := c.ok(append(cmd, "--from", "2025-10")...)
		if got != want {
			t.Errorf("keymeter %s with the clock in October 2025:\n%s\nwant, as with --from 2025-10:\n%s", strings.Join(cmd, " "), got, want)
		}
		if strings.TrimSpace(want) == "[]" || strings.Count(want, "\n") < 2 {
			t.Errorf("keymeter %s --from 2025-10 shows nothing: %q", strings.Join(cmd, " "), got)
		}
	}
}
