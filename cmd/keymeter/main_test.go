package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keymeter/keymeter/service"
)

// cli runs keymeter in-process with an empty environment (plus env) and
// returns what it printed and its exit code.
type cli struct {
	t    *testing.T
	data string
	env  map[string]string
	now  func() time.Time // the clock; nil for the real one
}

func newCLI(t *testing.T) *cli {
	return &cli{t: t, data: t.TempDir(), env: map[string]string{"HOME": t.TempDir()}}
}

type result2 struct {
	stdout, stderr string
	code           int
}

func (c *cli) runIn(stdin string, args ...string) result2 {
	c.t.Helper()
	var out, errb bytes.Buffer
	m := &Main{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return c.env[k] }, Now: c.now}
	code := m.report(m.Run(context.Background(), args))
	return result2{out.String(), errb.String(), code}
}

// run runs a command against the test's data directory.
func (c *cli) run(args ...string) result2 {
	c.t.Helper()
	return c.runIn("", append(args, "--data", c.data)...)
}

// ok runs a command that must succeed and returns its output.
func (c *cli) ok(args ...string) string {
	c.t.Helper()
	r := c.run(args...)
	if r.code != 0 {
		c.t.Fatalf("keymeter %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

func TestUsageErrors(t *testing.T) {
	c := newCLI(t)
	tests := []struct {
		args     []string
		code     int
		contains string
	}{
		{nil, exitUsage, "no command"},
		{[]string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		{[]string{"ingest"}, exitUsage, "no SOURCE"},
		{[]string{"ingest", "--nope", "x"}, exitUsage, "flag provided but not defined: -nope"},
		{[]string{"ingest", "--format", "elb", "x"}, exitUsage, `unknown --format "elb"`},
		{[]string{"usage", "--from", "yesterday"}, exitUsage, `--from "yesterday"`},
		{[]string{"usage", "--from", "2025-10-02", "--to", "2025-10-01"}, exitUsage, "is not before"},
		{[]string{"usage", "--by", "colour"}, exitUsage, `unknown column "colour"`},
		{[]string{"usage", "--format", "xml"}, exitUsage, `unknown --format "xml"`},
		{[]string{"usage"}, exitNotFound, "no store in"},
		{[]string{"sql"}, exitUsage, "no QUERY"},
		{[]string{"keys"}, exitUsage, "no subcommand"},
		{[]string{"keys", "import"}, exitUsage, "exactly one FILE.csv"},
		{[]string{"keys", "import", "/does/not/exist.csv"}, exitUsage, "no such file"},
	}
	for _, tt := range tests {
		r := c.runIn("", tt.args...)
		if r.code != tt.code || !strings.Contains(r.stderr, tt.contains) {
			t.Errorf("keymeter %s: exit %d, stderr %q; want exit %d and %q", strings.Join(tt.args, " "), r.code, r.stderr, tt.code, tt.contains)
		}
	}
	if r := c.runIn("", "help"); r.code != 0 || !strings.Contains(r.stdout, "Commands:") {
		t.Errorf("help: %+v", r)
	}
	if r := c.runIn("", "usage", "-h"); r.code != 0 || !strings.Contains(r.stderr, "--by") {
		t.Errorf("usage -h: %+v", r)
	}
}

func TestConfigFile(t *testing.T) {
	c := newCLI(t)
	cfg := t.TempDir() + "/keymeter.yaml"
	writeFile(t, cfg, "key_params: [token]\nunknown_setting: 1\n")
	r := c.run("usage", "--config", cfg)
	if r.code != exitUsage || !strings.Contains(r.stderr, "unknown_setting") || !strings.Contains(r.stderr, "line 2") {
		t.Errorf("bad config: %+v", r)
	}
	writeFile(t, cfg, "key_params: ['a=b', '', 'auth[key]', api-Key.v2~]\n")
	r = c.run("usage", "--config", cfg)
	if r.code != exitUsage || !strings.Contains(r.stderr, `key_params[0]: "a=b"`) || !strings.Contains(r.stderr, `key_params[1]: ""`) ||
		!strings.Contains(r.stderr, `key_params[2]: "auth[key]"`) || strings.Contains(r.stderr, "key_params[3]") {
		t.Errorf("invalid values must all be reported, and only they: %+v", r)
	}
	if r := c.run("usage", "--config", "/no/such/config.yaml"); r.code != exitUsage {
		t.Errorf("missing explicit config: %+v", r)
	}
}

// documentUsage returns what a document's usage lines counted, by meter.
var documentUsage = service.DocumentUsage
