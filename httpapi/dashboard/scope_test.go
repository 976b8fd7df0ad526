package dashboard

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/keymeter/keymeter/billing/invoice"
)

// refusedPage renders p and checks that it was refused with status and
// ErrScope, showing none of secret.
func refusedPage(t *testing.T, what string, p Page, status int, secret ...string) {
	t.Helper()
	rec, err := render(t, p)
	if !errors.Is(err, ErrScope) {
		t.Errorf("%s: error %v, want ErrScope", what, err)
	}
	if rec.Code != status {
		t.Errorf("%s: status %d, want %d", what, rec.Code, status)
	}
	for _, s := range secret {
		if strings.Contains(rec.Body.String(), s) {
			t.Errorf("%s: the refusal shows %q", what, s)
		}
	}
}

// TestPortalScope: a customer's session is never shown an admin page,
// nor anything of another customer, however the model came to hold it;
// nobody is shown any page but sign-in and errors.
func TestPortalScope(t *testing.T) {
	globexKey := fixtureKey(fixtureKeys["globex"][0]).Fingerprint
	for name, p := range map[string]Page{
		"overview":  fixtureOverview(acme),
		"ingestion": fixtureIngestion(acme),
		"rejects":   fixtureRejects(acme),
		"coverage":  fixtureCoverage(acme),
		"invoices":  fixtureInvoicesPage(t, acme, ""),
	} {
		refusedPage(t, "admin page "+name, p, 403, "globex", globexKey, "s3://")
	}
	refusedPage(t, "globex's page", fixtureCustomerPage(t, acme, "globex"), 403, "globex", globexKey)
	refusedPage(t, "globex's invoices", fixtureInvoicesPage(t, acme, "globex"), 403, "globex", "KM-000002")
	refusedPage(t, "globex's invoice", &InvoicePage{Frame: Frame{Viewer: acme}, Document: fixtureDocument(t, "globex", "2025-09")}, 403, "globex", "KM-000002")

	// acme's own pages, with one thing of globex's slipped in.
	p := fixtureCustomerPage(t, acme, "acme")
	p.Invoices = append(p.Invoices, SummaryOf(fixtureDocument(t, "globex", "2025-09")))
	refusedPage(t, "acme's page with a globex invoice", p, 403, "globex", "KM-000002")
	p = fixtureCustomerPage(t, acme, "acme")
	p.Draft.Projected = fixtureDraft(t, "globex").Projected
	refusedPage(t, "acme's page with globex's projection", p, 403, "globex")
	l := fixtureInvoicesPage(t, acme, "acme")
	l.Invoices = append(l.Invoices, SummaryOf(fixtureDocument(t, "globex", "2025-09")))
	refusedPage(t, "acme's invoices with a globex invoice", l, 403, "globex", "KM-000002")

	// Nobody signed in.
	for name, p := range map[string]Page{
		"overview":      fixtureOverview(Viewer{}),
		"customer page": fixtureCustomerPage(t, Viewer{}, "acme"),
		"invoice":       &InvoicePage{Document: fixtureDocument(t, "acme", "2025-09")},
	} {
		refusedPage(t, "anonymous "+name, p, 401, "acme", "KM-000003")
	}

	// The same pages render for their own viewers.
	for name, p := range map[string]Page{
		"acme's page":     fixtureCustomerPage(t, acme, "acme"),
		"acme's invoices": fixtureInvoicesPage(t, acme, "acme"),
		"admin's globex":  fixtureCustomerPage(t, admin, "globex"),
	} {
		if rec, err := render(t, p); err != nil || rec.Code != 200 {
			t.Errorf("%s: %d %v", name, rec.Code, err)
		}
	}
}

// TestNoRawKey: a model with anything but a fingerprint where a key
// goes is not shown at all.
func TestNoRawKey(t *testing.T) {
	raw := fixtureKeys["acme"][0]
	p := fixtureCustomerPage(t, admin, "acme")
	p.Keys[0].Key.Fingerprint = raw
	rec, err := render(t, p)
	if err == nil || rec.Code != 500 || strings.Contains(rec.Body.String(), raw) {
		t.Errorf("a raw key as fingerprint: %d %v, shown %v", rec.Code, err, strings.Contains(rec.Body.String(), raw))
	}
	o := fixtureOverview(admin)
	o.ByKey[0].Key.Hint = raw
	rec, err = render(t, o)
	if err == nil || rec.Code != 500 || strings.Contains(rec.Body.String(), raw) {
		t.Errorf("a raw key as hint: %d %v", rec.Code, err)
	}
	o = fixtureOverview(admin)
	o.ByKey[0].Key.Fingerprint = strings.ToUpper(o.ByKey[0].Key.Fingerprint)
	if _, err := render(t, o); err == nil {
		t.Error("an upper-case fingerprint was shown")
	}
	o = fixtureOverview(admin)
	o.ByKey[0].Key.Fingerprint, o.ByKey[0].Key.Hint = "apikeyid:a1b2c3d4e5", ""
	if rec, err := render(t, o); err != nil || !strings.Contains(rec.Body.String(), "apikeyid:a1b2c3d4e5") {
		t.Errorf("an origin identity: %v", err)
	}
}

// TestPrintInvoice serves billing/invoice's printable page under a policy
// that allows its inline style by hash and nothing else, and refuses
// another customer's invoice.
func TestPrintInvoice(t *testing.T) {
	doc, err := fixtureDocument(t, "acme", "2025-09").Encode()
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	if err := PrintInvoice(w, acme, doc); err != nil || w.Code != 200 {
		t.Fatalf("%d %v", w.Code, err)
	}
	var want strings.Builder
	if err := invoice.WriteHTML(&want, [][]byte{doc}); err != nil {
		t.Fatal(err)
	}
	if w.Body.String() != want.String() {
		t.Error("the printable page is not invoice.WriteHTML's")
	}
	csp := w.Result().Header.Get("Content-Security-Policy")
	style := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(want.String())[1]
	sum := sha256.Sum256([]byte(style))
	if !strings.Contains(csp, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'") || !strings.HasPrefix(csp, "default-src 'none'; style-src ") || strings.Contains(csp, "script") {
		t.Errorf("policy %q", csp)
	}
	globex, _ := fixtureDocument(t, "globex", "2025-09").Encode()
	w = httptest.NewRecorder()
	if err := PrintInvoice(w, acme, doc, globex); !errors.Is(err, ErrScope) || w.Code != 403 || strings.Contains(w.Body.String(), "globex") {
		t.Errorf("acme printing globex's invoice: %d %v", w.Code, err)
	}
	w = httptest.NewRecorder()
	if err := PrintInvoice(w, Viewer{}, doc); !errors.Is(err, ErrScope) || w.Code != 401 {
		t.Errorf("nobody printing: %d %v", w.Code, err)
	}
	w = httptest.NewRecorder()
	if err := PrintInvoice(w, admin, []byte("{}")); err == nil || w.Code != 500 {
		t.Errorf("printing a broken document: %d %v", w.Code, err)
	}
}
