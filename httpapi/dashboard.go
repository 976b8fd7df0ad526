package httpapi

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/billing/invoice"
	"github.com/keymeter/keymeter/httpapi/dashboard"
	"github.com/keymeter/keymeter/service"
)

// The dashboard and the customer portal: package dashboard renders the
// pages; this file signs people in and fills the pages' models from the
// service.
//
// A session is the token itself, in the cookie SessionCookie (HttpOnly,
// SameSite=Strict, Secure over TLS or with Config.SecureCookies), checked
// like a bearer token on every page: revoking the token ends the session.
// The forms carry a CSRF value derived from the token (sign-out), or
// from a random cookie before sign-in. Neither is ever logged.
const (
	// SessionCookie holds a signed-in viewer's token.
	SessionCookie = "km_session"
	// csrfCookie holds the sign-in form's CSRF value.
	csrfCookie = "km_csrf"
)

// Limits of the pages' breakdowns: the largest groups are listed, and
// the others summed into one row (or line).
const (
	topGroups = 10
	topKeys   = 20
	topLines  = 8
)

// pageHandler serves a page for a signed-in viewer.
type pageHandler func(w http.ResponseWriter, r *http.Request, v dashboard.Viewer, p service.Principal) error

func (s *server) routesDashboard() error {
	s.page(dashboard.PatternOverview, s.overviewPage)
	s.page(dashboard.PatternCustomer, s.customerPage)
	s.page(dashboard.PatternCustomerInvoices, s.customerInvoicesPage)
	s.page(dashboard.PatternInvoice, s.invoicePage)
	s.page(dashboard.PatternInvoicePrint, s.invoicePrintPage)
	s.page(dashboard.PatternInvoices, s.invoicesPage)
	s.page(dashboard.PatternIngestion, s.ingestionPage)
	s.page(dashboard.PatternRejects, s.rejectsPage)
	s.page(dashboard.PatternCoverage, s.coveragePage)
	s.routes = append(s.routes, route{pattern: dashboard.PatternAssets})
	s.mux.Handle(dashboard.PatternAssets, s.observe(dashboard.Assets()))
	s.handleRaw(dashboard.PatternSignIn, s.signInPage)
	s.handleRaw(dashboard.PatternSignInSubmit, s.signIn)
	s.handleRaw(dashboard.PatternSignOut, s.signOut)
	s.handleRaw("/", func(w http.ResponseWriter, r *http.Request) {
		v, _, _ := s.viewer(r)
		s.render(w, r, &dashboard.ErrorPage{Frame: dashboard.Frame{Viewer: v}, Status: http.StatusNotFound})
	})
	return nil
}

// page registers a page that needs a signed-in viewer: without one it
// is the 401 page, which links to sign-in and back.
func (s *server) page(pattern string, h pageHandler) {
	s.handleRaw(pattern, func(w http.ResponseWriter, r *http.Request) {
		v, p, err := s.viewer(r)
		if err != nil {
			s.pageError(w, r, v, err)
			return
		}
		if !v.SignedIn() {
			s.render(w, r, &dashboard.ErrorPage{Status: http.StatusUnauthorized, Next: r.URL.RequestURI()})
			return
		}
		if err := h(w, r, v, p); err != nil {
			s.pageError(w, r, v, err)
		}
	})
}

// render renders a page, logging what Render refused.
func (s *server) render(w http.ResponseWriter, r *http.Request, p dashboard.Page) {
	if err := dashboard.Render(w, p); err != nil {
		s.log.Error("render page", "route", r.Pattern, "error", err)
	}
}

// pageError renders an error as the error page of its status.
func (s *server) pageError(w http.ResponseWriter, r *http.Request, v dashboard.Viewer, err error) {
	status, _, msg := statusOf(err)
	if status >= 500 {
		s.log.Error("page failed", "route", r.Pattern, "error", err)
		msg = ""
	}
	ep := &dashboard.ErrorPage{Frame: dashboard.Frame{Viewer: v}, Status: status, Message: msg}
	if status == http.StatusUnauthorized {
		ep.Next = r.URL.RequestURI()
	}
	s.render(w, r, ep)
}

