package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keymeter/keymeter/httpapi"
)

// TestObserveAndSession checks what the serving process sees: Observe
// is called with the route's pattern and status, and never the token;
// signing in sets an HttpOnly, SameSite=Strict session cookie (Secure
// when told), and readiness follows Ready.
func TestObserveAndSession(t *testing.T) {
	e := newEnv(t)
	var mu sync.Mutex
	var seen []string
	ready := false
	h, err := httpapi.New(httpapi.Config{Service: e.svc, Billing: e.billing, SecureCookies: true,
		Ready: func() error {
			if !ready {
				return errNotReady
			}
			return nil
		},
		Observe: func(route string, status int, d time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, route+" "+http.StatusText(status))
		}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	c := e.client("")
	c.Base = srv.URL
	c.Get(t, "/readyz").Want(t, "not ready", http.StatusServiceUnavailable)
	ready = true
	c.Get(t, "/readyz").Want(t, "ready", http.StatusOK)
	c.With(e.admin).Get(t, "/api/v1/usage?from=2025-10").Want(t, "usage", http.StatusOK)
	c.With(e.acme).Get(t, "/api/v1/customers/globex").Want(t, "acme asks globex", http.StatusForbidden)
	c.Get(t, "/api/v1/keys").Want(t, "no token", http.StatusUnauthorized)

	// Sign in: the form's CSRF value comes with its cookie.
	jarless := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := jarless.Get(srv.URL + "/signin")
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	m := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(body)
	if m == nil || len(resp.Cookies()) != 1 {
		t.Fatalf("sign-in page without its csrf field and cookie: %d cookies\n%.400s", len(resp.Cookies()), body)
	}
	post := func(form url.Values, cookies ...*http.Cookie) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/signin", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for _, ck := range cookies {
			req.AddCookie(ck)
		}
		resp, err := jarless.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
		return resp
	}
	if r := post(url.Values{"token": {e.admin}, "csrf": {"0123"}}, resp.Cookies()[0]); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("sign in with a wrong csrf: status %d, want 401", r.StatusCode)
	}
	r := post(url.Values{"token": {e.acme}, "csrf": {m[1]}, "next": {"//evil.example/"}}, resp.Cookies()[0])
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/customers/acme" {
		t.Errorf("acme signs in: status %d to %q, want 303 to its page (not elsewhere)", r.StatusCode, r.Header.Get("Location"))
	}
	var session *http.Cookie
	for _, ck := range r.Cookies() {
		if ck.Name == httpapi.SessionCookie {
			session = ck
		}
	}
	if session == nil || !session.HttpOnly || !session.Secure || session.SameSite != http.SameSiteStrictMode || session.Path != "/" {
		t.Errorf("session cookie %+v: want HttpOnly, Secure, SameSite=Strict, Path=/", session)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"GET /readyz Service Unavailable", "GET /readyz OK", "GET /api/v1/usage OK", "GET /api/v1/customers/{customer} Forbidden",
		"GET /api/v1/keys Unauthorized", "GET /signin OK", "POST /signin Unauthorized", "POST /signin See Other"}
	if strings.Join(seen, "\n") != strings.Join(want, "\n") {
		t.Errorf("Observe saw:\n%s\nwant:\n%s", strings.Join(seen, "\n"), strings.Join(want, "\n"))
	}
	for _, s := range seen {
		if strings.Contains(s, "kmt_") {
			t.Errorf("Observe saw a token: %s", s)
		}
	}
}

type notReady struct{}

func (notReady) Error() string { return "ingestion not started" }

var errNotReady error = notReady{}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}
