package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// shiftedLogs writes two standard log files: the first with requests at
// 10:xx, the second with copies of them whose times are shifted by 3
// hours (requests r0..r9) and by 25 hours (r10..r14), as other hours'
// files.
func shiftedLogs(t *testing.T) (string, string) {
	dir := t.TempDir()
	line := func(day, hour, i int) string {
		return fmt.Sprintf("2025-10-%02d\t%02d:%02d:00\tIAD89-C1\t%d\t1.2.3.4\tGET\td.cloudfront.net\t/v1/a\t200\t-\tcurl\t-\t-\tMiss\tr%d\tapi.example.com\thttps\t10\t0.001\n",
			day, hour, 10+i, 1<<i, i)
	}
	var a, b strings.Builder
	a.WriteString(clientBytesFields)
	b.WriteString(clientBytesFields)
	for i := range 15 {
		a.WriteString(line(1, 10, i))
		if i < 10 {
			b.WriteString(line(1, 13, i))
		} else {
			b.WriteString(line(2, 11, i))
		}
	}
	fa, fb := filepath.Join(dir, "E2EXAMPLE.2025-10-01-10.a"), filepath.Join(dir, "E2EXAMPLE.2025-10-01-13.b")
	writeFile(t, fa, a.String())
	writeFile(t, fb, b.String())
	return fa, fb
}

// TestDedupeShiftedCopies ingests requests and copies of them whose
// times were shifted, in one run and in two: every request counts the
// same either way, once when its copy is within the dedupe window (24
// hours by default), twice when it is further.
func TestDedupeShiftedCopies(t *testing.T) {
	fa, fb := shiftedLogs(t)
	total := func(c *cli) string {
		t.Helper()
		return c.ok("usage", "--from", "2025-10-01", "--to", "2025-10-03", "--by", "", "--format", "csv")
	}
	const allUnique = "requests,bytes_sent,bytes_received,time_taken_avg,time_taken_p50,time_taken_p95,time_taken_p99\n"
	// 15 originals (bytes 1+2+...+2^14) and the 5 copies 25 hours away
	// (2^10+...+2^14).
	want := allUnique + fmt.Sprintf("20,%d,200,0.0010,0.001,0.001,0.001\n", (1<<15-1)+(1<<15-1<<10))
	one := newCLI(t)
	one.ok("ingest", fa, fb)
	if got := total(one); got != want {
		t.Errorf("one run:\n got %s\nwant %s", got, want)
	}
	two := newCLI(t)
	two.ok("ingest", fa)
	two.ok("ingest", fb)
	if got := total(two); got != want {
		t.Errorf("two runs:\n got %s\nwant %s", got, want)
	}
	// A window of 2 hours makes the 3-hour copies other requests too, in
	// one run as in two; from the config file as from the flag.
	wantNarrow := allUnique + fmt.Sprintf("30,%d,300,0.0010,0.001,0.001,0.001\n", 2*(1<<15-1))
	one = newCLI(t)
	one.ok("ingest", "--dedupe-window", "2h", fa, fb)
	two = newCLI(t)
	writeFile(t, filepath.Join(two.data, "keymeter.yaml"), "dedupe_window: 2h\n")
	two.ok("ingest", fa)
	two.ok("ingest", fb)
	for name, c := range map[string]*cli{"one run, --dedupe-window 2h": one, "two runs, dedupe_window: 2h": two} {
		if got := total(c); got != wantNarrow {
			t.Errorf("%s:\n got %s\nwant %s", name, got, wantNarrow)
		}
	}
	if r := one.run("ingest", "--dedupe-window", "90m", fa); r.code != exitUsage || !strings.Contains(r.stderr, `dedupe_window: "90m" is not a whole number of hours`) {
		t.Errorf("--dedupe-window 90m: exit %d, %s", r.code, r.stderr)
	}
}