// viewer returns who the request's session cookie signs in: nobody
// without one or with a token no longer valid.
func (s *server) viewer(r *http.Request) (dashboard.Viewer, service.Principal, error) {
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return dashboard.Viewer{}, service.Principal{}, nil
	}
	p, err := s.cfg.Service.Authenticate(r.Context(), c.Value)
	if keymeter.ErrorCode(err) == keymeter.EUNAUTHORIZED {
		return dashboard.Viewer{}, service.Principal{}, nil
	}
	if err != nil {
		return dashboard.Viewer{}, service.Principal{}, err
	}
	csrf := sessionCSRF(c.Value)
	if p.Admin() {
		return dashboard.AdminViewer(csrf), p, nil
	}
	return dashboard.PortalViewer(p.Customer, csrf), p, nil
}

// sessionCSRF is the CSRF value of a session's forms: derived from its
// token, so that only a page of the session knows it.
func sessionCSRF(token string) string {
	sum := sha256.Sum256([]byte("keymeter session csrf\x00" + token))
	return hex.EncodeToString(sum[:16])
}

// secure says whether cookies should be Secure.
func (s *server) secure(r *http.Request) bool { return r.TLS != nil || s.cfg.SecureCookies }

// signInPage: GET /signin, with a fresh CSRF cookie.
func (s *server) signInPage(w http.ResponseWriter, r *http.Request) {
	csrf, err := s.signInCSRF(w, r)
	if err != nil {
		s.pageError(w, r, dashboard.Viewer{}, err)
		return
	}
	s.render(w, r, &dashboard.SignInPage{CSRF: csrf, Next: r.URL.Query().Get("next")})
}

// signInCSRF returns the sign-in form's CSRF value, from its cookie or
// new (and set).
func (s *server) signInCSRF(w http.ResponseWriter, r *http.Request) (string, error) {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) == 32 {
		return c.Value, nil
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	v := hex.EncodeToString(b[:])
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: v, Path: dashboard.PathSignIn, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.secure(r)})
	return v, nil
}

// signIn: POST /signin (token, csrf, next): checks the token, sets the
// session cookie and goes to next, or the viewer's home.
func (s *server) signIn(w http.ResponseWriter, r *http.Request) {
	csrf, err := s.signInCSRF(w, r)
	if err != nil {
		s.pageError(w, r, dashboard.Viewer{}, err)
		return
	}
	token := strings.TrimSpace(r.PostFormValue("token"))
	next := r.PostFormValue("next")
	again := &dashboard.SignInPage{CSRF: csrf, Next: next, Error: "That token is not valid or was revoked."}
	if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(csrf)) != 1 {
		again.Error = "The form expired: sign in again."
		s.render(w, r, again)
		return
	}
	p, err := s.cfg.Service.Authenticate(r.Context(), token)
	if keymeter.ErrorCode(err) == keymeter.EUNAUTHORIZED {
		s.render(w, r, again)
		return
	}
	if err != nil {
		s.pageError(w, r, dashboard.Viewer{}, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.secure(r)})
	if next = localPath(next); next == "" {
		next = dashboard.PathOverview
		if !p.Admin() {
			next = dashboard.CustomerPath(p.Customer)
		}
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// signOut: POST /signout (csrf): clears the session cookie.
func (s *server) signOut(w http.ResponseWriter, r *http.Request) {
	v, _, err := s.viewer(r)
	if err == nil && v.SignedIn() && subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(v.CSRF)) != 1 {
		s.render(w, r, &dashboard.ErrorPage{Frame: dashboard.Frame{Viewer: v}, Status: http.StatusForbidden, Message: "The form expired: sign out again."})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.secure(r)})
	http.Redirect(w, r, dashboard.PathSignIn, http.StatusSeeOther)
}

// localPath returns p when it is a path on this server, else "".
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		return ""
	}
	if u, err := url.Parse(p); err != nil || u.Host != "" || u.Scheme != "" {
		return ""
	}
	return p
}

// frame returns the frame of a page read now.
func (s *server) frame(v dashboard.Viewer) dashboard.Frame {
	return dashboard.Frame{Viewer: v, AsOf: s.now().UTC()}
}

