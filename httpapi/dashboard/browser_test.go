package dashboard

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/keymeter/keymeter"
)

// The browser tests serve the pages from the fixture server (server_test.go)
// and read them in headless Chromium as a person would: what is drawn,
// what is written, what the console says.

var screenshots = flag.String("screenshots", os.Getenv("KEYMETER_SCREENSHOTS"),
	"write screenshots of the overview and of a portal page into this directory (the README's are in docs/)")

// chromium returns the headless browser: $KEYMETER_CHROMIUM, or chromium
// on the PATH. Without one the test is skipped, or fails when
// KEYMETER_REQUIRE_SERVERS=1 (scripts/testenv.sh installs Chromium and
// sets both).
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
	msg := "no headless Chromium (set KEYMETER_CHROMIUM, or run the tests with scripts/testenv.sh, which installs it)"
	if os.Getenv("KEYMETER_REQUIRE_SERVERS") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// tab is one browser tab, with what its pages wrote to the console.
type tab struct {
	ctx     context.Context
	mu      sync.Mutex
	console []string
	dialogs []string
}

// newTab starts a headless Chromium with the flags a root user on a
// closed network needs, with a window of the given size.
func newTab(t *testing.T, width, height int) *tab {
	t.Helper()
	path := chromium(t)
	parent, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	actx, cancelAlloc := chromedp.NewExecAllocator(parent,
		chromedp.ExecPath(path), chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true),
		chromedp.Flag("hide-scrollbars", true), chromedp.WindowSize(width, height))
	t.Cleanup(cancelAlloc)
	b := &tab{}
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithListener(b.listen))
	t.Cleanup(cancelTab)
	b.ctx = ctx
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return b
}

// listen records console errors and warnings, uncaught exceptions,
// browser log entries (CSP violations, failed loads) and dialogs.
func (b *tab) listen(ev any) {
	var msg string
	switch e := ev.(type) {
	case *runtime.EventExceptionThrown:
		msg = "exception: " + e.ExceptionDetails.Text
		if e.ExceptionDetails.Exception != nil {
			msg += " " + e.ExceptionDetails.Exception.Description
		}
	case *runtime.EventConsoleAPICalled:
		if e.Type != runtime.ConsoleAPICalledTypeError && e.Type != runtime.ConsoleAPICalledTypeWarning && e.Type != runtime.ConsoleAPICalledTypeAssert {
			return
		}
		msg = "console." + string(e.Type) + ":"
		for _, a := range e.Args {
			msg += " " + string(a.Value) + a.Description
		}
	case *log.EventEntryAdded:
		if e.Entry.Level != log.EntryLevelError && e.Entry.Level != log.EntryLevelWarning {
			return
		}
		msg = "log " + string(e.Entry.Source) + " " + string(e.Entry.Level) + ": " + e.Entry.Text + " " + e.Entry.URL
	case *page.EventJavascriptDialogOpening:
		b.mu.Lock()
		b.dialogs = append(b.dialogs, string(e.Type)+": "+e.Message)
		b.mu.Unlock()
		return
	default:
		return
	}
	b.mu.Lock()
	b.console = append(b.console, msg)
	b.mu.Unlock()
}

// take returns and forgets what the console said.
func (b *tab) take() (console, dialogs []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	console, dialogs = b.console, b.dialogs
	b.console, b.dialogs = nil, nil
	return console, dialogs
}

// open loads a page, waits until its charts are drawn (when scripts
// run), and returns its HTTP status.
func (b *tab) open(t *testing.T, url string) int64 {
	t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Navigate(url))
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	b.settle(t, url)
	return resp.Status
}

