package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keymeter/keymeter/alert"
)

const testHookSecret = "whsec_cli-test-0123456789"

// hookReceiver is a real webhook receiver on 127.0.0.1 that checks each
// request's signature with alert.Verify (the receiver's side of the
// README's snippet) and records the idempotency keys it got.
type hookReceiver struct {
	t   *testing.T
	srv *httptest.Server

	mu   sync.Mutex
	keys []string          // Idempotency-Key of every request, in order
	subj map[string]string // key to "rule threshold"
	ok   map[string]int    // key to the number of 2xx answers
	// block, when set, is called for each request before it is answered;
	// it returns false to answer nothing (and wait for the client to go).
	block func(key string) bool
	fail  bool // answer 503
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{t: t, subj: map[string]string{}, ok: map[string]int{}}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := alert.VerifyRequest(r, []byte(testHookSecret), 0)
	if err != nil {
		h.t.Errorf("receiver: %v", err)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var p alert.Payload
	if err := json.Unmarshal(body, &p); err != nil || p.IdempotencyKey != r.Header.Get("Idempotency-Key") {
		h.t.Errorf("receiver: payload %s (%v): key does not match the header %q", body, err, r.Header.Get("Idempotency-Key"))
	}
	h.mu.Lock()
	h.keys = append(h.keys, p.IdempotencyKey)
	h.subj[p.IdempotencyKey] = p.Event.Rule + " " + p.Event.Threshold.String()
	block, fail := h.block, h.fail
	h.mu.Unlock()
	if block != nil && !block(p.IdempotencyKey) {
		<-r.Context().Done()
		return
	}
	if fail {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	h.mu.Lock()
	h.ok[p.IdempotencyKey]++
	h.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (h *hookReceiver) setFail(fail bool) {
	h.mu.Lock()
	h.fail = fail
	h.mu.Unlock()
}

// alertConfig writes the config of testdata/alerts/keymeter.yaml, with
// the receiver's URL and the sample's billing config, into a directory
// of its own and returns its path.
func alertConfig(t *testing.T, url string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/alerts/keymeter.yaml")
	if err != nil {
		t.Fatal(err)
	}
	billing, err := filepath.Abs("../../testdata/sample/billing.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(b), "RECEIVER", url)
	s = strings.ReplaceAll(s, "BILLING", billing)
	path := filepath.Join(t.TempDir(), "keymeter.yaml")
	writeFile(t, path, s)
	return path
}

// wantAlerts are the crossings of the sample data under the test
// config's rules.
var wantAlerts = []string{"acme-egress-mb 40000000", "acme-egress-usd 100", "acme-requests 1000", "starter-quota 100", "starter-quota 80"}

type listedAlert struct {
	Key      string        `json:"idempotency_key"`
	Rule     string        `json:"rule"`
	Customer string        `json:"customer"`
	Status   string        `json:"status"`
	Attempts int           `json:"attempts"`
	Payload  alert.Payload `json:"payload"`
}

func parseAlerts(t *testing.T, out string) []listedAlert {
	t.Helper()
	var list []listedAlert
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("alerts list --format json: %v\n%s", err, out)
	}
	return list
}

func subjects(list []listedAlert) []string {
	var out []string
	for _, a := range list {
		out = append(out, a.Rule+" "+a.Payload.Event.Threshold.String())
	}
	slices.Sort(out)
	return out
}

// TestAlertsCLI: keymeter ingest evaluates the config's rules (units
// converted: MB to bytes, dollars to cents, percent of the plan's
// included units) and keeps the crossings in the outbox; alerts deliver
// sends them to a real receiver, exits 3 while it fails and 0 once it
// is back; alerts list shows them, by customer and state.
func TestAlertsCLI(t *testing.T) {
	h := newHookReceiver(t)
	c := newCLI(t)
	c.env["HOOK_SECRET"] = testHookSecret
	cfg := alertConfig(t, h.srv.URL)
	c.ok("keys", "import", "../../testdata/sample/keys.csv", "--config", cfg)
	c.ok("ingest", "--quiet", "../../testdata/sample/logs", "--config", cfg)

	list := parseAlerts(t, c.ok("alerts", "list", "--format", "json", "--config", cfg))
	if got := subjects(list); !slices.Equal(got, wantAlerts) {
		t.Fatalf("alerts after ingest: %v; want %v", got, wantAlerts)
	}
	for _, a := range list {
		ev := a.Payload.Event
		if a.Status != "pending" || a.Key != a.Payload.IdempotencyKey || ev.Period.Month != "2025-10" || ev.Value.Cmp(ev.Threshold) < 0 {
			t.Errorf("alert %+v: want pending, its key in its payload, a value past its threshold in 2025-10", a)
		}
		if ev.Kind == alert.Amount && (ev.Currency == nil || ev.Currency.Code != "USD") {
			t.Errorf("amount alert %+v: want its currency", ev)
		}
	}
	if globex := parseAlerts(t, c.ok("alerts", "list", "--customer", "globex", "--format", "json", "--config", cfg)); len(globex) != 2 {
		t.Errorf("globex's alerts: %d; want its 2 (starter-quota)", len(globex))
	}

	h.setFail(true)
	r := c.run("alerts", "deliver", "--config", cfg)
	if r.code != exitPartial || !strings.Contains(r.stderr, "0 sent, 5 failed") {
		t.Errorf("deliver to a failing receiver: exit %d, %s; want exit %d and 5 failures", r.code, r.stderr, exitPartial)
	}
	h.setFail(false)
	time.Sleep(1100 * time.Millisecond) // base_delay 1s: the retries are due (service's TestAlertRetried checks not before)
	if r := c.run("alerts", "deliver", "--config", cfg); r.code != 0 || !strings.Contains(r.stderr, "5 sent, 0 failed") {
		t.Errorf("deliver to the receiver back: exit %d, %s; want 5 sent", r.code, r.stderr)
	}
	sent := parseAlerts(t, c.ok("alerts", "list", "--state", "sent", "--format", "json", "--config", cfg))
	if len(sent) != 5 || sent[0].Attempts != 2 {
		t.Errorf("sent alerts %+v; want 5, on their second attempt", sent)
	}
	for k, n := range h.ok {
		if n != 1 {
			t.Errorf("alert %s (%s) was taken %d times; want once", k, h.subj[k], n)
		}
	}
	table := c.ok("alerts", "list", "--config", cfg)
	if !strings.Contains(table, "idempotency_key") || strings.Count(table, " delivered ") != 5 {
		t.Errorf("alerts list:\n%s", table)
	}
	if r := c.run("alerts", "list", "--state", "lost", "--config", cfg); r.code != exitUsage || !strings.Contains(r.stderr, "want pending, sent or dead") {
		t.Errorf("alerts list --state lost: %+v", r)
	}
}

// TestAlertConfigErrors: every problem of the alerts: section is
// reported at once, placed in its setting.
func TestAlertConfigErrors(t *testing.T) {
	c := newCLI(t)
	r := c.run("usage", "--config", "testdata/alerts/bad.yaml")
	for _, want := range []string{
		`alerts.delivery.timeout: "soon" is not a positive duration`,
		`alerts.rules[0] (no-target): names neither a customer nor a plan`,
		`alerts.rules[0] (no-target): thresholds[1]: 5: thresholds must increase`,
		`alerts.rules[1] (bad-kind): thresholds[0]: "ten" is not a decimal number`,
		`alerts.rules[1] (bad-kind): secret: give secret_file or secret_env, not both`,
		`alerts.rules[1] (bad-kind): kind: "ratio" is not quantity, percent or amount`,
		`alerts.rules[1] (bad-kind): url: "ftp://example.com/hook": want an http:// or https:// URL`,
		`alerts.rules[2] (no-secret): secret: missing`,
	} {
		if r.code != exitUsage || !strings.Contains(r.stderr, want) {
			t.Errorf("bad alerts config: exit %d, stderr:\n%s\nwant exit %d and %q", r.code, r.stderr, exitUsage, want)
		}
	}
	// Problems only the billing config or the secrets show are reported
	// when the rules are used: by ingest and deliver.
	h := newHookReceiver(t)
	cfg := alertConfig(t, h.srv.URL)
	r = c.run("ingest", "--quiet", "../../testdata/sample/logs", "--config", cfg)
	if r.code != exitUsage || !strings.Contains(r.stderr, "alerts.rules[0] (acme-requests): secret: $HOOK_SECRET is not set") {
		t.Errorf("ingest without the secret: exit %d, %s", r.code, r.stderr)
	}
	c.env["HOOK_SECRET"] = testHookSecret
	b, _ := os.ReadFile(cfg)
	writeFile(t, cfg, strings.Replace(string(b), `thresholds: ["40"]`, `thresholds: ["0.0000001"]`, 1))
	r = c.run("ingest", "--quiet", "../../testdata/sample/logs", "--config", cfg)
	if r.code != exitUsage || !strings.Contains(r.stderr, "alerts.rules[1] (acme-egress-mb): thresholds[0]: 0.0000001 MB is not a whole number of bytes") {
		t.Errorf("ingest with a fraction of a byte: exit %d, %s", r.code, r.stderr)
	}
	writeFile(t, cfg, strings.Replace(string(b), "customer: acme\n      meter: egress\n      kind: amount", "customer: nobody\n      meter: egress\n      kind: amount", 1))
	r = c.run("ingest", "--quiet", "../../testdata/sample/logs", "--config", cfg)
	if r.code != exitUsage || !strings.Contains(r.stderr, `rules[2] (acme-egress-usd): customer: "nobody" is not a customer`) {
		t.Errorf("ingest with an unknown customer: exit %d, %s", r.code, r.stderr)
	}
}

// TestAlertsKill runs the real binary: keymeter ingest commits the
// crossings, keymeter alerts deliver is killed (SIGKILL) after its POST
// reached the receiver and before it recorded the outcome; the next runs
// deliver the rest at once and, once the killed run's lease is over, the
// interrupted alert again with the same idempotency key. None is lost,
// each is taken once.
func TestAlertsKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds keymeter")
	}
	bin := buildKeymeter(t)
	h := newHookReceiver(t)
	data := t.TempDir()
	cfg := alertConfig(t, h.srv.URL)
	env := append(subprocessEnv(), "HOOK_SECRET="+testHookSecret, "HOME="+t.TempDir())
	run := func(args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.Command(bin, append(args, "--data", data, "--config", cfg)...)
		cmd.Env = env
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), errb.String(), code
	}
	if _, stderr, code := run("keys", "import", "../../testdata/sample/keys.csv"); code != 0 {
		t.Fatalf("keys import: exit %d: %s", code, stderr)
	}
	if _, stderr, code := run("ingest", "--quiet", "../../testdata/sample/logs"); code != 0 {
		t.Fatalf("ingest: exit %d: %s", code, stderr)
	}

	// The first POST reaches the receiver, which does not answer; the
	// deliverer is killed then.
	arrived := make(chan string, 1)
	var blocked bool // under h.mu
	h.mu.Lock()
	h.block = func(key string) bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		if !blocked {
			blocked = true
			arrived <- key
			return false
		}
		return true
	}
	h.mu.Unlock()
	var first string
	cmd := exec.Command(bin, "alerts", "deliver", "--data", data, "--config", cfg)
	cmd.Env = env
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case first = <-arrived:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("no webhook reached the receiver")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	killedAt := time.Now()

	// The rest are delivered at once; the interrupted one is held by the
	// killed run's lease (10s), so that no two attempts overlap.
	if _, stderr, code := run("alerts", "deliver"); code != 0 || !strings.Contains(stderr, "4 sent, 0 failed") {
		t.Fatalf("deliver after the kill: exit %d, %s; want the 4 others sent", code, stderr)
	}
	h.mu.Lock()
	again := slices.Index(h.keys[1:], first)
	h.mu.Unlock()
	if again >= 0 {
		t.Fatalf("the interrupted alert was sent again under its lease")
	}
	time.Sleep(time.Until(killedAt.Add(10100 * time.Millisecond)))
	if _, stderr, code := run("alerts", "deliver"); code != 0 || !strings.Contains(stderr, "1 sent, 0 failed") {
		t.Fatalf("deliver after the lease: exit %d, %s; want the interrupted alert sent", code, stderr)
	}
	if _, stderr, code := run("alerts", "deliver"); code != 0 || !strings.Contains(stderr, "0 sent, 0 failed (0 now dead); outbox: 0 pending, 0 dead") {
		t.Fatalf("deliver once all is sent: exit %d, %s; want nothing to do", code, stderr)
	}

	out, stderr, code := run("alerts", "list", "--format", "json")
	if code != 0 {
		t.Fatalf("alerts list: exit %d: %s", code, stderr)
	}
	list := parseAlerts(t, out)
	if got := subjects(list); !slices.Equal(got, wantAlerts) {
		t.Fatalf("alerts %v; want %v", got, wantAlerts)
	}
	var sentTwice []string
	seen := map[string]int{}
	for _, k := range h.keys {
		seen[k]++
		if seen[k] == 2 {
			sentTwice = append(sentTwice, k)
		}
	}
	if !slices.Equal(sentTwice, []string{first}) || len(seen) != len(wantAlerts) {
		t.Errorf("receiver got keys %v; want each alert, the interrupted one (%s) twice", h.keys, first)
	}
	for _, a := range list {
		if a.Status != "delivered" || h.ok[a.Key] != 1 {
			t.Errorf("alert %s (%s %s): %s, taken %d times; want delivered, taken once", a.Key, a.Rule, a.Payload.Event.Threshold, a.Status, h.ok[a.Key])
		}
	}
}

