package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// pdfPage matches a page object of a PDF.
var pdfPage = regexp.MustCompile(`/Type\s*/Page[^s]`)

// chromium returns the headless browser the HTML tests use:
// $KEYMETER_CHROMIUM, or chromium on the PATH. Without one the test is
// skipped, or fails when KEYMETER_REQUIRE_SERVERS=1 (scripts/testenv.sh
// installs Chromium and sets both).
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

// browser starts a headless Chromium with the flags a root user on a
// closed network needs, and returns a context for one tab.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := chromium(t)
	parent, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	actx, cancelAlloc := chromedp.NewExecAllocator(parent,
		chromedp.ExecPath(path), chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true),
		chromedp.WindowSize(1000, 1400))
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(cancelTab)
	return ctx
}

// TestInvoiceHTMLInBrowser renders invoices as HTML with the real CLI,
// loads the page in headless Chromium and reads what a person would see:
// the totals and lines, on screen and in print.
func TestInvoiceHTMLInBrowser(t *testing.T) {
	ctx := browser(t)
	c := newCLI(t)
	sample := filepath.Join("..", "..", "testdata", "sample")
	b, err := os.ReadFile(filepath.Join(sample, "billing.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(c.data, "billing.yaml"), string(b))
	c.ok("keys", "import", filepath.Join(sample, "keys.csv"))
	c.ok("ingest", "--quiet", filepath.Join(sample, "logs"))
	c.now = func() time.Time { return time.Date(2025, 11, 3, 0, 0, 0, 0, time.UTC) }
	// The sample's logs end with October: keymeter cannot know that they
	// are complete (the watermark), so finalizing needs --force.
	c.ok("invoice", "finalize", "--period", "2025-10", "--customer", "acme", "--force")
	docs := decodeDocs(t, c.ok("invoice", "--period", "2025-10", "--format", "json"))
	page := c.ok("invoice", "--period", "2025-10", "--format", "html")

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(page))
	}))
	defer srv.Close()
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL), chromedp.WaitVisible(chromedp.CSS("article.invoice tr.total td.amount"))); err != nil {
		t.Fatal(err)
	}

	type shown struct {
		Customer, Status, Title, Total string
		Items, Amounts                 []string
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[]shown](`Array.from(document.querySelectorAll("article.invoice")).map(a => ({
		Customer: a.dataset.customer,
		Status: a.querySelector(".status").innerText.trim(),
		Title: a.querySelector("h1").innerText.trim(),
		Total: a.querySelector("tr.total td.amount").innerText.trim(),
		Items: Array.from(a.querySelectorAll("tbody tr.line td.item")).map(td => td.firstChild.textContent.trim()),
		Amounts: Array.from(a.querySelectorAll("tbody tr.line td.amount")).map(td => td.innerText.trim()),
	}))`))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(docs) || len(got) != 2 {
		t.Fatalf("the page shows %d invoices, want %d: %+v", len(got), len(docs), got)
	}
	for _, s := range got {
		d := docs[s.Customer]
		if d == nil {
			t.Errorf("the page shows an invoice of %q", s.Customer)
			continue
		}
		if want := d.Currency.Format(d.Total); strings.ReplaceAll(s.Total, ",", "") != want {
			t.Errorf("%s: the total shown is %q, want %q", s.Customer, s.Total, want)
		}
		if strings.ToLower(s.Status) != string(d.Status) || s.Title != d.Title() {
			t.Errorf("%s: shown as %q %q, want %q %q", s.Customer, s.Title, s.Status, d.Title(), d.Status)
		}
		if len(s.Items) != len(d.Lines) || len(s.Amounts) != len(d.Lines) {
			t.Errorf("%s: %d lines shown, want %d", s.Customer, len(s.Items), len(d.Lines))
			continue
		}
		for i, l := range d.Lines {
			if !strings.HasPrefix(s.Items[i], l.Description) || strings.ReplaceAll(s.Amounts[i], ",", "") != d.Currency.Format(l.Amount) {
				t.Errorf("%s line %d: shown %q %q, want %q %s", s.Customer, i+1, s.Items[i], s.Amounts[i], l.Description, d.Currency.Format(l.Amount))
			}
		}
	}
	if got[0].Customer != "acme" || got[0].Title != "Invoice KM-000001" || got[1].Status != "DRAFT" {
		t.Errorf("acme's final invoice, then globex's draft: %+v", got)
	}

	// On screen the queries are folded away, in print they are gone, and
	// each invoice starts a page.
	printMedia := chromedp.Action[chromedp.Void](func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"})
		return chromedp.Void{}, err
	})
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) || len(png) < 10_000 {
		t.Errorf("screenshot: %d bytes, %v", len(png), err)
	}
	if err := chromedp.Do(ctx, printMedia); err != nil {
		t.Fatal(err)
	}
	display, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("details.queries")).display`))
	if err != nil || display != "none" {
		t.Errorf("in print, the queries are displayed %q (%v), want none", display, err)
	}
	pdf, err := chromedp.Run(ctx, chromedp.PrintToPDF(chromedp.PDFPaper(chromedp.PaperA4)))
	if err != nil || !bytes.HasPrefix(pdf, []byte("%PDF-")) || len(pdf) < 5_000 {
		t.Fatalf("print to PDF: %d bytes, %v", len(pdf), err)
	}
	if pages := len(pdfPage.FindAll(pdf, -1)); pages != len(docs) {
		t.Errorf("the PDF has %d pages; want one per invoice, %d", pages, len(docs))
	}
	if os.Getenv("KEYMETER_KEEP_PDF") != "" {
		os.WriteFile(os.Getenv("KEYMETER_KEEP_PDF"), pdf, 0o644)
	}
}
