package httpapi

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/billing/invoice"
	"github.com/keymeter/keymeter/httpapi/dashboard"
	"github.com/keymeter/keymeter/report"
	"github.com/keymeter/keymeter/service"
)

// OpenAPI is the API's OpenAPI 3.1 document, served at
// /api/v1/openapi.json; a test checks every route and response against it.
//
//go:embed openapi.json
var OpenAPI []byte

// The API's routes. Each decodes its query, calls the service operation
// the command of the same name calls, and encodes the result with the
// same report layout: GET /api/v1/usage is byte for byte
// keymeter usage --format json.
func (s *server) routesAPI() {
	s.handle("GET /api/v1/openapi.json", public, func(w http.ResponseWriter, r *http.Request, _ service.Principal) error {
		return writeJSONBytes(w, http.StatusOK, OpenAPI)
	})
	s.handle("GET /api/v1/usage", anyToken, s.usage)
	s.handle("GET /api/v1/keys", anyToken, s.keys)
	s.handle("GET /api/v1/customers", anyToken, s.customers)
	s.handle("GET /api/v1/customers/{customer}", anyToken, s.customer)
	s.handle("GET /api/v1/invoices", anyToken, s.invoices)
	s.handle("GET /api/v1/invoices/final", anyToken, s.finalInvoices)
	s.handle("GET /api/v1/customers/{customer}/invoices/{month}", anyToken, s.invoice)
	s.handle("GET /api/v1/rejects", admin, s.rejects)
	s.handle("GET /api/v1/reconcile", admin, s.reconcile)
	s.handle("GET /api/v1/coverage", admin, s.coverage)
	s.handle("GET /api/v1/costs", admin, s.costs)
	s.handle("GET /api/v1/sources", admin, s.sources)
	s.handle("GET /api/v1/tokens", admin, s.tokens)
	s.handle("POST /api/v1/tokens", admin, s.createToken)
	s.handle("DELETE /api/v1/tokens/{id}", admin, s.revokeToken)
	s.handle("GET /api/v1/alerts", anyToken, s.alerts)

	// Anything else under /api/v1/ is a JSON 404, for any method.
	s.handle("/api/v1/", public, func(w http.ResponseWriter, r *http.Request, _ service.Principal) error {
		return keymeter.Errorf(keymeter.ENOTFOUND, "no route %s %s", r.Method, r.URL.Path)
	})
}

// now returns the service's clock.
func (s *server) now() time.Time {
	if s.cfg.Service.Now != nil {
		return s.cfg.Service.Now()
	}
	return time.Now()
}

// billing returns the billing config, or an ENOTFOUND error.
func (s *server) billing() (*service.Billing, error) {
	if s.cfg.Billing == nil {
		return nil, keymeter.Errorf(keymeter.ENOTFOUND, "the server has no billing config")
	}
	return s.cfg.Billing, nil
}

// splitList splits a comma-separated parameter, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// param returns a query parameter, or def when absent.
func param(r *http.Request, name, def string) string {
	q := r.URL.Query()
	if !q.Has(name) {
		return def
	}
	return q.Get(name)
}

// month returns the period parameter: a billing month, by default the
// current one.
func (s *server) month(r *http.Request) string {
	if m := r.URL.Query().Get("period"); m != "" {
		return m
	}
	return s.now().UTC().Format("2006-01")
}