// settle waits until the document is loaded and every chart drawn.
func (b *tab) settle(t *testing.T, what string) {
	t.Helper()
	var err error
	for range 20 {
		_, err = chromedp.Run(b.ctx, chromedp.Poll[bool](`document.readyState === "complete" &&
			(!document.documentElement.classList.contains("js") ||
			 Array.from(document.querySelectorAll("figure.chart")).every(f => f.dataset.drawn === "true"))`,
			chromedp.WithPollingTimeout(20*time.Second)))
		// A poll that starts as the page changes loses its context; try
		// again in the new one.
		if err == nil || !strings.Contains(err.Error(), "context with specified id") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("%s: the page did not finish (charts not drawn?): %v", what, err)
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](t *testing.T, b *tab, js string) T {
	t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// signIn signs in through the sign-in page's form, as a person would,
// and returns the status of the page it lands on.
func (b *tab) signIn(t *testing.T, base, token, next string) int64 {
	t.Helper()
	b.open(t, base+SignInPath(next))
	if err := chromedp.Do(b.ctx, chromedp.SendKeys("#token", token)); err != nil {
		t.Fatal(err)
	}
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Click(`form button[type="submit"]`))
	if err != nil {
		t.Fatalf("sign in: %v", err)
	}
	b.settle(t, "after signing in")
	return resp.Status
}

// clean fails the test when the console said anything or a dialog
// opened. The browser logs the status of a page that is an error (401,
// 403, 404) as a failed load: refused lists the URLs where that is
// expected.
func (b *tab) clean(t *testing.T, what string, refused ...string) {
	t.Helper()
	console, dialogs := b.take()
	for _, m := range console {
		if u, ok := strings.CutPrefix(m, "log network error: Failed to load resource: the server responded with a status of "); ok &&
			slices.ContainsFunc(refused, func(r string) bool { return strings.HasSuffix(u, ") "+r) }) {
			continue
		}
		t.Errorf("%s: console: %s", what, m)
	}
	for _, d := range dialogs {
		t.Errorf("%s: a dialog opened: %s", what, d)
	}
}

func plotted(p *float64) string {
	if p == nil {
		return "null"
	}
	return fmt.Sprint(*p)
}

// drawnChart is what a chart figure says it drew, and its canvas.
type drawnChart struct {
	ID      string
	Drawn   string
	Days    []string
	Series  []chartSeries
	Plotted [][]*float64
	Totals  []string
	Legend  []string // the legend's values, pointer off the chart
	Canvas  int      // canvases in the figure
	Painted int      // pixels with some colour on them
}

func (b *tab) charts(t *testing.T) []drawnChart {
	t.Helper()
	raw := eval[string](t, b, `JSON.stringify(Array.from(document.querySelectorAll("figure.chart")).map(f => {
		const cs = f.querySelectorAll("canvas");
		let painted = 0;
		for (const c of cs) {
			const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
			for (let i = 3; i < d.length; i += 4) if (d[i] > 0) painted++;
		}
		return {ID: f.dataset.chart, Drawn: f.dataset.drawn || "", Days: JSON.parse(f.dataset.days || "[]"),
			Series: JSON.parse(f.dataset.series || "[]"), Plotted: JSON.parse(f.dataset.plotted || "[]"),
			Totals: JSON.parse(f.dataset.totals || "[]"),
			Legend: Array.from(f.querySelectorAll(".u-legend .u-series .u-value")).map(v => v.textContent),
			Canvas: cs.length, Painted: painted};
	}))`)
	var cs []drawnChart
	if err := json.Unmarshal([]byte(raw), &cs); err != nil {
		t.Fatal(err)
	}
	return cs
}

// tableCells returns, per row of a table's body, the data-value of each
// cell that has one, and its text without thousands separators.
func (b *tab) tableCells(t *testing.T, id string) (values, texts [][]string) {
	t.Helper()
	raw := eval[string](t, b, fmt.Sprintf(`JSON.stringify(Array.from(document.querySelectorAll("#%s tbody tr")).map(tr =>
		Array.from(tr.querySelectorAll("td[data-value]")).map(td => [td.dataset.value, td.textContent.trim()])))`, id))
	var rows [][][2]string
	if err := json.Unmarshal([]byte(raw), &rows); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		var vs, ts []string
		for _, c := range r {
			vs = append(vs, c[0])
			ts = append(ts, strings.ReplaceAll(c[1], ",", ""))
		}
		values, texts = append(values, vs), append(texts, ts)
	}
	return values, texts
}

// wantCharts returns the charts a page's model says it has.
func wantCharts(t *testing.T, p Page) map[string]*chart {
	t.Helper()
	m := map[string]*chart{}
	add := func(c *chart, err error) {
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Rows) > 0 {
			m[c.ID] = c
		}
	}
	switch p := p.(type) {
	case *Overview:
		add(seriesChart("requests", "", "requests", p.Requests))
		add(seriesChart("bytes", "", "bytes", p.Bytes))
		add(cacheChart(p.Cache))
		add(edgeOriginChart(p.EdgeOrigin))
	case *CustomerPage:
		add(seriesChart("requests", "", "requests", p.Requests))
		add(seriesChart("bytes", "", "bytes", p.Bytes))
	case *CoveragePage:
		add(coverageChart(p.Days))
	}
	return m
}

