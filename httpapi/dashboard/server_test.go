package dashboard

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
)

// The fixture server is how the browser tests serve the pages: the
// package's patterns and handlers, fixture models instead of the store,
// and three tokens. It is a stand-in for keymeter serve, so it checks
// only what Render does not: that someone is signed in. It does NOT check
// that a customer asks for its own pages, on purpose: a customer asking
// for another customer's page gets the other customer's model, and the
// tests show that Render refuses it.

const sessionCookie = "km_session"

var fixtureTokens = map[string]Viewer{
	"admin-token":  admin,
	"acme-token":   acme,
	"globex-token": PortalViewer("globex", "csrf-globex"),
}

func fixtureServer(t testing.TB, hostile bool) *httptest.Server {
	mux := http.NewServeMux()
	viewer := func(r *http.Request) Viewer {
		c, err := r.Cookie(sessionCookie)
		if err != nil {
			return Viewer{}
		}
		return fixtureTokens[c.Value]
	}
	show := func(w http.ResponseWriter, r *http.Request, p Page) {
		if err := Render(w, p); err != nil {
			t.Logf("%s: %v", r.URL.Path, err)
		}
	}
	// page registers a handler that needs a signed-in viewer.
	page := func(pattern string, f func(w http.ResponseWriter, r *http.Request, v Viewer)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			v := viewer(r)
			if !v.SignedIn() {
				show(w, r, &ErrorPage{Status: http.StatusUnauthorized, Next: r.URL.RequestURI()})
				return
			}
			f(w, r, v)
		})
	}
	notFound := func(w http.ResponseWriter, r *http.Request, v Viewer) {
		show(w, r, &ErrorPage{Frame: Frame{Viewer: v}, Status: http.StatusNotFound})
	}
	customer := func(r *http.Request) (string, bool) {
		c := r.PathValue("customer")
		return c, slices.Contains(fixtureCustomers, c)
	}

	mux.Handle(PatternAssets, Assets())
	page(PatternOverview, func(w http.ResponseWriter, r *http.Request, v Viewer) {
		if v.Portal() {
			http.Redirect(w, r, CustomerPath(v.Customer), http.StatusSeeOther)
			return
		}
		p := fixtureOverview(v)
		if hostile {
			p = hostileOverview(v)
		}
		show(w, r, p)
	})
	page(PatternCustomer, func(w http.ResponseWriter, r *http.Request, v Viewer) {
		c, ok := customer(r)
		if !ok {
			notFound(w, r, v)
			return
		}
		show(w, r, fixtureCustomerPage(t, v, c))
	})
	page(PatternCustomerInvoices, func(w http.ResponseWriter, r *http.Request, v Viewer) {
		c, ok := customer(r)
		if !ok {
			notFound(w, r, v)
			return
		}
		show(w, r, fixtureInvoicesPage(t, v, c))
	})
	page(PatternInvoice, func(w http.ResponseWriter, r *http.Request, v Viewer) {
		d := fixtureDocument(t, r.PathValue("customer"), r.PathValue("month"))
		if d == nil {
			notFound(w, r, v)
			return
		}
		show(w, r, &InvoicePage{Frame: Frame{Viewer: v, AsOf: fixtureAsOf}, Document: d})
	})
	page(PatternInvoicePrint, func(w http.ResponseWriter, r *http.Request, v Viewer) {
		d := fixtureDocument(t, r.PathValue("customer"), r.PathValue("month"))
		if d == nil {
			notFound(w, r, v)
			return
		}
		b, err := d.Encode()
		if err != nil {
			t.Error(err)
			return
		}
		if err := PrintInvoice(w, v, b); err != nil {
			t.Logf("%s: %v", r.URL.Path, err)
		}
	})
	page(PatternInvoices, func(w http.ResponseWriter, r *http.Request, v Viewer) {
		show(w, r, fixtureInvoicesPage(t, v, ""))
	})
	page(PatternIngestion, func(w http.ResponseWriter, r *http.Request, v Viewer) {
		p := fixtureIngestion(v)
		if hostile {
			p = hostileIngestion(v)
		}
		show(w, r, p)
	})
	page(PatternRejects, func(w http.ResponseWriter, r *http.Request, v Viewer) {
		p := fixtureRejects(v)
		if hostile {
			p = hostileRejects(v)
		}
		show(w, r, p)
	})
	page(PatternCoverage, func(w http.ResponseWriter, r *http.Request, v Viewer) { show(w, r, fixtureCoverage(v)) })
	mux.HandleFunc(PatternSignIn, func(w http.ResponseWriter, r *http.Request) {
		show(w, r, &SignInPage{CSRF: "csrf-signin", Next: r.URL.Query().Get("next")})
	})
	mux.HandleFunc(PatternSignInSubmit, func(w http.ResponseWriter, r *http.Request) {
		token := r.PostFormValue("token")
		v, ok := fixtureTokens[token]
		if !ok || r.PostFormValue("csrf") != "csrf-signin" {
			show(w, r, &SignInPage{CSRF: "csrf-signin", Next: r.PostFormValue("next"), Error: "That token is not valid or was revoked."})
			return
		}
		http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		next := localPath(r.PostFormValue("next"))
		if next == "" {
			next = home(v)
		}
		http.Redirect(w, r, next, http.StatusSeeOther)
	})
	mux.HandleFunc(PatternSignOut, func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: "/", MaxAge: -1})
		http.Redirect(w, r, PathSignIn, http.StatusSeeOther)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { notFound(w, r, viewer(r)) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}
