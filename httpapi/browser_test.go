package httpapi_test

import (
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/httpapi/dashboard"
	"github.com/keymeter/keymeter/service"
)

// The browser tests read the real server's pages, over the sample data,
// in headless Chromium as a person would: sign in with a token, look at
// the charts, try to reach another customer.

var screenshots = flag.String("screenshots", os.Getenv("KEYMETER_SCREENSHOTS"),
	"write dashboard.png and portal.png, from the real wiring over the sample data, into this directory (the README's are in docs/)")

// chromium returns the headless browser: $KEYMETER_CHROMIUM, or chromium
// on the PATH; without one the test is skipped, or fails when
// KEYMETER_REQUIRE_SERVERS=1.
func chromium(t *testing.T) string {
	t.Helper()
	path := os.Getenv("KEYMETER_CHROMIUM")
	if path == "" {
		for _, name := range []string{"chromium", "chromium-browser"} {
			if p, err := exec.LookPath(name); err == nil {
				path = p
				break
			}
		}
	}
	if path != "" {
		if _, err := os.Stat(path); err == nil {
			return path
		}
	}
	msg := "no headless Chromium (set KEYMETER_CHROMIUM, or run the tests with scripts/testenv.sh)"
	if os.Getenv("KEYMETER_REQUIRE_SERVERS") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// browser is a headless Chromium tab.
type browser struct{ ctx context.Context }

func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromium(t)
	parent, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	actx, cancelAlloc := chromedp.NewExecAllocator(parent,
		chromedp.ExecPath(path), chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true),
		chromedp.Flag("hide-scrollbars", true), chromedp.WindowSize(1280, 1000))
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(cancelTab)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return &browser{ctx: ctx}
}

// open loads a page, waits for its charts, and returns its status.
func (b *browser) open(t *testing.T, url string) int64 {
	t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Navigate(url))
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	b.settle(t, url)
	return resp.Status
}

func (b *browser) settle(t *testing.T, what string) {
	t.Helper()
	var err error
	for range 20 {
		_, err = chromedp.Run(b.ctx, chromedp.Poll[bool](`document.readyState === "complete" &&
			(!document.documentElement.classList.contains("js") ||
			 Array.from(document.querySelectorAll("figure.chart")).every(f => f.dataset.drawn === "true"))`,
			chromedp.WithPollingTimeout(20*time.Second)))
		if err == nil || !strings.Contains(err.Error(), "context with specified id") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("%s: the page did not finish: %v", what, err)
	}
}

func evalJS[T any](t *testing.T, b *browser, js string) T {
	t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// signIn signs in through the form and returns the landing page's
// status and path.
func (b *browser) signIn(t *testing.T, base, token string) (int64, string) {
	t.Helper()
	if st := b.open(t, base+dashboard.PathSignIn); st != http.StatusOK {
		t.Fatalf("sign-in page: status %d", st)
	}
	if err := chromedp.Do(b.ctx, chromedp.SendKeys("#token", token)); err != nil {
		t.Fatal(err)
	}
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Click(`form button[type="submit"]`))
	if err != nil {
		t.Fatalf("sign in: %v", err)
	}
	b.settle(t, "after signing in")
	return resp.Status, evalJS[string](t, b, `location.pathname`)
}

// chartSeries is a drawn chart's line, as the figure reports it.
type chartSeries struct {
	Label  string   `json:"label"`
	Values []string `json:"values"`
}

type drawn struct {
	ID     string
	Drawn  string
	Days   []string
	Series []chartSeries
}

// charts returns what each chart of the page says it drew.
func (b *browser) charts(t *testing.T) map[string]drawn {
	t.Helper()
	raw := evalJS[string](t, b, `JSON.stringify(Array.from(document.querySelectorAll("figure.chart")).map(f => ({
		ID: f.dataset.chart, Drawn: f.dataset.drawn || "", Days: JSON.parse(f.dataset.days || "[]"),
		Series: JSON.parse(f.dataset.series || "[]")})))`)
	var cs []drawn
	if err := json.Unmarshal([]byte(raw), &cs); err != nil {
		t.Fatal(err)
	}
	m := map[string]drawn{}
	for _, c := range cs {
		m[c.ID] = c
	}
	return m
}

func screenshot(t *testing.T, b *browser, file string) {
	t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", file, len(png))
}