// checkCharts checks that every chart of the page was drawn with the
// model's numbers, exactly, and that the table beside it shows the same.
func checkCharts(t *testing.T, b *tab, what string, p Page) {
	t.Helper()
	want := wantCharts(t, p)
	got := b.charts(t)
	if len(got) != len(want) {
		t.Errorf("%s: %d charts, want %d", what, len(got), len(want))
	}
	for _, g := range got {
		w := want[g.ID]
		if w == nil {
			t.Errorf("%s: an unexpected chart %q", what, g.ID)
			continue
		}
		if g.Drawn != "true" || g.Canvas == 0 || g.Painted < 500 {
			t.Errorf("%s: chart %s not drawn: drawn=%q, %d canvases, %d pixels painted", what, g.ID, g.Drawn, g.Canvas, g.Painted)
		}
		if !slices.Equal(g.Days, w.Data.Days) {
			t.Errorf("%s: chart %s has days %v, want %v", what, g.ID, g.Days, w.Data.Days)
		}
		if len(g.Series) != len(w.Data.Series) || len(g.Plotted) != len(w.Data.Series) {
			t.Errorf("%s: chart %s has %d lines (%d plotted), want %d", what, g.ID, len(g.Series), len(g.Plotted), len(w.Data.Series))
			continue
		}
		for i, s := range w.Data.Series {
			if g.Series[i].Label != s.Label || !slices.Equal(g.Series[i].Values, s.Values) {
				t.Errorf("%s: chart %s line %d is %q %v, want %q %v", what, g.ID, i, g.Series[i].Label, g.Series[i].Values, s.Label, s.Values)
			}
			for j, v := range s.Values {
				var f float64
				fmt.Sscan(v, &f)
				if p := g.Plotted[i][j]; (v == "") != (p == nil) || p != nil && *p != f {
					t.Errorf("%s: chart %s line %d day %d: plotted %s for %q", what, g.ID, i, j, plotted(p), v)
				}
			}
		}
		// The legend shows each line's exact total (the first entry is
		// the days'), and the figure says so.
		if len(g.Legend) != len(w.Data.Series)+1 || len(g.Totals) != len(w.Data.Series) {
			t.Errorf("%s: chart %s legend %v totals %v", what, g.ID, g.Legend, g.Totals)
		} else {
			for i, s := range w.Data.Series {
				want, shown := "", "—"
				if w.Unit != "%" {
					sum := i128(0)
					for _, v := range s.Values {
						n, _ := keymeter.ParseInt128(v)
						sum = sum.Add(n)
					}
					want, shown = sum.String(), count(sum)
					if w.Unit == "bytes" {
						shown += " B"
					}
				}
				if g.Totals[i] != want || g.Legend[i+1] != shown {
					t.Errorf("%s: chart %s line %d: total %q legend %q, want %q %q", what, g.ID, i, g.Totals[i], g.Legend[i+1], want, shown)
				}
			}
		}
		// The table of a series chart: a row per day, a cell per line.
		if g.ID != "requests" && g.ID != "bytes" {
			continue
		}
		values, texts := b.tableCells(t, "table-"+g.ID)
		if len(values) != len(w.Data.Days) {
			t.Errorf("%s: table %s has %d rows, want %d", what, g.ID, len(values), len(w.Data.Days))
			continue
		}
		for j := range values {
			for i, s := range w.Data.Series {
				if i >= len(values[j]) || values[j][i] != s.Values[j] || texts[j][i] != s.Values[j] {
					t.Errorf("%s: table %s day %d line %d: %v %v, want %s", what, g.ID, j, i, values[j], texts[j], s.Values[j])
					break
				}
			}
		}
	}
	// The cache table's ratios are the chart's.
	if c := want["cache"]; c != nil {
		ratios := eval[[]string](t, b, `Array.from(document.querySelectorAll("#table-cache td.ratio")).map(td => td.textContent.trim())`)
		for j, v := range c.Data.Series[0].Values {
			if j >= len(ratios) || ratios[j] != v+"%" {
				t.Errorf("%s: cache table day %d shows %v, the chart %s%%", what, j, ratios, v)
				break
			}
		}
	}
}

