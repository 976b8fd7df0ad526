package dashboard

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestPathsMatchPatterns registers the patterns on a ServeMux and checks
// that every URL the pages link to reaches its handler with the names it
// was built from, whatever they hold.
func TestPathsMatchPatterns(t *testing.T) {
	var got struct{ pattern, customer, month string }
	mux := http.NewServeMux()
	for _, p := range []string{PatternOverview, PatternCustomer, PatternCustomerInvoices, PatternInvoice, PatternInvoicePrint,
		PatternInvoices, PatternIngestion, PatternRejects, PatternCoverage, PatternSignIn, PatternSignInSubmit, PatternSignOut, PatternAssets} {
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			got.pattern, got.customer, got.month = r.Pattern, r.PathValue("customer"), r.PathValue("month")
		})
	}
	for _, name := range []string{"acme", "o'brien", "a/b", "../admin", "50% off?", "x#y", `"><script>`, "ünï cödé", "a b"} {
		for url, want := range map[string]string{
			CustomerPath(name):                PatternCustomer,
			CustomerInvoicesPath(name):        PatternCustomerInvoices,
			InvoicePath(name, "2025-10"):      PatternInvoice,
			InvoicePrintPath(name, "2025-10"): PatternInvoicePrint,
		} {
			got.pattern = ""
			mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", url, nil))
			if got.pattern != want || got.customer != name || (want != PatternCustomer && want != PatternCustomerInvoices && got.month != "2025-10") {
				t.Errorf("%s: reached %q with customer %q month %q, want %q with %q", url, got.pattern, got.customer, got.month, want, name)
			}
		}
	}
	for url, want := range map[string]string{
		"/": PatternOverview, PathInvoices: PatternInvoices, PathIngestion: PatternIngestion, PathRejects: PatternRejects,
		PathCoverage: PatternCoverage, PathSignIn: PatternSignIn, SignInPath("/rejects"): PatternSignIn, "/assets/dashboard.css": PatternAssets,
	} {
		got.pattern = ""
		mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", url, nil))
		if got.pattern != want {
			t.Errorf("%s: reached %q, want %q", url, got.pattern, want)
		}
	}
	if SignInPath("//evil.example") != PathSignIn || SignInPath("/") != PathSignIn || SignInPath("/rejects?x=1") != "/signin?next=%2Frejects%3Fx%3D1" {
		t.Errorf("SignInPath: %q %q %q", SignInPath("//evil.example"), SignInPath("/"), SignInPath("/rejects?x=1"))
	}
}
