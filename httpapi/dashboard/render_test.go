package dashboard

import (
	"bytes"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

var (
	admin = AdminViewer("csrf-admin")
	acme  = PortalViewer("acme", "csrf-acme")
)

// goldenPage is a page of the golden tests: its name (the file in
// testdata/golden), the model and the status it is sent with.
type goldenPage struct {
	name   string
	page   Page
	status int
}

func goldenPages(t testing.TB) []goldenPage {
	return []goldenPage{
		{"overview", fixtureOverview(admin), 200},
		{"customer-acme", fixtureCustomerPage(t, admin, "acme"), 200},
		{"portal-customer-acme", fixtureCustomerPage(t, acme, "acme"), 200},
		{"invoices", fixtureInvoicesPage(t, admin, ""), 200},
		{"portal-invoices-acme", fixtureInvoicesPage(t, acme, "acme"), 200},
		{"invoice-acme-2025-10", &InvoicePage{Frame: Frame{Viewer: admin, AsOf: fixtureAsOf}, Document: fixtureDocument(t, "acme", "2025-10")}, 200},
		{"portal-invoice-acme-2025-09", &InvoicePage{Frame: Frame{Viewer: acme, AsOf: fixtureAsOf}, Document: fixtureDocument(t, "acme", "2025-09")}, 200},
		{"ingestion", fixtureIngestion(admin), 200},
		{"rejects", fixtureRejects(admin), 200},
		{"coverage", fixtureCoverage(admin), 200},
		{"coverage-empty", &CoveragePage{Frame: Frame{Viewer: admin}}, 200},
		{"signin", &SignInPage{CSRF: "csrf-signin", Next: "/customers/acme", Error: "That token is not valid or was revoked."}, 401},
		{"error-401", &ErrorPage{Status: 401, Next: "/ingestion"}, 401},
		{"error-403", &ErrorPage{Frame: Frame{Viewer: acme}, Status: 403}, 403},
		{"error-404", &ErrorPage{Frame: Frame{Viewer: admin}, Status: 404}, 404},
	}
}

// render renders p and returns the response.
func render(t testing.TB, p Page) (*httptest.ResponseRecorder, error) {
	t.Helper()
	rec := httptest.NewRecorder()
	err := Render(rec, p)
	return rec, err
}

// TestGolden renders every page from the fixtures and compares it with
// its golden file (go test -update rewrites them).
func TestGolden(t *testing.T) {
	for _, g := range goldenPages(t) {
		t.Run(g.name, func(t *testing.T) {
			rec, err := render(t, g.page)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Code != g.status {
				t.Errorf("status %d, want %d", rec.Code, g.status)
			}
			body := rec.Body.Bytes()
			if !utf8.Valid(body) {
				t.Error("the page is not valid UTF-8")
			}
			file := filepath.Join("testdata", "golden", g.name+".html")
			if *update {
				if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(file, body, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run go test -update to write it)", err)
			}
			if !bytes.Equal(body, want) {
				t.Errorf("the page differs from %s (go test -update rewrites it); first difference at line %d", file, firstDiff(body, want))
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return i + 1
		}
	}
	return min(len(la), len(lb)) + 1
}

// TestHeaders checks the headers of every page: HTML, the strict
// policy, no sniffing, no framing, no caching.
func TestHeaders(t *testing.T) {
	for _, g := range goldenPages(t) {
		rec, err := render(t, g.page)
		if err != nil {
			t.Fatal(err)
		}
		h := rec.Result().Header
		want := map[string]string{
			"Content-Type":            "text/html; charset=utf-8",
			"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
			"X-Content-Type-Options":  "nosniff",
			"X-Frame-Options":         "DENY",
			"Cache-Control":           "no-store",
		}
		for k, v := range want {
			if got := h.Get(k); got != v {
				t.Errorf("%s: %s is %q, want %q", g.name, k, got, v)
			}
		}
	}
}

// TestPagesHaveNoInlineCode checks that a page holds no script but the
// package's own files and its JSON data, and no inline style, so that
// the policy blocks nothing a page needs.
func TestPagesHaveNoInlineCode(t *testing.T) {
	for _, g := range goldenPages(t) {
		rec, _ := render(t, g.page)
		body := rec.Body.String()
		for _, tag := range strings.Split(body, "<script")[1:] {
			open, _, _ := strings.Cut(tag, ">")
			switch {
			case strings.Contains(open, `type="application/json"`):
			case strings.Contains(open, `src="/assets/`) && strings.HasPrefix(tag[len(open)+1:], "</script>"):
			default:
				t.Errorf("%s: a script that is neither an asset nor JSON data: <script%s>", g.name, open)
			}
		}
		for _, bad := range []string{"<style", " style=", "javascript:", " onload=", " onclick=", "http://", "https://"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s: the page contains %q", g.name, bad)
			}
		}
	}
}

// TestRenderWritesNothingOnTemplateError: a model the templates cannot
// show (a series with a value missing) gives a 500 page and an error,
// never half a page.
func TestRenderWritesNothingOnTemplateError(t *testing.T) {
	p := fixtureOverview(admin)
	p.Requests.Lines[0].Values = p.Requests.Lines[0].Values[1:]
	rec, err := render(t, p)
	if err == nil || !strings.Contains(err.Error(), "values for 19 days") {
		t.Fatalf("error %v, want one about the line's values", err)
	}
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "acme") {
		t.Errorf("status %d, body has the page's data: %v", rec.Code, strings.Contains(rec.Body.String(), "acme"))
	}
	if !strings.Contains(rec.Body.String(), "500 · Internal Server Error") {
		t.Errorf("not the 500 page:\n%s", rec.Body)
	}
}