// pagePeriod reads a page's period: from and to, dates ([from, to));
// by default the current month.
func (s *server) pagePeriod(r *http.Request) (dashboard.Range, error) {
	from, to, err := service.Period(r.URL.Query().Get("from"), r.URL.Query().Get("to"), s.now())
	return dashboard.Range{From: from, To: to}, err
}

// usage runs one usage question over the page's source.
func (s *server) usageRows(ctx context.Context, q keymeter.UsageQuery) ([]service.UsageRow, *service.UsageReport, error) {
	rep, err := s.cfg.Service.Usage(ctx, service.UsageRequest{Query: q, CoverageThreshold: s.cfg.CoverageThreshold})
	if err != nil {
		return nil, nil, err
	}
	return rep.Rows, rep, nil
}

// pageSource chooses the one source a page counts: the first of those
// usage would count by default (the edge join when there is CloudFront
// data), so that no request is counted twice.
func (s *server) pageSource(ctx context.Context, period dashboard.Range, customer string) (keymeter.Source, *service.UsageReport, error) {
	_, rep, err := s.usageRows(ctx, keymeter.UsageQuery{From: period.From, To: period.To, Customer: customer})
	if err != nil {
		return keymeter.SourceUnknown, nil, err
	}
	if len(rep.Query.Sources) == 0 {
		return keymeter.SourceUnknown, rep, nil
	}
	return rep.Query.Sources[0], rep, nil
}

// usageView reads a page's usage: the period, one source, a customer or
// everyone.
type usageView struct {
	s        *server
	ctx      context.Context
	period   dashboard.Range
	source   keymeter.Source
	customer string
	days     []time.Time
}

func (s *server) newUsageView(ctx context.Context, period dashboard.Range, customer string) (*usageView, error) {
	src, _, err := s.pageSource(ctx, period, customer)
	if err != nil {
		return nil, err
	}
	u := &usageView{s: s, ctx: ctx, period: period, source: src, customer: customer}
	// One point per day of the period, up to today.
	end := period.To
	if today := s.now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1); today.Before(end) {
		end = today
	}
	for d := period.From.UTC().Truncate(24 * time.Hour); d.Before(end); d = d.AddDate(0, 0, 1) {
		u.days = append(u.days, d)
	}
	return u, nil
}

// rows returns the usage grouped by dims.
func (u *usageView) rows(dims ...keymeter.Dimension) ([]service.UsageRow, error) {
	if u.source == keymeter.SourceUnknown {
		return nil, nil
	}
	rows, _, err := u.s.usageRows(u.ctx, keymeter.UsageQuery{From: u.period.From, To: u.period.To, Customer: u.customer,
		Sources: []keymeter.Source{u.source}, By: dims})
	return rows, err
}

func totalsOf(r service.UsageRow) dashboard.Totals {
	return dashboard.Totals{Requests: r.Requests, BytesSent: r.BytesSent, BytesReceived: r.BytesReceived}
}

func addTotals(a, b dashboard.Totals) dashboard.Totals {
	return dashboard.Totals{Requests: a.Requests.Add(b.Requests), BytesSent: a.BytesSent.Add(b.BytesSent), BytesReceived: a.BytesReceived.Add(b.BytesReceived)}
}

// totals returns the view's totals.
func (u *usageView) totals() (dashboard.Totals, error) {
	rows, err := u.rows()
	if err != nil || len(rows) == 0 {
		return dashboard.Totals{}, err
	}
	return totalsOf(rows[0]), nil
}

// breakdown returns usage by one dimension, largest first, the first
// topGroups listed.
func (u *usageView) breakdown(d keymeter.Dimension) (dashboard.Breakdown, error) {
	rows, err := u.rows(d)
	if err != nil {
		return dashboard.Breakdown{}, err
	}
	slices.SortStableFunc(rows, func(a, b service.UsageRow) int { return b.Requests.Cmp(a.Requests) })
	var out dashboard.Breakdown
	for i, r := range rows {
		if i >= topGroups {
			out.Rest = addTotals(out.Rest, totalsOf(r))
			out.RestGroups++
			continue
		}
		out.Rows = append(out.Rows, dashboard.GroupUsage{Group: r.Group[0], Totals: totalsOf(r)})
	}
	return out, nil
}

