package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var updateCLI = flag.Bool("update-cli", false, "rewrite the CLI golden files in testdata/cli")

// cliSteps are the commands TestCLIGolden runs, in order, against one data
// directory with the sample logs (testdata/sample): every command and
// output format a user sees, so that a change of structure can be shown
// to change no output.
var cliSteps = []struct {
	name string
	args []string
}{
	{"keys-import", []string{"keys", "import", "../../testdata/sample/keys.csv"}},
	{"ingest", []string{"ingest", "../../testdata/sample/logs"}},
	{"ingest-again", []string{"ingest", "../../testdata/sample/logs"}},
	{"ingest-json", []string{"ingest", "--json", "../../testdata/sample/logs"}},
	{"usage", []string{"usage", "--from", "2025-10-01", "--to", "2025-11-01"}},
	{"usage-json", []string{"usage", "--from", "2025-10", "--by", "customer,source", "--format", "json"}},
	{"usage-csv", []string{"usage", "--from", "2025-10-01", "--to", "2025-11-01", "--by", "customer,edge_result", "--format", "csv"}},
	{"usage-day", []string{"usage", "--from", "2025-10-01", "--to", "2025-10-08", "--by", "day,unattributed_reason"}},
	{"usage-path", []string{"usage", "--from", "2025-10-01T06:00:00Z", "--to", "2025-10-03", "--by", "path,method,status"}},
	{"usage-source", []string{"usage", "--from", "2025-10", "--source", "cloudfront", "--by", "month,edge_location", "--format", "json"}},
	{"usage-customer", []string{"usage", "--from", "2025-10", "--customer", "acme", "--by", "api_key,hour", "--format", "csv"}},
	{"keys-list", []string{"keys", "list"}},
	{"keys-unassigned", []string{"keys", "list", "--unassigned", "--format", "json"}},
	{"rejects", []string{"rejects"}},
	{"rejects-json", []string{"rejects", "--format", "json"}},
	// AVG of doubles is summed in parallel, so its last digits vary: rounded.
	{"sql-athena", []string{"sql", "SELECT regexp_extract(cs_uri_query, 'cf_api_key=([^&]+)', 1) AS api_key, COUNT(*) AS total_requests, SUM(sc_bytes) / 1024 / 1024 AS total_mb_sent, round(AVG(time_taken), 9) AS avg_response_time FROM cloudfront_logs WHERE year = '2025' AND month = '10' AND cs_uri_query LIKE '%cf_api_key=%' GROUP BY 1 ORDER BY total_requests DESC"}},
	{"sql-events", []string{"sql", "--format", "csv", "SELECT source, customer, count(*) AS n, sum(bytes_sent) AS b FROM events GROUP BY ALL ORDER BY ALL"}},
	{"coverage", []string{"coverage", "--from", "2025-10"}},
	{"reconcile", []string{"reconcile", "--from", "2025-10-01", "--to", "2025-10-03"}},
	{"customers-set", []string{"customers", "set", "initech", "--plan", "scale", "--start", "2025-10-01"}},
	{"customers-list", []string{"customers", "list"}},
	{"invoice-acme", []string{"invoice", "--period", "2025-10", "--customer", "acme"}},
	{"invoice-queries", []string{"invoice", "--period", "2025-10", "--customer", "globex", "--queries"}},
	{"invoice-json", []string{"invoice", "--period", "2025-10", "--format", "json"}},
	{"invoice-csv", []string{"invoice", "--period", "2025-10", "--format", "csv"}},
	{"invoice-html", []string{"invoice", "--period", "2025-10", "--customer", "initech", "--format", "html"}},
	{"finalize-refused", []string{"invoice", "finalize", "--period", "2025-10"}},
	{"finalize", []string{"invoice", "finalize", "--period", "2025-10", "--force"}},
	{"invoice-final", []string{"invoice", "--period", "2025-10", "--customer", "acme"}},
	{"invoice-next", []string{"invoice", "--period", "2025-11", "--format", "json"}},
	{"costs", []string{"costs", "--period", "2025-10"}},
	{"costs-customer", []string{"costs", "--period", "2025-10", "--by", "customer", "--format", "json"}},
	{"export-stripe", []string{"export", "stripe", "--period", "2025-10"}},
	{"error-usage", []string{"usage", "--by", "colour"}},
	{"error-period", []string{"invoice", "--period", "October"}},
}

// nowLike matches the times of the run itself (load, reject and finalize
// times: the store's clock), as opposed to the times of the sample's
// requests, which are in 2025.
var nowLike = regexp.MustCompile(`20(2[6-9]|[3-9][0-9])-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z?)?`)

// padding matches the spaces that align a table's columns.
var padding = regexp.MustCompile(` {2,}`)

// TestCLIGolden pins everything keymeter prints on the sample data, byte
// for byte but for the times of the run: run with -update-cli to rewrite
// testdata/cli after a deliberate change of output.
func TestCLIGolden(t *testing.T) {
	c := newCLI(t)
	c.now = func() time.Time { return time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC) }
	c.env["KEYMETER_BILLING"] = "../../testdata/sample/billing.yaml"
	// A fixed secret, so that fingerprints are the same in every run.
	writeFile(t, filepath.Join(c.data, "secret"), strings.Repeat("6b", 32)+"\n")
	if err := os.Chmod(filepath.Join(c.data, "secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs("../../testdata/sample")
	if err != nil {
		t.Fatal(err)
	}
	normalize := func(s string) string {
		s = strings.ReplaceAll(s, abs, "SAMPLE")
		s = strings.ReplaceAll(s, c.data, "DATA")
		s = nowLike.ReplaceAllString(s, "NOW")
		// Table columns are as wide as their widest value, which depends
		// on the checkout's path and on how many digits a time has: pin
		// the cells, not the padding.
		return padding.ReplaceAllString(s, "  ")
	}
	for i, step := range cliSteps {
		r := c.run(step.args...)
		got := fmt.Sprintf("$ keymeter %s\nexit %d\n--- stdout\n%s--- stderr\n%s", strings.Join(step.args, " "), r.code, normalize(r.stdout), normalize(r.stderr))
		path := filepath.Join("testdata", "cli", fmt.Sprintf("%02d-%s.golden", i+1, step.name))
		if *updateCLI {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%s: %v (run go test -run TestCLIGolden -update-cli)", step.name, err)
		}
		if got != string(want) {
			t.Errorf("keymeter %s: output differs from %s:\n%s", strings.Join(step.args, " "), path, diffLines(string(want), got))
		}
	}
}

// diffLines shows the first lines where want and got differ.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 10; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %q\n   got %q\n", i+1, wl, gl)
			shown++
		}
	}
	return b.String()
}