// perDay returns, from the service, requests per day of each group of
// dim (labelled as the page labels them) over October on the edge:
// what the charts must draw.
func perDay(t *testing.T, e *env, customer string, dim keymeter.Dimension, label func(keymeter.GroupValue) string) map[string]map[string]string {
	t.Helper()
	from, to, err := service.Period("2025-10-01", "2025-11-01", sampleNow)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := e.svc.Usage(context.Background(), service.UsageRequest{Query: keymeter.UsageQuery{From: from, To: to, Customer: customer,
		Sources: []keymeter.Source{keymeter.SourceEdge}, By: []keymeter.Dimension{keymeter.DimDay, dim}}})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]string{}
	for _, r := range rep.Rows {
		l := label(r.Group[1])
		if out[l] == nil {
			out[l] = map[string]string{}
		}
		out[l][r.Group[0].Value] = r.Requests.String()
	}
	if len(out) == 0 {
		t.Fatal("the service has no usage per day")
	}
	return out
}

// checkChart checks that a drawn chart's lines carry the service's
// numbers: each line's value on each day (0 where the service has no
// row).
func checkChart(t *testing.T, what string, c drawn, want map[string]map[string]string) {
	t.Helper()
	if c.Drawn != "true" {
		t.Errorf("%s: chart %s not drawn", what, c.ID)
	}
	if len(c.Series) != len(want) {
		t.Errorf("%s: %d lines, want %d (%v)", what, len(c.Series), len(want), want)
	}
	for _, s := range c.Series {
		w, ok := want[s.Label]
		if !ok {
			t.Errorf("%s: a line %q the service does not have", what, s.Label)
			continue
		}
		nonzero := 0
		for i, day := range c.Days {
			v := w[day]
			if v == "" {
				v = "0"
			}
			if s.Values[i] != v {
				t.Errorf("%s: line %s on %s: %s, the service says %s", what, s.Label, day, s.Values[i], v)
			}
			if v != "0" {
				nonzero++
			}
		}
		if nonzero != len(w) {
			t.Errorf("%s: line %s draws %d days with requests, the service has %d", what, s.Label, nonzero, len(w))
		}
	}
}

// TestDashboardInBrowser signs in as an admin and reads the overview
// from the real store: the charts draw the service's numbers.
func TestDashboardInBrowser(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t)
	if st := b.open(t, e.srv.URL+"/"); st != http.StatusUnauthorized {
		t.Errorf("the overview without signing in: status %d, want 401", st)
	}
	if st, path := b.signIn(t, e.srv.URL, "kmt_0123456789abcdef_"+strings.Repeat("a", 64)); st != http.StatusUnauthorized || path != dashboard.PathSignIn {
		t.Errorf("sign in with a bad token: status %d at %s, want 401 at the sign-in page", st, path)
	}
	if st, path := b.signIn(t, e.srv.URL, e.admin); st != http.StatusOK || path != "/" {
		t.Fatalf("admin sign-in: status %d at %s", st, path)
	}
	if c := evalJS[string](t, b, `document.cookie`); strings.Contains(c, httpapiSession) {
		t.Errorf("the session cookie is readable by scripts: %q", c)
	}
	if st := b.open(t, e.srv.URL+"/?from=2025-10-01&to=2025-11-01"); st != http.StatusOK {
		t.Fatalf("overview: status %d", st)
	}
	charts := b.charts(t)
	checkChart(t, "overview requests", charts["requests"], perDay(t, e, "", keymeter.DimCustomer, func(g keymeter.GroupValue) string {
		if g.Null {
			return "(unattributed)"
		}
		return g.Value
	}))
	if c, ok := charts["cache"]; !ok || c.Drawn != "true" {
		t.Errorf("overview: no cache-hit chart drawn: %+v", c)
	}
	text := evalJS[string](t, b, `document.body.innerText`)
	for _, want := range []string{"acme", "globex", "initech"} {
		if !strings.Contains(text, want) {
			t.Errorf("overview: no %s", want)
		}
	}
	if *screenshots != "" {
		screenshot(t, b, filepath.Join(*screenshots, "dashboard.png"))
	}
	for _, path := range []string{dashboard.PathIngestion, dashboard.PathRejects, dashboard.PathCoverage + "?from=2025-10", dashboard.PathInvoices,
		dashboard.CustomerPath("globex") + "?from=2025-10-01&to=2025-11-01", dashboard.InvoicePath("globex", "2025-10"), dashboard.InvoicePrintPath("globex", "2025-10")} {
		if st := b.open(t, e.srv.URL+path); st != http.StatusOK {
			t.Errorf("admin %s: status %d", path, st)
		}
	}
	b.open(t, e.srv.URL+dashboard.PathIngestion)
	if text := evalJS[string](t, b, `document.body.innerText`); !strings.Contains(text, e.sources[0].Name) {
		t.Errorf("the ingestion page does not show the source %s", e.sources[0].Name)
	}
}