// TestBrowserAdmin signs in as an admin through the form and reads every
// admin page: no console errors or policy violations, charts drawn with
// the model's numbers, tables with the same numbers.
func TestBrowserAdmin(t *testing.T) {
	srv := fixtureServer(t, false)
	b := newTab(t, 1280, 900)
	if status := b.signIn(t, srv.URL, "admin-token", ""); status != 200 {
		t.Fatalf("signing in landed on status %d", status)
	}
	if got := eval[string](t, b, `document.body.dataset.page`); got != "overview" {
		t.Errorf("signed in on the %q page, want the overview", got)
	}
	b.clean(t, "sign in")
	pages := []struct {
		path string
		page Page
	}{
		{"/", fixtureOverview(admin)},
		{CustomerPath("acme"), fixtureCustomerPage(t, admin, "acme")},
		{CustomerPath("globex"), fixtureCustomerPage(t, admin, "globex")},
		{PathInvoices, nil},
		{CustomerInvoicesPath("initech"), nil},
		{InvoicePath("acme", "2025-10"), nil},
		{InvoicePath("acme", "2025-09"), nil},
		{PathIngestion, nil},
		{PathRejects, nil},
		{PathCoverage, fixtureCoverage(admin)},
	}
	for _, pg := range pages {
		if status := b.open(t, srv.URL+pg.path); status != 200 {
			t.Errorf("%s: status %d", pg.path, status)
		}
		b.clean(t, pg.path)
		if pg.page != nil {
			checkCharts(t, b, pg.path, pg.page)
		}
		if *screenshots != "" && pg.path == "/" {
			screenshot(t, b, filepath.Join(*screenshots, "dashboard.png"))
		}
	}

	// The overview's tables carry the model's numbers.
	b.open(t, srv.URL+"/")
	ov := fixtureOverview(admin)
	values, _ := b.tableCells(t, "table-customers")
	for i, r := range ov.ByCustomer.Rows {
		if i >= len(values) || values[i][0] != r.Requests.String() || values[i][1] != r.BytesSent.String() {
			t.Errorf("customers table row %d: %v, want %s %s", i, values, r.Requests, r.BytesSent)
		}
	}
	if got := eval[string](t, b, `document.querySelector(".total-requests").dataset.value`); got != ov.Totals.Requests.String() {
		t.Errorf("total requests %s, want %s", got, ov.Totals.Requests)
	}

	// The printable invoice: billing/invoice's page, styled, under its
	// own policy, with nothing blocked.
	if status := b.open(t, srv.URL+InvoicePrintPath("acme", "2025-09")); status != 200 {
		t.Errorf("print: status %d", status)
	}
	b.clean(t, "print")
	if got := eval[string](t, b, `getComputedStyle(document.body).backgroundColor + " " + document.querySelector("article.invoice h1").textContent`); got != "rgb(238, 240, 244) Invoice KM-000003" {
		t.Errorf("the printable invoice is %q: not styled, or not acme's", got)
	}

	// Signing out ends the session.
	b.open(t, srv.URL+"/")
	if _, err := chromedp.RunResponse(b.ctx, chromedp.Click(`form.signout button`)); err != nil {
		t.Fatal(err)
	}
	if status := b.open(t, srv.URL+PathIngestion); status != 401 {
		t.Errorf("after signing out, ingestion is %d, want 401", status)
	}
	b.clean(t, "signed out", srv.URL+PathIngestion)
	// The 401 page leads to the sign-in page, which returns to the page.
	if _, err := chromedp.RunResponse(b.ctx, chromedp.Click(`section.error-page a`)); err != nil {
		t.Fatal(err)
	}
	b.settle(t, "sign-in link")
	if status := b.signIn(t, srv.URL, "admin-token", PathIngestion); status != 200 {
		t.Errorf("signing in again: status %d", status)
	}
	if got := eval[string](t, b, `location.pathname`); got != PathIngestion {
		t.Errorf("signed in again on %s, want %s", got, PathIngestion)
	}
	b.clean(t, "signed in again")
}