// TestAlertTotalsBeyond64Bits: a period-to-date quantity beyond 64 bits
// cannot be evaluated by alert (int64 totals): ingest fails with a clear
// EINVALID error naming the customer and meter, and commits nothing,
// rather than wrapping the total around.
func TestAlertTotalsBeyond64Bits(t *testing.T) {
	c := newCLI(t)
	c.env["HOOK_SECRET"] = testHookSecret
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "billing.yaml"), hugeBillingYAML)
	writeFile(t, filepath.Join(dir, "keymeter.yaml"), `billing: billing.yaml
alerts:
  rules:
    - {name: acme-egress, customer: acme, meter: egress, kind: quantity, thresholds: ["1000"], url: "http://127.0.0.1:9/hook", secret_env: HOOK_SECRET}
`)
	cfg := filepath.Join(dir, "keymeter.yaml")
	writeFile(t, filepath.Join(dir, "keys.csv"), "customer,api_key\nacme,"+hugeKey+"\n")
	c.ok("keys", "import", filepath.Join(dir, "keys.csv"), "--config", cfg)
	writeFile(t, filepath.Join(dir, "logs", "E2EXAMPLE.2025-10-01-10.a1"), hugeLines(24, 2, hugeKey))
	r := c.run("ingest", "--quiet", filepath.Join(dir, "logs"), "--config", cfg)
	if r.code != exitUsage || !strings.Contains(r.stderr, `customer "acme", meter "egress": the period-to-date quantity 23999999999999999976 in 2025-10 is too large for alerts`) {
		t.Fatalf("ingest beyond 64 bits with an alert rule: exit %d, %s", r.code, r.stderr)
	}
	if out := c.ok("usage", "--from", "2025-10", "--format", "csv"); strings.Count(out, "\n") != 1 {
		t.Errorf("the failed run stored events:\n%s", out)
	}
}
