package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keymeter/keymeter/internal/loggen"
)

// standardLog returns a CloudFront standard log of n generated requests.
func standardLog(seed uint64, n int) string {
	gen := loggen.New(loggen.Config{Seed: seed, Start: time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC), Span: 24 * time.Hour,
		Customers: 2, KeysPerCustomer: 1, NoKeyPercent: 10})
	var b []byte
	b = append(b, loggen.Header(loggen.StandardFields)...)
	for range n {
		var r loggen.Record
		gen.Next(&r)
		b = r.AppendLine(b, loggen.StandardFields)
	}
	return string(b)
}

func symlink(t *testing.T, target, path string) {
	t.Helper()
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
}

// TestIngestSymlinks follows a symlinked log directory given as the
// argument and links inside it, reports a link loop and an argument that
// yields nothing (exit status 3), and still ingests the rest.
func TestIngestSymlinks(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "real/2025/10/01/E1.2025-10-01-00.a.gz"), string(gzipBytes(t, standardLog(1, 40))))
	writeFile(t, filepath.Join(dir, "archive/E1.2025-10-02-00.b"), standardLog(2, 25))
	symlink(t, "real", filepath.Join(dir, "logs"))
	symlink(t, "../../archive", filepath.Join(dir, "real/2025/02"))

	c := newCLI(t)
	r := c.run("ingest", "--json", filepath.Join(dir, "logs"))
	if r.code != 0 {
		t.Fatalf("ingest of a symlinked directory: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if sum := decodeSummary(t, r); sum.Inputs != 2 || sum.Read != 2 || sum.Events != 65 {
		t.Errorf("summary %+v; want 2 inputs read and 65 events", sum)
	}

	// A loop, and an empty directory: reported, exit 3, the rest read.
	symlink(t, "..", filepath.Join(dir, "real/2025/10/01/up"))
	writeFile(t, filepath.Join(dir, "real/2025/10/02/E1.2025-10-02-01.c"), standardLog(3, 5))
	if err := os.MkdirAll(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	r = c.run("ingest", filepath.Join(dir, "logs"), filepath.Join(dir, "empty"))
	if r.code != exitPartial {
		t.Errorf("ingest with a loop and an empty directory: exit %d, want %d\n%s%s", r.code, exitPartial, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"inputs:                5 (1 read, 2 skipped, 2 failed)",
		"events stored:         5",
		filepath.Join(dir, "logs/2025/10/01/up") + ": symbolic link loop: leads back to " + filepath.Join(dir, "logs/2025/10"),
		filepath.Join(dir, "empty") + ": no files in this directory",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
}

// TestFutureHorizon rejects requests dated more than the horizon after
// the time of reading, set by future_horizon or --future-horizon.
func TestFutureHorizon(t *testing.T) {
	now := time.Date(2025, 10, 2, 12, 0, 0, 0, time.UTC)
	gen := loggen.New(loggen.Config{Seed: 5, Start: now, Span: time.Hour, Customers: 1, KeysPerCustomer: 1})
	log := func(name string, times ...time.Time) string {
		b := []byte(loggen.Header(loggen.StandardFields))
		for _, at := range times {
			var r loggen.Record
			gen.Next(&r)
			r.Time = at
			b = r.AppendLine(b, loggen.StandardFields)
		}
		path := filepath.Join(t.TempDir(), name)
		writeFile(t, path, string(b))
		return path
	}
	c := newCLI(t)
	c.now = func() time.Time { return now }
	r := c.run("ingest", "--json", log("a.log", now.Add(-time.Hour), now.Add(30*time.Hour), time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)))
	if sum := decodeSummary(t, r); r.code != 0 || sum.Events != 1 || sum.Rejected != 2 {
		t.Errorf("default horizon: exit %d, %+v; want 1 event, 2 rejected", r.code, sum)
	}
	out := c.ok("rejects", "--format", "csv")
	if strings.Count(out, `,date,"time in the future: `) != 2 || !strings.Contains(out, "2099-01-01T00:00:00Z is more than 24h ahead of the time of reading, 2025-10-02T12:00:00Z") {
		t.Errorf("rejects:\n%s", out)
	}

	r = c.run("ingest", "--json", "--future-horizon", "36h", log("b.log", now.Add(30*time.Hour)))
	if sum := decodeSummary(t, r); r.code != 0 || sum.Events != 1 || sum.Rejected != 0 {
		t.Errorf("--future-horizon 36h: exit %d, %+v", r.code, sum)
	}
	cfgFile := filepath.Join(t.TempDir(), "keymeter.yaml")
	writeFile(t, cfgFile, "future_horizon: 2h\n")
	r = c.run("ingest", "--json", "--config", cfgFile, log("c.log", now.Add(90*time.Minute), now.Add(150*time.Minute)))
	if sum := decodeSummary(t, r); r.code != 0 || sum.Events != 1 || sum.Rejected != 1 {
		t.Errorf("future_horizon: 2h: exit %d, %+v", r.code, sum)
	}

	writeFile(t, cfgFile, "future_horizon: -1h\n")
	for _, args := range [][]string{{"--future-horizon", "soon"}, {"--future-horizon", "0s"}, {"--config", cfgFile}} {
		r := c.run(append(append([]string{"ingest"}, args...), log("d.log", now))...)
		if r.code != exitUsage || !strings.Contains(r.stderr, "future_horizon: ") || !strings.Contains(r.stderr, "positive duration") {
			t.Errorf("ingest %v: exit %d, stderr %s", args, r.code, r.stderr)
		}
	}
}