// series returns requests and bytes sent per day, a line per value of
// d (the largest topLines, the others summed into one line), with label
// naming each value.
func (u *usageView) series(d keymeter.Dimension, label func(keymeter.GroupValue) string) (req, bytes dashboard.Series, err error) {
	rows, err := u.rows(keymeter.DimDay, d)
	if err != nil {
		return req, bytes, err
	}
	type line struct {
		label      string
		total      keymeter.Int128
		req, bytes []keymeter.Int128
	}
	var lines []*line
	byLabel := map[string]*line{}
	dayIndex := map[string]int{}
	for i, day := range u.days {
		dayIndex[day.Format(time.DateOnly)] = i
	}
	for _, r := range rows {
		i, ok := dayIndex[r.Group[0].Value]
		if !ok {
			continue
		}
		l := label(r.Group[1])
		ln := byLabel[l]
		if ln == nil {
			ln = &line{label: l, req: make([]keymeter.Int128, len(u.days)), bytes: make([]keymeter.Int128, len(u.days))}
			byLabel[l] = ln
			lines = append(lines, ln)
		}
		ln.req[i] = ln.req[i].Add(r.Requests)
		ln.bytes[i] = ln.bytes[i].Add(r.BytesSent)
		ln.total = ln.total.Add(r.Requests)
	}
	slices.SortStableFunc(lines, func(a, b *line) int { return b.total.Cmp(a.total) })
	if len(lines) > topLines {
		rest := &line{label: "(others)", req: make([]keymeter.Int128, len(u.days)), bytes: make([]keymeter.Int128, len(u.days))}
		for _, l := range lines[topLines-1:] {
			for i := range u.days {
				rest.req[i] = rest.req[i].Add(l.req[i])
				rest.bytes[i] = rest.bytes[i].Add(l.bytes[i])
			}
		}
		lines = append(lines[:topLines-1], rest)
	}
	req.Days, bytes.Days = u.days, u.days
	for _, l := range lines {
		req.Lines = append(req.Lines, dashboard.SeriesLine{Label: l.label, Values: l.req})
		bytes.Lines = append(bytes.Lines, dashboard.SeriesLine{Label: l.label, Values: l.bytes})
	}
	return req, bytes, nil
}

// CustomerLabel is a series line's label for a customer value.
func customerLabel(g keymeter.GroupValue) string {
	if g.Null {
		return "(unattributed)"
	}
	return g.Value
}

// keyLabel is a series line's label for a key value: its hint, or the
// origin identity.
func keyLabel(hints map[string]string) func(keymeter.GroupValue) string {
	return func(g keymeter.GroupValue) string {
		if g.Null {
			return "(no key)"
		}
		if h := hints[g.Value]; h != "" {
			return "…" + h
		}
		if len(g.Value) == 32 {
			return g.Value[:8] + "…"
		}
		return g.Value
	}
}

// keyHints returns each key's hint by fingerprint.
func keyHints(keys []keymeter.Key) map[string]string {
	m := map[string]string{}
	for _, k := range keys {
		m[k.Fingerprint] = k.Hint
	}
	return m
}