const httpapiSession = "km_session"

// TestPortalInBrowser signs in with acme's token: the portal shows acme's
// usage per key with the service's numbers and its draft invoice, and
// nothing of globex, whose pages are refused.
func TestPortalInBrowser(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t)
	st, path := b.signIn(t, e.srv.URL, e.acme)
	if st != http.StatusOK || path != dashboard.CustomerPath("acme") {
		t.Fatalf("acme's sign-in: status %d at %s, want its page", st, path)
	}
	if st := b.open(t, e.srv.URL+dashboard.CustomerPath("acme")+"?from=2025-10-01&to=2025-11-01"); st != http.StatusOK {
		t.Fatalf("acme's page: status %d", st)
	}
	keys, err := e.svc.CustomerKeys(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	hints := map[string]string{}
	for _, k := range keys {
		hints[k.Fingerprint] = k.Hint
	}
	checkChart(t, "acme requests", b.charts(t)["requests"], perDay(t, e, "acme", keymeter.DimAPIKey, func(g keymeter.GroupValue) string {
		return "…" + hints[g.Value]
	}))
	dp, err := e.svc.ProjectDraft(context.Background(), e.billing, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if dp.Projected == nil {
		t.Fatal("no projection on the 25th of the month")
	}
	got := evalJS[[]string](t, b, `[document.querySelector(".draft-total").textContent, document.querySelector(".projected-total").textContent]`)
	want := []string{dp.Document.Currency.Format(dp.Document.Total), dp.Projected.Currency.Format(dp.Projected.Total)}
	for i := range want {
		if !strings.Contains(strings.ReplaceAll(got[i], ",", ""), want[i]) {
			t.Errorf("draft totals %q, want %q", got, want)
		}
	}
	html := evalJS[string](t, b, `document.documentElement.outerHTML`)
	for _, other := range []string{"globex", "initech", dashboard.PathIngestion, dashboard.PathRejects} {
		if strings.Contains(html, other) {
			t.Errorf("acme's portal mentions %s", other)
		}
	}
	if *screenshots != "" {
		screenshot(t, b, filepath.Join(*screenshots, "portal.png"))
	}
	for _, path := range []string{dashboard.CustomerPath("globex"), dashboard.CustomerInvoicesPath("globex"), dashboard.InvoicePath("globex", "2025-10"),
		dashboard.InvoicePrintPath("globex", "2025-10"), dashboard.PathIngestion, dashboard.PathRejects, dashboard.PathInvoices, dashboard.PathCoverage} {
		st := b.open(t, e.srv.URL+path)
		if st != http.StatusForbidden && st != http.StatusNotFound {
			t.Errorf("acme opens %s: status %d, want 403 or 404", path, st)
		}
		if html := evalJS[string](t, b, `document.body.innerText`); strings.Contains(html, "globex") || strings.Contains(html, "initech") {
			t.Errorf("acme opens %s and reads another customer's name", path)
		}
	}
	// The session cookie does not open the API: it wants a bearer token.
	if st := b.open(t, e.srv.URL+"/api/v1/usage?from=2025-10"); st != http.StatusUnauthorized {
		t.Errorf("the API with the session cookie only: status %d, want 401", st)
	}
	// Signing out ends the session.
	if err := chromedp.Do(b.ctx, chromedp.Navigate(e.srv.URL+dashboard.CustomerPath("acme"))); err != nil {
		t.Fatal(err)
	}
	b.settle(t, "acme's page")
	if _, err := chromedp.RunResponse(b.ctx, chromedp.Click(`form[action="/signout"] button`)); err != nil {
		t.Fatalf("sign out: %v", err)
	}
	b.settle(t, "signed out")
	if st := b.open(t, e.srv.URL+dashboard.CustomerPath("acme")); st != http.StatusUnauthorized {
		t.Errorf("after signing out: status %d, want 401", st)
	}
}