// TestBrowserPortal signs in as customer acme and reads its pages: its
// own figures and nothing of another customer, no link to an admin page,
// and every way to another customer's page, or an admin page, refused.
func TestBrowserPortal(t *testing.T) {
	srv := fixtureServer(t, false)
	b := newTab(t, 1280, 900)
	if status := b.signIn(t, srv.URL, "acme-token", ""); status != 200 {
		t.Fatalf("signing in landed on status %d", status)
	}
	if got := eval[string](t, b, `location.pathname`); got != CustomerPath("acme") {
		t.Errorf("signed in on %s, want acme's page", got)
	}
	b.clean(t, "sign in")

	// What must never appear on acme's pages: the other customers, their
	// keys (fingerprints and hints), their invoices.
	var foreign []string
	for _, c := range []string{"globex", "initech"} {
		foreign = append(foreign, c)
		for _, k := range fixtureKeys[c] {
			fp := fixtureKey(k)
			foreign = append(foreign, fp.Fingerprint, "…"+fp.Hint)
		}
		for _, d := range fixtureFinal(t, c) {
			foreign = append(foreign, d.Number)
		}
	}
	for _, k := range slices.Concat(fixtureKeys["acme"], fixtureKeys["globex"], fixtureKeys["initech"]) {
		foreign = append(foreign, k) // no raw key, of anyone
	}
	noForeign := func(what string) {
		t.Helper()
		html := eval[string](t, b, `document.documentElement.outerHTML`)
		for _, f := range foreign {
			if strings.Contains(html, f) {
				t.Errorf("%s: the page shows %q", what, f)
			}
		}
		links := eval[[]string](t, b, `Array.from(document.querySelectorAll("a[href]")).map(a => new URL(a.href).pathname)`)
		for _, l := range links {
			if !strings.HasPrefix(l, CustomerPath("acme")) && !strings.HasPrefix(l, PathAssets) {
				t.Errorf("%s: a link to %s", what, l)
			}
		}
	}

	own := []struct {
		path string
		page Page
	}{
		{CustomerPath("acme"), fixtureCustomerPage(t, acme, "acme")},
		{CustomerInvoicesPath("acme"), nil},
		{InvoicePath("acme", "2025-10"), nil},
		{InvoicePath("acme", "2025-09"), nil},
		{InvoicePrintPath("acme", "2025-08"), nil},
	}
	for _, pg := range own {
		if status := b.open(t, srv.URL+pg.path); status != 200 {
			t.Errorf("%s: status %d", pg.path, status)
		}
		b.clean(t, pg.path)
		noForeign(pg.path)
		if pg.page != nil {
			checkCharts(t, b, pg.path, pg.page)
		}
		if *screenshots != "" && pg.path == CustomerPath("acme") {
			screenshot(t, b, filepath.Join(*screenshots, "portal.png"))
		}
	}
	// The invoice and the draft show the documents' amounts, exactly.
	b.open(t, srv.URL+InvoicePath("acme", "2025-09"))
	doc := fixtureDocument(t, "acme", "2025-09")
	var want []string
	for _, l := range doc.Lines {
		want = append(want, money(doc.Currency, l.Amount))
	}
	want = append(want, money(doc.Currency, doc.Total))
	got := eval[[]string](t, b, `Array.from(document.querySelectorAll("#table-lines tbody tr.line td.amount, #table-lines tr.total td.amount")).map(td => td.textContent)`)
	if !slices.Equal(got, want) {
		t.Errorf("acme's September invoice shows %v, want %v", got, want)
	}
	b.open(t, srv.URL+CustomerPath("acme"))
	draft := fixtureDraft(t, "acme")
	got = eval[[]string](t, b, `[document.querySelector(".draft-total").textContent, document.querySelector(".projected-total").textContent]`)
	if want := []string{money(draft.Document.Currency, draft.Document.Total) + " USD", money(draft.Projected.Currency, draft.Projected.Total) + " USD"}; !slices.Equal(got, want) {
		t.Errorf("the draft shows %v, want %v", got, want)
	}

	// The portal's navigation: acme's usage and invoices, and nothing else.
	nav := eval[[]string](t, b, `Array.from(document.querySelectorAll("header nav a")).map(a => a.getAttribute("href"))`)
	if !slices.Equal(nav, []string{CustomerPath("acme"), CustomerInvoicesPath("acme")}) {
		t.Errorf("the portal's navigation is %v", nav)
	}

	// Another customer's pages, and the admin's, are refused whole: the
	// fixture server hands Render globex's models, and Render refuses.
	for path, want := range map[string]int64{
		CustomerPath("globex"):                403,
		CustomerInvoicesPath("globex"):        403,
		InvoicePath("globex", "2025-09"):      403,
		InvoicePrintPath("globex", "2025-09"): 403,
		InvoicePath("initech", "2025-10"):     403,
		PathInvoices:                          403,
		PathIngestion:                         403,
		PathRejects:                           403,
		PathCoverage:                          403,
		"/customers/nobody":                   404,
		"/":                                   200, // redirected to acme's page
	} {
		if status := b.open(t, srv.URL+path); status != want {
			t.Errorf("%s: status %d, want %d", path, status, want)
		}
		noForeign(path)
		b.clean(t, path, srv.URL+path)
	}
}