// overviewPage: GET /, every customer's usage (admin); a customer goes
// to its own page.
func (s *server) overviewPage(w http.ResponseWriter, r *http.Request, v dashboard.Viewer, p service.Principal) error {
	if !p.Admin() {
		http.Redirect(w, r, dashboard.CustomerPath(p.Customer), http.StatusSeeOther)
		return nil
	}
	ctx := r.Context()
	period, err := s.pagePeriod(r)
	if err != nil {
		return err
	}
	u, err := s.newUsageView(ctx, period, "")
	if err != nil {
		return err
	}
	page := &dashboard.Overview{Frame: s.frame(v), Period: period, Source: u.source.String()}
	if u.source == keymeter.SourceUnknown {
		page.Source = ""
	}
	if page.Totals, err = u.totals(); err != nil {
		return err
	}
	if page.Requests, page.Bytes, err = u.series(keymeter.DimCustomer, customerLabel); err != nil {
		return err
	}
	if page.ByCustomer, err = u.breakdown(keymeter.DimCustomer); err != nil {
		return err
	}
	for _, g := range page.ByCustomer.Rows {
		if g.Group.Null {
			page.Unattributed = g.Totals
		}
	}
	keys, err := s.cfg.Service.ListKeys(ctx, false)
	if err != nil {
		return err
	}
	hints := keyHints(keys)
	keyRows, err := u.rows(keymeter.DimCustomer, keymeter.DimAPIKey)
	if err != nil {
		return err
	}
	slices.SortStableFunc(keyRows, func(a, b service.UsageRow) int { return b.Requests.Cmp(a.Requests) })
	for _, kr := range keyRows {
		if kr.Group[1].Null || len(page.ByKey) >= topKeys {
			continue
		}
		page.ByKey = append(page.ByKey, dashboard.KeyUsage{Key: fingerprintOf(kr.Group[1].Value, hints), Customer: kr.Group[0].Value, Totals: totalsOf(kr)})
	}
	if page.ByPath, err = u.breakdown(keymeter.DimPath); err != nil {
		return err
	}
	if page.ByEdgeResult, err = u.breakdown(keymeter.DimEdgeResult); err != nil {
		return err
	}
	if page.Cache, err = u.cache(); err != nil {
		return err
	}
	if page.EdgeOrigin, err = s.edgeOrigin(ctx, period); err != nil {
		return err
	}
	s.render(w, r, page)
	return nil
}

// fingerprintOf returns the key of a usage row's api_key value.
func fingerprintOf(value string, hints map[string]string) keymeter.KeyFingerprint {
	return keymeter.KeyFingerprint{Fingerprint: value, Hint: hints[value]}
}

// cache returns the edge's cache results per day: hits are Hit and
// RefreshHit.
func (u *usageView) cache() ([]dashboard.CacheDay, error) {
	if u.source != keymeter.SourceEdge && u.source != keymeter.SourceCloudFront && u.source != keymeter.SourceCloudFrontRealtime {
		return nil, nil
	}
	rows, err := u.rows(keymeter.DimDay, keymeter.DimEdgeResult)
	if err != nil {
		return nil, err
	}
	var out []dashboard.CacheDay
	index := map[string]int{}
	for _, d := range u.days {
		index[d.Format(time.DateOnly)] = len(out)
		out = append(out, dashboard.CacheDay{Day: d})
	}
	for _, r := range rows {
		i, ok := index[r.Group[0].Value]
		if !ok {
			continue
		}
		out[i].Requests = out[i].Requests.Add(r.Requests)
		if res := r.Group[1].Value; res == "Hit" || res == "RefreshHit" {
			out[i].Hits = out[i].Hits.Add(r.Requests)
		}
	}
	return out, nil
}

// edgeOrigin compares the edge and the origin per day, as keymeter
// reconcile does; empty when the origin logged nothing.
func (s *server) edgeOrigin(ctx context.Context, period dashboard.Range) ([]dashboard.EdgeOriginDay, error) {
	rep, err := s.cfg.Service.Reconcile(ctx, service.ReconcileRequest{Query: keymeter.ReconcileQuery{From: period.From, To: period.To,
		By: []keymeter.Dimension{keymeter.DimDay}, Edge: keymeter.SourceEdge}})
	if err != nil {
		return nil, err
	}
	var out []dashboard.EdgeOriginDay
	origin := false
	for _, row := range rep.Rows {
		day, err := time.Parse(time.DateOnly, row.Group[0].Value)
		if err != nil {
			continue
		}
		origin = origin || row.OriginRequests > 0
		out = append(out, dashboard.EdgeOriginDay{Day: day, EdgeRequests: row.EdgeRequests, EdgeHits: row.EdgeHits, EdgeErrors: row.EdgeErrors, OriginRequests: row.OriginRequests})
	}
	if !origin {
		return nil, nil
	}
	slices.SortFunc(out, func(a, b dashboard.EdgeOriginDay) int { return a.Day.Compare(b.Day) })
	return out, nil
}