// dimensions parses the by parameter.
func dimensions(list string) ([]keymeter.Dimension, error) {
	var out []keymeter.Dimension
	for _, name := range splitList(list) {
		d, err := keymeter.ParseDimension(name)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// usageQuery parses the query of usage as keymeter usage parses its
// flags: from, to, by (default customer), source, customer.
func (s *server) usageQuery(r *http.Request, p service.Principal) (keymeter.UsageQuery, error) {
	q := keymeter.UsageQuery{}
	var err error
	if q.Customer, err = p.Scope(r.URL.Query().Get("customer")); err != nil {
		return q, err
	}
	if q.From, q.To, err = service.Period(r.URL.Query().Get("from"), r.URL.Query().Get("to"), s.now()); err != nil {
		return q, err
	}
	if q.By, err = dimensions(param(r, "by", "customer")); err != nil {
		return q, err
	}
	for _, name := range splitList(r.URL.Query().Get("source")) {
		src, err := keymeter.ParseSource(name)
		if err != nil {
			return q, err
		}
		if !slices.Contains(q.Sources, src) {
			q.Sources = append(q.Sources, src)
		}
	}
	return q, nil
}

// usage: GET /api/v1/usage, keymeter usage --format json. A customer's
// token counts its own customer only.
func (s *server) usage(w http.ResponseWriter, r *http.Request, p service.Principal) error {
	q, err := s.usageQuery(r, p)
	if err != nil {
		return err
	}
	rep, err := s.cfg.Service.Usage(r.Context(), service.UsageRequest{Query: q, CoverageThreshold: s.cfg.CoverageThreshold})
	if err != nil {
		return err
	}
	return writeTable(w, report.Usage(rep))
}

// keys: GET /api/v1/keys, keymeter keys list --format json, paginated;
// a customer's token lists its own keys.
func (s *server) keys(w http.ResponseWriter, r *http.Request, p service.Principal) error {
	page, err := parsePage(r)
	if err != nil {
		return err
	}
	unassigned := r.URL.Query().Get("unassigned") == "true"
	var keys []keymeter.Key
	switch {
	case p.Admin():
		keys, err = s.cfg.Service.ListKeys(r.Context(), unassigned)
	case unassigned:
		err = keymeter.Errorf(keymeter.EFORBIDDEN, "a customer's token may not list unassigned keys")
	default:
		keys, err = s.cfg.Service.CustomerKeys(r.Context(), p.Customer)
	}
	if err != nil {
		return err
	}
	return writeTablePage(w, report.Keys(keys), page)
}

// customers: GET /api/v1/customers, keymeter customers list --format
// json, paginated; a customer's token lists itself.
func (s *server) customers(w http.ResponseWriter, r *http.Request, p service.Principal) error {
	page, err := parsePage(r)
	if err != nil {
		return err
	}
	b, err := s.billing()
	if err != nil {
		return err
	}
	var list []service.CustomerListing
	if p.Admin() {
		list, err = s.cfg.Service.ListCustomers(r.Context(), b)
	} else {
		var c *service.CustomerListing
		if c, err = s.cfg.Service.Customer(r.Context(), b, p.Customer); err == nil {
			list = []service.CustomerListing{*c}
		}
	}
	if err != nil {
		return err
	}
	return writeTablePage(w, report.Customers(list), page)
}

// customer: GET /api/v1/customers/{customer}, one row of the list.
func (s *server) customer(w http.ResponseWriter, r *http.Request, p service.Principal) error {
	name, err := p.Scope(r.PathValue("customer"))
	if err != nil {
		return err
	}
	b, err := s.billing()
	if err != nil {
		return err
	}
	c, err := s.cfg.Service.Customer(r.Context(), b, name)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := report.Customers([]service.CustomerListing{*c}).WriteJSON(&buf); err != nil {
		return err
	}
	var rows []json.RawMessage
	if err := json.Unmarshal(buf.Bytes(), &rows); err != nil || len(rows) != 1 {
		return errors.Join(errors.New("encode customer"), err)
	}
	return writeJSONBytes(w, http.StatusOK, append(rows[0], '\n'))
}

// invoiceFormat returns the format parameter: json (default), csv or
// html.
func invoiceFormat(r *http.Request) (string, error) {
	switch f := param(r, "format", "json"); f {
	case "json", "csv", "html":
		return f, nil
	default:
		return "", keymeter.Errorf(keymeter.EINVALID, "format %q: want json, csv or html", f)
	}
}

// writeInvoices writes invoice documents as json (a page of documents,
// or one document when one), csv or html: keymeter invoice --format.
func writeInvoices(w http.ResponseWriter, p service.Principal, format string, docs [][]byte, one bool, page pageRequest) error {
	var b bytes.Buffer
	switch format {
	case "html":
		// The printable page, with its inline styles allowed by hash only;
		// it checks the documents' customers against the viewer again.
		v := dashboard.AdminViewer("")
		if !p.Admin() {
			v = dashboard.PortalViewer(p.Customer, "")
		}
		return dashboard.PrintInvoice(w, v, docs...)
	case "csv":
		if err := invoice.WriteCSV(&b, docs); err != nil {
			return err
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	default:
		if one {
			return writeJSONBytes(w, http.StatusOK, report.Invoices(docs, true))
		}
		i, j, next := page.bounds(len(docs))
		return writeItems(w, http.StatusOK, report.Invoices(docs[i:j], false), next)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, err := w.Write(b.Bytes())
	return err
}

// invoices: GET /api/v1/invoices?period=&customer=&format=, keymeter
// invoice: finalized invoices as frozen, drafts for the others. JSON is
// paginated; csv and html hold every invoice.
func (s *server) invoices(w http.ResponseWriter, r *http.Request, p service.Principal) error {
	page, err := parsePage(r)
	if err != nil {
		return err
	}
	format, err := invoiceFormat(r)
	if err != nil {
		return err
	}
	customer, err := p.Scope(r.URL.Query().Get("customer"))
	if err != nil {
		return err
	}
	b, err := s.billing()
	if err != nil {
		return err
	}
	set, err := s.cfg.Service.Invoices(r.Context(), b, service.InvoiceRequest{Month: s.month(r), Customer: customer, CoverageThreshold: s.cfg.CoverageThreshold})
	if err != nil {
		return err
	}
	return writeInvoices(w, p, format, set.Documents, false, page)
}

// invoice: GET /api/v1/customers/{customer}/invoices/{month}: one
// invoice, the document itself in JSON.
func (s *server) invoice(w http.ResponseWriter, r *http.Request, p service.Principal) error {
	format, err := invoiceFormat(r)
	if err != nil {
		return err
	}
	customer, err := p.Scope(r.PathValue("customer"))
	if err != nil {
		return err
	}
	b, err := s.billing()
	if err != nil {
		return err
	}
	set, err := s.cfg.Service.Invoices(r.Context(), b, service.InvoiceRequest{Month: r.PathValue("month"), Customer: customer, CoverageThreshold: s.cfg.CoverageThreshold})
	if err != nil {
		return err
	}
	return writeInvoices(w, p, format, set.Documents, true, pageRequest{})
}

// finalInvoices: GET /api/v1/invoices/final?customer=, every finalized
// invoice (every month), as frozen, paginated.
func (s *server) finalInvoices(w http.ResponseWriter, r *http.Request, p service.Principal) error {
	page, err := parsePage(r)
	if err != nil {
		return err
	}
	customer, err := p.Scope(r.URL.Query().Get("customer"))
	if err != nil {
		return err
	}
	final, err := s.cfg.Service.FinalInvoices(r.Context(), keymeter.InvoiceFilter{Customer: customer})
	if err != nil {
		return err
	}
	docs := make([][]byte, len(final))
	for i, f := range final {
		docs[i] = f.Document
	}
	i, j, next := page.bounds(len(docs))
	return writeItems(w, http.StatusOK, report.Invoices(docs[i:j], false), next)
}

// rejects: GET /api/v1/rejects?file=, keymeter rejects --format json,
// paginated, newest first.
func (s *server) rejects(w http.ResponseWriter, r *http.Request, _ service.Principal) error {
	page, err := parsePage(r)
	if err != nil {
		return err
	}
	// One more than the page, to know whether there is a next one.
	rejects, err := s.cfg.Service.Rejects(r.Context(), keymeter.RejectFilter{Object: r.URL.Query().Get("file"), Limit: page.offset + page.limit + 1})
	if err != nil {
		return err
	}
	return writeTablePage(w, report.Rejects(rejects), page)
}

// alerts: GET /api/v1/alerts?customer=&status=, keymeter alerts list
// --format json (with each webhook's payload), paginated, oldest first.
// A customer's token sees only its own customer's alerts.
func (s *server) alerts(w http.ResponseWriter, r *http.Request, p service.Principal) error {
	page, err := parsePage(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	customer, err := p.Scope(q.Get("customer"))
	if err != nil {
		return err
	}
	list, err := s.cfg.Service.ListAlerts(r.Context(), service.AlertFilter{Customer: customer, Status: q.Get("status")})
	if err != nil {
		return err
	}
	return writeTablePage(w, report.Alerts(list, true), page)
}

// reconcile: GET /api/v1/reconcile, keymeter reconcile --format json.
func (s *server) reconcile(w http.ResponseWriter, r *http.Request, _ service.Principal) error {
	q := keymeter.ReconcileQuery{}
	var err error
	if q.From, q.To, err = service.Period(r.URL.Query().Get("from"), r.URL.Query().Get("to"), s.now()); err != nil {
		return err
	}
	if q.By, err = dimensions(param(r, "by", "customer,day")); err != nil {
		return err
	}
	th, err := keymeter.ParseThreshold(param(r, "threshold", "0"))
	if err != nil {
		return err
	}
	switch e := param(r, "edge_source", "edge"); e {
	case keymeter.SourceEdge.String(), keymeter.SourceCloudFront.String(), keymeter.SourceCloudFrontRealtime.String():
		q.Edge, _ = keymeter.ParseSource(e)
	default:
		return keymeter.Errorf(keymeter.EINVALID, "edge_source %q: want edge, cloudfront or cloudfront-realtime", e)
	}
	rec, err := s.cfg.Service.Reconcile(r.Context(), service.ReconcileRequest{Query: q, Threshold: th, FlaggedOnly: r.URL.Query().Get("flagged") == "true"})
	if err != nil {
		return err
	}
	return writeTable(w, report.Reconcile(rec))
}

// coverage: GET /api/v1/coverage, keymeter coverage --format json.
func (s *server) coverage(w http.ResponseWriter, r *http.Request, _ service.Principal) error {
	var q keymeter.CoverageQuery
	var err error
	if q.From, q.To, err = service.Period(r.URL.Query().Get("from"), r.URL.Query().Get("to"), s.now()); err != nil {
		return err
	}
	rep, err := s.cfg.Service.Coverage(r.Context(), q)
	if err != nil {
		return err
	}
	return writeTable(w, report.Coverage(rep))
}

// costs: GET /api/v1/costs?period=&by=customer, keymeter costs --format
// json.
func (s *server) costs(w http.ResponseWriter, r *http.Request, _ service.Principal) error {
	by := r.URL.Query().Get("by")
	if by != "" && by != "customer" {
		return keymeter.Errorf(keymeter.EINVALID, "by %q: costs are grouped by customer or not at all", by)
	}
	runs, err := strconv.ParseInt(param(r, "function_runs", "0"), 10, 64)
	if err != nil || runs < 0 {
		return keymeter.Errorf(keymeter.EINVALID, "function_runs %q: want a number, 0 or more", r.URL.Query().Get("function_runs"))
	}
	b, err := s.billing()
	if err != nil {
		return err
	}
	rep, err := s.cfg.Service.Costs(r.Context(), b, service.CostRequest{Month: s.month(r), ByCustomer: by == "customer", FunctionRuns: runs})
	if err != nil {
		return err
	}
	return writeTable(w, report.Costs(rep, by == "customer"))
}

// sources: GET /api/v1/sources, the running sources' status, paginated.
func (s *server) sources(w http.ResponseWriter, r *http.Request, _ service.Principal) error {
	page, err := parsePage(r)
	if err != nil {
		return err
	}
	var list []service.SourceStatus
	if s.cfg.Sources != nil {
		list = s.cfg.Sources()
	}
	i, j, next := page.bounds(len(list))
	items, err := json.Marshal(append([]service.SourceStatus{}, list[i:j]...))
	if err != nil {
		return err
	}
	return writeItems(w, http.StatusOK, items, next)
}

// tokens: GET /api/v1/tokens, keymeter tokens list --format json,
// paginated.
func (s *server) tokens(w http.ResponseWriter, r *http.Request, _ service.Principal) error {
	page, err := parsePage(r)
	if err != nil {
		return err
	}
	list, err := s.cfg.Service.ListTokens(r.Context())
	if err != nil {
		return err
	}
	return writeTablePage(w, report.Tokens(list), page)
}

// tokenRequest is the body of POST /api/v1/tokens.
type tokenRequest struct {
	// Customer scopes the token; "" or absent: an admin token.
	Customer string `json:"customer"`
}

// newTokenResponse is the answer of POST /api/v1/tokens: the only time
// the token is shown.
type newTokenResponse struct {
	Token     string    `json:"token"`
	ID        string    `json:"id"`
	Customer  *string   `json:"customer"`
	CreatedAt time.Time `json:"created_at"`
}

// createToken: POST /api/v1/tokens {"customer": NAME}, keymeter tokens
// create: 201 with the token.
func (s *server) createToken(w http.ResponseWriter, r *http.Request, _ service.Principal) error {
	var req tokenRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	if err != nil {
		return keymeter.Errorf(keymeter.EINVALID, "read the request body: %v", err)
	}
	if len(bytes.TrimSpace(body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return keymeter.Errorf(keymeter.EINVALID, "the request body is not a token request: %v", err)
		}
	}
	tok, err := s.cfg.Service.CreateToken(r.Context(), s.cfg.Billing, req.Customer)
	if err != nil {
		return err
	}
	resp := newTokenResponse{Token: tok.Secret, ID: tok.ID, CreatedAt: tok.CreatedAt}
	if tok.Customer != "" {
		resp.Customer = &tok.Customer
	}
	return writeJSON(w, http.StatusCreated, resp)
}

// revokeToken: DELETE /api/v1/tokens/{id}, keymeter tokens revoke: 204.
func (s *server) revokeToken(w http.ResponseWriter, r *http.Request, _ service.Principal) error {
	if err := s.cfg.Service.RevokeToken(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