// TestBrowserHostileText reads pages whose paths, user agents, names and
// errors are hostile: nothing runs, nothing becomes markup, and a person
// reads the text as it was logged, invalid bytes as \xHH.
func TestBrowserHostileText(t *testing.T) {
	srv := fixtureServer(t, true)
	b := newTab(t, 1280, 900)
	b.signIn(t, srv.URL, "admin-token", "")
	b.clean(t, "sign in")
	var text strings.Builder
	for _, path := range []string{"/", PathIngestion, PathRejects} {
		if status := b.open(t, srv.URL+path); status != 200 {
			t.Errorf("%s: status %d", path, status)
		}
		b.clean(t, path)
		counts := eval[[]int](t, b, `[document.scripts.length, document.querySelectorAll('script[type="application/json"]').length,
			document.querySelectorAll("img, svg, iframe, b, object, embed").length]`)
		own := counts[1]
		if counts[1] > 0 {
			own += 2
		}
		if counts[0] != own || counts[2] != 0 {
			t.Errorf("%s: %d scripts (%d of them data), %d injected elements", path, counts[0], counts[1], counts[2])
		}
		text.WriteString(eval[string](t, b, `document.body.textContent`))
		if path == "/" {
			checkCharts(t, b, path, hostileOverview(admin))
			// The legend and table show a label as text.
			if got := eval[string](t, b, `document.querySelector("#table-requests thead th:nth-child(2)").textContent`); got != hostileCustomer {
				t.Errorf("the requests table's first column is %q", got)
			}
		}
	}
	for _, s := range hostileStrings {
		if !strings.Contains(text.String(), s) {
			t.Errorf("the pages do not show %q as text", s)
		}
	}
}

// TestBrowserWithoutJavaScript reads the overview and a customer's page
// with scripts off: no chart, every table there and open, with the same
// numbers.
func TestBrowserWithoutJavaScript(t *testing.T) {
	srv := fixtureServer(t, false)
	b := newTab(t, 1280, 900)
	b.signIn(t, srv.URL, "admin-token", "")
	noScript := chromedp.Action[chromedp.Void](func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return chromedp.Void{}, err
	})
	if err := chromedp.Do(b.ctx, noScript); err != nil {
		t.Fatal(err)
	}
	for path, p := range map[string]Page{"/": fixtureOverview(admin), CustomerPath("initech"): fixtureCustomerPage(t, admin, "initech")} {
		b.open(t, srv.URL+path)
		b.clean(t, path)
		state := eval[[]string](t, b, `[String(document.documentElement.classList.contains("js")),
			Array.from(document.querySelectorAll("figure.chart")).map(f => getComputedStyle(f).display).join(","),
			Array.from(document.querySelectorAll("details.data")).map(d => String(d.open)).join(","),
			String(document.querySelectorAll("figure.chart canvas").length)]`)
		charts := len(wantCharts(t, p))
		if state[0] != "false" || state[1] != strings.Repeat(",none", charts)[1:] || state[2] != strings.Repeat(",true", charts)[1:] || state[3] != "0" {
			t.Errorf("%s without scripts: js=%s, charts %q, tables open %q, %s canvases", path, state[0], state[1], state[2], state[3])
		}
		for id, c := range wantCharts(t, p) {
			if id != "requests" && id != "bytes" {
				continue
			}
			_, texts := b.tableCells(t, "table-"+id)
			for j, row := range texts {
				for i, s := range c.Data.Series {
					if row[i] != s.Values[j] {
						t.Errorf("%s: table %s day %d line %d shows %s, want %s", path, id, j, i, row[i], s.Values[j])
					}
				}
			}
		}
	}
}

// screenshot saves the visible part of the page as a PNG, for the README.
func screenshot(t *testing.T, b *tab, file string) {
	t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if len(png) > 300<<10 {
		t.Errorf("%s: %d bytes, want under 300 KB", file, len(png))
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", file, len(png))
}
