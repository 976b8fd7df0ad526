package main

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keymeter/keymeter/httpapi"
	"github.com/keymeter/keymeter/httpapi/apitest"
)

// TestServeAPI runs the real binary's keymeter serve on the sample logs,
// makes tokens with keymeter tokens create from another process (carried
// out by the server), and checks the HTTP API with them: apitest's
// suite (health checks, 401 without a token, a customer's token scoped
// to its own customer, every response against the OpenAPI document),
// GET /api/v1/usage byte for byte the JSON of keymeter usage run beside
// the server, and the dashboard's sign-in page (the browser tests of
// httpapi sign in and check the pages over the same handler).
func TestServeAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds keymeter and runs it")
	}
	bin := buildKeymeter(t)
	billing, err := filepath.Abs("../../testdata/sample/billing.yaml")
	if err != nil {
		t.Fatal(err)
	}
	logs, err := filepath.Abs("../../testdata/sample/logs")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := filepath.Abs("../../testdata/sample/keys.csv")
	if err != nil {
		t.Fatal(err)
	}
	env := append(subprocessEnv(), "HOME="+t.TempDir(), "KEYMETER_BILLING="+billing)
	data := t.TempDir()
	run := func(stdin string, args ...string) string {
		t.Helper()
		r := runBinary(t, bin, t.TempDir(), env, stdin, append(args, "--data", data)...)
		if r.code != 0 {
			t.Fatalf("keymeter %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
		}
		return r.stdout
	}
	// Keys first, so that the logs are attributed as they are read.
	run("", "keys", "import", keys)
	srv := startServe(t, bin, t.TempDir(), env, "--data", data, "--interval", "200ms", logs)
	deadline := time.Now().Add(2 * time.Minute)
	for strings.TrimSpace(strings.TrimPrefix(run("", "sql", "--format", "csv", "SELECT count(*) AS n FROM events"), "n\n")) != "6000" {
		if time.Now().After(deadline) {
			t.Fatalf("serve did not ingest the sample's 6000 events:\n%s", srv.log())
		}
		time.Sleep(200 * time.Millisecond)
	}
	admin := strings.TrimSpace(run("", "tokens", "create"))
	acme := strings.TrimSpace(run("", "tokens", "create", "--customer", "acme"))
	if !strings.HasPrefix(admin, "kmt_") || !strings.HasPrefix(acme, "kmt_") || admin == acme {
		t.Fatalf("tokens create printed %q and %q", admin, acme)
	}

	doc, err := apitest.ParseDoc(httpapi.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	c := &apitest.Client{Base: "http://" + srv.addr, Doc: doc, Seen: &apitest.Seen{}}
	apitest.Run(t, c, apitest.Tokens{Admin: admin, Customer: acme, CustomerName: "acme", Other: "globex", Period: "2025-10"})

	want := run("", "usage", "--from", "2025-10-01", "--to", "2025-11-01", "--by", "customer,day", "--format", "json")
	got := c.With(admin).Get(t, "/api/v1/usage?from=2025-10-01&to=2025-11-01&by=customer,day").Want(t, "usage", http.StatusOK)
	if string(got.Body) != want {
		t.Errorf("GET /api/v1/usage differs from keymeter usage --format json:\n got %.400s\nwant %.400s", got.Body, want)
	}
	if len(want) < 100 {
		t.Errorf("usage --format json printed only %q: the sample has a month of data", want)
	}
	c.With(acme).Get(t, "/api/v1/invoices?period=2025-10&customer=globex").Want(t, "acme asks for globex's invoices", http.StatusForbidden)

	resp, err := http.Get("http://" + srv.addr + "/signin")
	if err != nil {
		t.Fatal(err)
	}
	page, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "<form") {
		t.Errorf("GET /signin: %d %v, want the sign-in page:\n%.300s", resp.StatusCode, err, page)
	}
	if code := srv.stop(); code != 0 {
		t.Errorf("serve exited %d on SIGTERM, want 0:\n%s", code, srv.log())
	}
}