// pageCustomer returns the {customer} of a page the principal may see:
// its own for a customer's token (another is a 403, before anything of
// it is read), any known customer for an admin (else a 404).
func (s *server) pageCustomer(ctx context.Context, r *http.Request, p service.Principal) (string, *service.CustomerListing, error) {
	c, err := p.Scope(r.PathValue("customer"))
	if err != nil {
		return "", nil, err
	}
	if s.cfg.Billing != nil {
		l, err := s.cfg.Service.Customer(ctx, s.cfg.Billing, c)
		if err == nil || keymeter.ErrorCode(err) != keymeter.ENOTFOUND {
			return c, l, err
		}
	}
	keys, err := s.cfg.Service.CustomerKeys(ctx, c)
	if err != nil {
		return "", nil, err
	}
	if len(keys) == 0 {
		return "", nil, keymeter.Errorf(keymeter.ENOTFOUND, "no customer %q", c)
	}
	return c, &service.CustomerListing{Customer: c}, nil
}

// customerPage: GET /customers/{customer}, a customer's usage and
// billing; the portal's home.
func (s *server) customerPage(w http.ResponseWriter, r *http.Request, v dashboard.Viewer, p service.Principal) error {
	ctx := r.Context()
	c, listing, err := s.pageCustomer(ctx, r, p)
	if err != nil {
		return err
	}
	period, err := s.pagePeriod(r)
	if err != nil {
		return err
	}
	u, err := s.newUsageView(ctx, period, c)
	if err != nil {
		return err
	}
	page := &dashboard.CustomerPage{Frame: s.frame(v), Customer: c, Period: period}
	if listing.Assignment != nil {
		page.Plan = listing.Assignment.Plan
	}
	if page.Totals, err = u.totals(); err != nil {
		return err
	}
	keys, err := s.cfg.Service.CustomerKeys(ctx, c)
	if err != nil {
		return err
	}
	hints := keyHints(keys)
	if page.Requests, page.Bytes, err = u.series(keymeter.DimAPIKey, keyLabel(hints)); err != nil {
		return err
	}
	keyRows, err := u.rows(keymeter.DimAPIKey)
	if err != nil {
		return err
	}
	byKey := map[string]dashboard.Totals{}
	for _, kr := range keyRows {
		byKey[kr.Group[0].Value] = totalsOf(kr)
	}
	for _, k := range keys {
		page.Keys = append(page.Keys, dashboard.CustomerKey{Key: k.KeyFingerprint, From: k.From, Until: k.Until, Totals: byKey[k.Fingerprint], LastSeen: k.LastSeen})
	}
	if page.ByPath, err = u.breakdown(keymeter.DimPath); err != nil {
		return err
	}
	if page.ByEdgeResult, err = u.breakdown(keymeter.DimEdgeResult); err != nil {
		return err
	}
	if s.cfg.Billing != nil && listing.Assignment != nil {
		dp, err := s.cfg.Service.ProjectDraft(ctx, s.cfg.Billing, c)
		switch {
		case keymeter.ErrorCode(err) == keymeter.ENOTFOUND:
		case err != nil:
			return err
		case dp.Document.Status == invoice.Draft:
			page.Draft = &dashboard.DraftInvoice{Document: dp.Document, Projected: dp.Projected, Basis: dp.Basis}
		}
	}
	if page.Invoices, err = s.finalSummaries(ctx, c); err != nil {
		return err
	}
	s.render(w, r, page)
	return nil
}

// finalSummaries returns the finalized invoices of customer (everyone's
// for ""), newest period first.
func (s *server) finalSummaries(ctx context.Context, customer string) ([]dashboard.InvoiceSummary, error) {
	finals, err := s.cfg.Service.FinalInvoices(ctx, keymeter.InvoiceFilter{Customer: customer})
	if err != nil {
		return nil, err
	}
	var out []dashboard.InvoiceSummary
	for _, f := range finals {
		d, err := invoice.Decode(f.Document)
		if err != nil {
			return nil, err
		}
		out = append(out, dashboard.SummaryOf(d))
	}
	sortSummaries(out)
	return out, nil
}

func sortSummaries(list []dashboard.InvoiceSummary) {
	slices.SortStableFunc(list, func(a, b dashboard.InvoiceSummary) int {
		if c := strings.Compare(b.Month, a.Month); c != 0 {
			return c
		}
		return strings.Compare(a.Customer, b.Customer)
	})
}

