package dashboard

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/keymeter/keymeter"
)

//go:embed templates
var templateFiles embed.FS

// ContentSecurityPolicy is the policy of every page: scripts, style
// sheets and images from this server only, no inline script or style
// (a <script type="application/json"> is data, which CSP does not run),
// no connections, frames or plugins, and forms that post only here.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// ErrScope is wrapped by the error Render returns when it refused a page
// its viewer may not see: an admin page for a customer, another
// customer's data in a customer's page, any page but sign-in and errors
// for nobody. Render writes a 403 (or 401) page instead; the server
// should never have asked.
var ErrScope = errors.New("page outside the viewer's scope")

// pages holds one template set per page: the layout, the shared parts
// and the page's own file.
var pages = parsePages()

func parsePages() map[string]*template.Template {
	base := template.Must(template.New("layout").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", "templates/parts.html"))
	files, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		panic(err)
	}
	m := map[string]*template.Template{}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" || name == "parts" {
			continue
		}
		m[name] = template.Must(template.Must(base.Clone()).ParseFS(templateFiles, f))
	}
	return m
}

// view is what the layout is executed with.
type view struct {
	Title  string
	Nav    string
	Charts bool
	Status int
	Frame  Frame
	Viewer Viewer
	Page   any
}

// Render writes page p as a complete HTML response: status, headers
// (Content-Type, ContentSecurityPolicy, nosniff, no framing, no caching
// of private data) and body. The page is rendered in full before anything
// is written, so an error never leaves half a page.
//
// Render refuses, and writes an error page instead of p:
//   - a page p's viewer may not see (see ErrScope): 401 for nobody, 403
//     for a customer; the error wraps ErrScope;
//   - a model it cannot show honestly: a key whose fingerprint is neither
//     a fingerprint (32 hex digits) nor an origin identity, a hint longer
//     than 4 characters, a series whose lines do not have a value per
//     day: 500.
//
// The error it returns is for the server's log; the viewer sees only the
// error page.
func Render(w http.ResponseWriter, p Page) error {
	s := p.spec()
	if err := s.check(); err != nil {
		status := http.StatusInternalServerError
		switch {
		case errors.Is(err, ErrScope) && !s.frame.Viewer.SignedIn():
			status = http.StatusUnauthorized
		case errors.Is(err, ErrScope):
			status = http.StatusForbidden
		}
		ep := &ErrorPage{Frame: Frame{Viewer: s.frame.Viewer}, Status: status}
		if rerr := write(w, ep.spec()); rerr != nil {
			return errors.Join(err, rerr)
		}
		return err
	}
	return write(w, s)
}

// write renders s and writes it.
func write(w http.ResponseWriter, s pageSpec) error {
	var b bytes.Buffer
	v := view{Title: s.title, Nav: s.nav, Charts: s.charts, Status: s.status, Frame: s.frame, Viewer: s.frame.Viewer, Page: s.data}
	if err := pages[s.template].ExecuteTemplate(&b, "layout", v); err != nil {
		err = fmt.Errorf("render the %s page: %w", s.template, err)
		if s.template != "error" {
			ep := &ErrorPage{Frame: Frame{Viewer: s.frame.Viewer}, Status: http.StatusInternalServerError}
			if rerr := write(w, ep.spec()); rerr != nil {
				return errors.Join(err, rerr)
			}
			return err
		}
		setHeaders(w.Header())
		http.Error(w, "internal error", http.StatusInternalServerError)
		return err
	}
	// Text a client controls may hold any bytes; show each byte of an
	// invalid UTF-8 sequence as \xHH, keymeter's rule everywhere. The
	// templates are valid UTF-8, so only such text changes.
	body := b.Bytes()
	if !utf8.Valid(body) {
		body = keymeter.AppendValidUTF8(make([]byte, 0, len(body)+64), body)
	}
	setHeaders(w.Header())
	w.WriteHeader(s.status)
	if _, err := w.Write(body); err != nil {
		return fmt.Errorf("write the %s page: %w", s.template, err)
	}
	return nil
}

// setHeaders sets the headers of every page.
func setHeaders(h http.Header) {
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

// check says whether the page may be shown to its viewer, and whether
// its model can be shown at all.
func (s pageSpec) check() error {
	v := s.frame.Viewer
	switch {
	case s.anonymous:
	case !v.SignedIn():
		return fmt.Errorf("the %s page for a viewer not signed in: %w", s.template, ErrScope)
	case s.admin && !v.Admin():
		return fmt.Errorf("the admin page %s for customer %q: %w", s.template, v.Customer, ErrScope)
	case v.Portal():
		if len(s.customers) == 0 {
			return fmt.Errorf("the %s page names no customer, for customer %q: %w", s.template, v.Customer, ErrScope)
		}
		for _, c := range s.customers {
			if c != v.Customer {
				return fmt.Errorf("the %s page holds data of customer %q, for customer %q: %w", s.template, c, v.Customer, ErrScope)
			}
		}
	}
	if s.err != nil {
		return fmt.Errorf("the %s page: %w", s.template, s.err)
	}
	for _, k := range s.keys {
		if err := checkKey(k); err != nil {
			return fmt.Errorf("the %s page: %w", s.template, err)
		}
	}
	return nil
}

// checkKey refuses anything but a fingerprint and a hint: a raw key put
// in the wrong field by mistake is never shown.
func checkKey(k keymeter.KeyFingerprint) error {
	if utf8.RuneCountInString(k.Hint) > 4 {
		return fmt.Errorf("a key hint of %d characters (at most 4)", utf8.RuneCountInString(k.Hint))
	}
	if ns, value, ok := keymeter.IsOriginIdentity(k.Fingerprint); ok {
		if ns == "" || value == "" || k.Hint != "" {
			return errors.New("a malformed origin identity")
		}
		return nil
	}
	if len(k.Fingerprint) != 32 {
		return fmt.Errorf("a key fingerprint of %d characters (want 32 hex digits)", len(k.Fingerprint))
	}
	for i := 0; i < len(k.Fingerprint); i++ {
		if c := k.Fingerprint[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return errors.New("a key fingerprint that is not hex")
		}
	}
	return nil
}