// invoiceList returns customer's (everyone's for "") invoices: this
// period's (drafts, or final) and every finalized one.
func (s *server) invoiceList(ctx context.Context, customer string) ([]dashboard.InvoiceSummary, error) {
	out, err := s.finalSummaries(ctx, customer)
	if err != nil {
		return nil, err
	}
	if s.cfg.Billing == nil {
		return out, nil
	}
	set, err := s.cfg.Service.Invoices(ctx, s.cfg.Billing, service.InvoiceRequest{Month: s.now().UTC().Format("2006-01"), Customer: customer, CoverageThreshold: -1})
	if keymeter.ErrorCode(err) == keymeter.ENOTFOUND {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	for _, b := range set.Documents {
		d, err := invoice.Decode(b)
		if err != nil {
			return nil, err
		}
		if d.Status == invoice.Draft {
			out = append(out, dashboard.SummaryOf(d))
		}
	}
	sortSummaries(out)
	return out, nil
}

// invoicesPage: GET /invoices, everyone's invoices (admin).
func (s *server) invoicesPage(w http.ResponseWriter, r *http.Request, v dashboard.Viewer, p service.Principal) error {
	if err := p.RequireAdmin(); err != nil {
		return err
	}
	list, err := s.invoiceList(r.Context(), "")
	if err != nil {
		return err
	}
	s.render(w, r, &dashboard.InvoicesPage{Frame: s.frame(v), Invoices: list})
	return nil
}

// customerInvoicesPage: GET /customers/{customer}/invoices.
func (s *server) customerInvoicesPage(w http.ResponseWriter, r *http.Request, v dashboard.Viewer, p service.Principal) error {
	c, _, err := s.pageCustomer(r.Context(), r, p)
	if err != nil {
		return err
	}
	list, err := s.invoiceList(r.Context(), c)
	if err != nil {
		return err
	}
	s.render(w, r, &dashboard.InvoicesPage{Frame: s.frame(v), Customer: c, Invoices: list})
	return nil
}

// invoiceDoc returns the invoice of {customer} and {month}.
func (s *server) invoiceDoc(r *http.Request, p service.Principal) ([]byte, error) {
	c, err := p.Scope(r.PathValue("customer"))
	if err != nil {
		return nil, err
	}
	b, err := s.billing()
	if err != nil {
		return nil, err
	}
	set, err := s.cfg.Service.Invoices(r.Context(), b, service.InvoiceRequest{Month: r.PathValue("month"), Customer: c, CoverageThreshold: -1})
	if err != nil {
		return nil, err
	}
	if len(set.Documents) != 1 {
		return nil, keymeter.Errorf(keymeter.ENOTFOUND, "no invoice of %s for %s", c, r.PathValue("month"))
	}
	return set.Documents[0], nil
}

// invoicePage: GET /customers/{customer}/invoices/{month}.
func (s *server) invoicePage(w http.ResponseWriter, r *http.Request, v dashboard.Viewer, p service.Principal) error {
	b, err := s.invoiceDoc(r, p)
	if err != nil {
		return err
	}
	d, err := invoice.Decode(b)
	if err != nil {
		return err
	}
	s.render(w, r, &dashboard.InvoicePage{Frame: s.frame(v), Document: d})
	return nil
}

// invoicePrintPage: GET /customers/{customer}/invoices/{month}/print.
func (s *server) invoicePrintPage(w http.ResponseWriter, r *http.Request, v dashboard.Viewer, p service.Principal) error {
	b, err := s.invoiceDoc(r, p)
	if err != nil {
		return err
	}
	if err := dashboard.PrintInvoice(w, v, b); err != nil {
		s.log.Error("print invoice", "route", r.Pattern, "error", err)
	}
	return nil
}

// ingestionPage: GET /ingestion, the sources' status (admin).
func (s *server) ingestionPage(w http.ResponseWriter, r *http.Request, v dashboard.Viewer, p service.Principal) error {
	if err := p.RequireAdmin(); err != nil {
		return err
	}
	page := &dashboard.IngestionPage{Frame: s.frame(v)}
	if s.cfg.Sources != nil {
		for _, src := range s.cfg.Sources() {
			st := dashboard.SourceStatus{Name: src.Name, State: dashboard.SourceRunning, Lag: src.Lag, LastCommit: src.LastCommit,
				Lines: src.Lines, Events: src.Events, Duplicates: src.Duplicates, Rejects: src.Rejects,
				LineRate: dashboard.Rate{Count: src.LinesPerSecond, Window: time.Second}, LastError: src.LastError, LastErrorAt: src.LastErrorAt}
			switch {
			case src.LastError != "" && !src.LastErrorAt.Before(src.LastCommit):
				st.State = dashboard.SourceFailing
			case src.LastCommit.IsZero() && src.Lines == 0:
				st.State = dashboard.SourceStarting
			}
			if src.Position != "" {
				st.Positions = []dashboard.Position{{At: src.Position}}
			}
			page.Sources = append(page.Sources, st)
		}
	}
	s.render(w, r, page)
	return nil
}

// rejectsPage: GET /rejects?file=&offset=, rejected records, newest
// first, a page of 100 (admin).
func (s *server) rejectsPage(w http.ResponseWriter, r *http.Request, v dashboard.Viewer, p service.Principal) error {
	if err := p.RequireAdmin(); err != nil {
		return err
	}
	const per = 100
	offset := 0
	if o := r.URL.Query().Get("offset"); o != "" {
		n, err := strconv.Atoi(o)
		if err != nil || n < 0 {
			return keymeter.Errorf(keymeter.EINVALID, "offset %q: want a number, 0 or more", o)
		}
		offset = n
	}
	object := r.URL.Query().Get("file")
	all, err := s.cfg.Service.Rejects(r.Context(), keymeter.RejectFilter{Object: object})
	if err != nil {
		return err
	}
	page := &dashboard.RejectsPage{Frame: s.frame(v), Total: int64(len(all)), Object: object}
	i, j := min(offset, len(all)), min(offset+per, len(all))
	page.Rejects = all[i:j]
	if j < len(all) {
		q := url.Values{"offset": {strconv.Itoa(j)}}
		if object != "" {
			q.Set("file", object)
		}
		page.Next = dashboard.PathRejects + "?" + q.Encode()
	}
	s.render(w, r, page)
	return nil
}

// coveragePage: GET /coverage, the real-time log's coverage and the
// sources' watermarks (admin).
func (s *server) coveragePage(w http.ResponseWriter, r *http.Request, v dashboard.Viewer, p service.Principal) error {
	if err := p.RequireAdmin(); err != nil {
		return err
	}
	ctx := r.Context()
	period, err := s.pagePeriod(r)
	if err != nil {
		return err
	}
	page := &dashboard.CoveragePage{Frame: s.frame(v), Period: period, ThresholdBasisPoints: s.cfg.CoverageThreshold}
	cov, err := s.cfg.Service.Coverage(ctx, keymeter.CoverageQuery{From: period.From, To: period.To})
	if err != nil {
		return err
	}
	for _, row := range cov.Rows {
		day, err := time.Parse(time.DateOnly, row.Day)
		if err != nil {
			return errors.Join(errors.New("coverage day"), err)
		}
		page.Days = append(page.Days, dashboard.CoverageDay{Distribution: row.Distribution.Value, Day: day, StandardRequests: row.Standard,
			WithRealtime: row.WithRealtime, RealtimeOnly: row.RealtimeOnly, KeysCut: row.KeyTruncated, KeysRecovered: row.KeyRecovered})
	}
	_, rep, err := s.pageSource(ctx, period, "")
	if err != nil {
		return err
	}
	for _, src := range rep.Query.SourceList() {
		wm := rep.Watermarks[src]
		if !wm.Known {
			continue
		}
		m := dashboard.Watermark{Source: src, CompleteUntil: wm.Until, Rule: service.DescribeWatermark(wm, s.cfg.Service.Settle)}
		if wm.Until.Before(period.To) {
			m.Provisional = []dashboard.Range{{From: maxTime(wm.Until, period.From), To: period.To}}
		}
		page.Watermarks = append(page.Watermarks, m)
	}
	s.render(w, r, page)
	return nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
