package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/billing/invoice"
	"github.com/keymeter/keymeter/httpapi"
	"github.com/keymeter/keymeter/httpapi/apitest"
	"github.com/keymeter/keymeter/report"
	"github.com/keymeter/keymeter/service"
)

// TestUsageIsTheCLIsJSON checks that GET /api/v1/usage is, byte for
// byte, what keymeter usage --format json prints for the same flags:
// the service's report written by report.Usage (the command's path, which
// cmd/keymeter's tests pin).
func TestUsageIsTheCLIsJSON(t *testing.T) {
	e := newEnv(t)
	c := e.client(e.admin)
	for _, tc := range []struct {
		query string
		q     keymeter.UsageQuery
	}{
		{"from=2025-10&by=customer,source", keymeter.UsageQuery{By: []keymeter.Dimension{keymeter.DimCustomer, keymeter.DimSource}}},
		{"from=2025-10-01&to=2025-10-08&by=day,edge_result", keymeter.UsageQuery{By: []keymeter.Dimension{keymeter.DimDay, keymeter.DimEdgeResult}}},
		{"from=2025-10&source=cloudfront&by=month,edge_location", keymeter.UsageQuery{Sources: []keymeter.Source{keymeter.SourceCloudFront}, By: []keymeter.Dimension{keymeter.DimMonth, keymeter.DimEdgeLocation}}},
		{"from=2025-10&customer=acme&by=api_key,path", keymeter.UsageQuery{Customer: "acme", By: []keymeter.Dimension{keymeter.DimAPIKey, keymeter.DimPath}}},
		{"from=2025-10&by=", keymeter.UsageQuery{}},
	} {
		var err error
		q := tc.q
		to := "2025-11-01"
		if strings.Contains(tc.query, "to=2025-10-08") {
			to = "2025-10-08"
		}
		from := "2025-10-01"
		if q.From, q.To, err = service.Period(from, to, sampleNow); err != nil {
			t.Fatal(err)
		}
		rep, err := e.svc.Usage(context.Background(), service.UsageRequest{Query: q, CoverageThreshold: 9900})
		if err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		if err := report.Usage(rep).Write(&want, report.FormatJSON); err != nil {
			t.Fatal(err)
		}
		got := c.Get(t, "/api/v1/usage?"+tc.query).Want(t, tc.query, http.StatusOK)
		if !bytes.Equal(got.Body, want.Bytes()) {
			t.Errorf("usage?%s:\n got %s\nwant %s", tc.query, got.Body, want.Bytes())
		}
		if len(rep.Rows) == 0 {
			t.Errorf("usage?%s: no rows; the sample has data", tc.query)
		}
	}
}

// TestAuth checks tokens: none or a bad one is 401, a customer's token
// on an admin route 403, a revoked one 401; /healthz, /readyz and the
// document need none.
func TestAuth(t *testing.T) {
	e := newEnv(t)
	anon := e.client("")
	anon.Get(t, "/healthz").Want(t, "healthz", http.StatusOK)
	anon.Get(t, "/readyz").Want(t, "readyz", http.StatusOK)
	anon.Get(t, "/api/v1/openapi.json").Want(t, "openapi", http.StatusOK)
	for _, path := range []string{"/api/v1/usage", "/api/v1/keys", "/api/v1/tokens", "/api/v1/rejects"} {
		r := anon.Get(t, path).Want(t, path+" without a token", http.StatusUnauthorized)
		if r.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without WWW-Authenticate", path)
		}
		wantCode(t, r, "unauthorized")
		e.client("kmt_0123456789abcdef_"+strings.Repeat("a", 64)).Get(t, path).Want(t, path+" unknown token", http.StatusUnauthorized)
		e.client(flipLast(e.admin)).Get(t, path).Want(t, path+" wrong secret", http.StatusUnauthorized)
	}
	acme := e.client(e.acme)
	for _, path := range []string{"/api/v1/tokens", "/api/v1/rejects", "/api/v1/reconcile?from=2025-10", "/api/v1/coverage?from=2025-10",
		"/api/v1/costs?period=2025-10", "/api/v1/sources", "/api/v1/keys?unassigned=true"} {
		wantCode(t, acme.Get(t, path).Want(t, "acme "+path, http.StatusForbidden), "forbidden")
	}
	acme.Do(t, http.MethodPost, "/api/v1/tokens", `{}`).Want(t, "acme makes a token", http.StatusForbidden)

	// An admin makes a token over the API, uses it, and revokes it.
	admin := e.client(e.admin)
	r := admin.Do(t, http.MethodPost, "/api/v1/tokens", `{"customer": "globex"}`).Want(t, "create token", http.StatusCreated)
	var nt struct{ Token, ID string }
	if err := json.Unmarshal(r.Body, &nt); err != nil {
		t.Fatal(err)
	}
	e.client(nt.Token).Get(t, "/api/v1/keys").Want(t, "new token", http.StatusOK)
	admin.Do(t, http.MethodDelete, "/api/v1/tokens/"+nt.ID, "").Want(t, "revoke", http.StatusNoContent)
	e.client(nt.Token).Get(t, "/api/v1/keys").Want(t, "revoked token", http.StatusUnauthorized)
	admin.Do(t, http.MethodDelete, "/api/v1/tokens/0123456789abcdef", "").Want(t, "revoke unknown", http.StatusNotFound)
	admin.Do(t, http.MethodPost, "/api/v1/tokens", `{"customer": "nobody"}`).Want(t, "token of nobody", http.StatusNotFound)
	admin.Do(t, http.MethodPost, "/api/v1/tokens", `{"colour": "red"}`).Want(t, "bad body", http.StatusBadRequest)
	list := admin.Get(t, "/api/v1/tokens").Want(t, "tokens", http.StatusOK)
	if bytes.Contains(list.Body, []byte(nt.Token[21:])) || !bytes.Contains(list.Body, []byte(nt.ID)) {
		t.Errorf("tokens list shows a secret, or not the ID:\n%s", list.Body)
	}
}

// TestCustomerScope checks that a customer's token sees only its own
// customer: usage, keys, customers and invoices; asking for another is
// 403, never another's data.
func TestCustomerScope(t *testing.T) {
	e := newEnv(t)
	acme := e.client(e.acme)
	r := acme.Get(t, "/api/v1/usage?from=2025-10&by=customer,api_key").Want(t, "acme usage", http.StatusOK)
	rows := decodeRows(t, r.Body)
	if len(rows) == 0 {
		t.Fatal("acme sees no usage")
	}
	for _, row := range rows {
		if row["customer"] != "acme" {
			t.Errorf("acme's usage has a row of %v", row["customer"])
		}
	}
	// The same numbers an admin gets for acme.
	adm := e.client(e.admin).Get(t, "/api/v1/usage?from=2025-10&by=customer,api_key&customer=acme").Want(t, "admin acme usage", http.StatusOK)
	if !bytes.Equal(adm.Body, r.Body) {
		t.Errorf("acme's usage differs from the admin's view of acme:\n%s\n%s", r.Body, adm.Body)
	}
	for _, path := range []string{"/api/v1/usage?from=2025-10&customer=globex", "/api/v1/customers/globex", "/api/v1/invoices?period=2025-10&customer=globex",
		"/api/v1/customers/globex/invoices/2025-10", "/api/v1/customers/globex/invoices/2025-10?format=html", "/api/v1/invoices/final?customer=globex"} {
		r := acme.Get(t, path).Want(t, "acme asks "+path, http.StatusForbidden)
		if bytes.Contains(r.Body, []byte("globex\"")) && !bytes.Contains(r.Body, []byte(`customer \"globex\"`)) {
			t.Errorf("%s: the 403 holds globex's data: %s", path, r.Body)
		}
	}
	keys := decodePage(t, acme.Get(t, "/api/v1/keys").Want(t, "acme keys", http.StatusOK).Body)
	if len(keys) != 2 {
		t.Errorf("acme has 2 keys, the API lists %d", len(keys))
	}
	for _, k := range keys {
		if k["customer"] != "acme" {
			t.Errorf("acme's keys list a key of %v", k["customer"])
		}
	}
	cs := decodePage(t, acme.Get(t, "/api/v1/customers").Want(t, "acme customers", http.StatusOK).Body)
	if len(cs) != 1 || cs[0]["customer"] != "acme" {
		t.Errorf("acme's customers: %v", cs)
	}
	invs := decodePage(t, acme.Get(t, "/api/v1/invoices?period=2025-10").Want(t, "acme invoices", http.StatusOK).Body)
	if len(invs) != 1 || invs[0]["customer"] != "acme" || invs[0]["status"] != "draft" {
		t.Errorf("acme's invoices: %v", invs)
	}
	one := acme.Get(t, "/api/v1/customers/acme/invoices/2025-10").Want(t, "acme's invoice", http.StatusOK)
	var doc map[string]any
	if err := json.Unmarshal(one.Body, &doc); err != nil || doc["customer"] != "acme" {
		t.Errorf("acme's invoice: %v %s", err, one.Body)
	}
	html := acme.Get(t, "/api/v1/customers/acme/invoices/2025-10?format=html").Want(t, "acme html", http.StatusOK)
	var wantHTML bytes.Buffer
	if err := invoice.WriteHTML(&wantHTML, [][]byte{one.Body}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(html.Body, wantHTML.Bytes()) || !strings.Contains(html.Header.Get("Content-Security-Policy"), "'sha256-") {
		t.Errorf("acme's printable invoice is not invoice --format html's, or its policy allows more than its styles: %q", html.Header.Get("Content-Security-Policy"))
	}
	csv := acme.Get(t, "/api/v1/customers/acme/invoices/2025-10?format=csv").Want(t, "acme csv", http.StatusOK)
	if !bytes.Contains(csv.Body, []byte("acme")) || bytes.Contains(csv.Body, []byte("globex")) {
		t.Errorf("acme's invoice csv:\n%s", csv.Body)
	}
}

// TestListsPaginate walks a list page by page and gets every item once.
func TestListsPaginate(t *testing.T) {
	e := newEnv(t)
	c := e.client(e.admin)
	keys, err := e.svc.ListKeys(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) < 5 {
		t.Fatalf("the sample has %d keys; the test needs 5", len(keys))
	}
	walk := func(limit int) (items []map[string]any, pages int) {
		path := fmt.Sprintf("/api/v1/keys?limit=%d", limit)
		for ; ; pages++ {
			if pages > len(keys) {
				t.Fatal("the cursor does not end")
			}
			var page struct {
				Items      []map[string]any `json:"items"`
				NextCursor *string          `json:"next_cursor"`
			}
			if err := json.Unmarshal(c.Get(t, path).Want(t, path, http.StatusOK).Body, &page); err != nil {
				t.Fatal(err)
			}
			if len(page.Items) > limit {
				t.Fatalf("%s: %d items", path, len(page.Items))
			}
			items = append(items, page.Items...)
			if page.NextCursor == nil {
				return items, pages + 1
			}
			path = fmt.Sprintf("/api/v1/keys?limit=%d&cursor=%s", limit, *page.NextCursor)
		}
	}
	big, bigPages := walk(1000)
	small, smallPages := walk(2)
	if len(big) != len(keys) || fmt.Sprint(big) != fmt.Sprint(small) {
		t.Errorf("pages of 1000 give %d keys, pages of 2 %d; the store has %d", len(big), len(small), len(keys))
	}
	if want := (len(keys) + 1) / 2; smallPages != want || bigPages != 1 {
		t.Errorf("%d and %d pages; want %d and 1", smallPages, bigPages, want)
	}
	for _, bad := range []string{"limit=0", "limit=1001", "limit=x", "cursor=nonsense"} {
		wantCode(t, c.Get(t, "/api/v1/keys?"+bad).Want(t, bad, http.StatusBadRequest), "invalid")
	}
}

// TestErrors checks the error table: EINVALID 400, ENOTFOUND 404, and a
// JSON 404 for an unknown route.
func TestErrors(t *testing.T) {
	e := newEnv(t)
	c := e.client(e.admin)
	wantCode(t, c.Get(t, "/api/v1/usage?by=colour").Want(t, "bad dimension", http.StatusBadRequest), "invalid")
	wantCode(t, c.Get(t, "/api/v1/usage?from=October").Want(t, "bad period", http.StatusBadRequest), "invalid")
	wantCode(t, c.Get(t, "/api/v1/invoices?period=2025-10&format=pdf").Want(t, "bad format", http.StatusBadRequest), "invalid")
	wantCode(t, c.Get(t, "/api/v1/customers/nobody").Want(t, "unknown customer", http.StatusNotFound), "not_found")
	undocumented := e.client(e.admin)
	undocumented.Doc = nil
	wantCode(t, undocumented.Get(t, "/api/v1/nothing").Want(t, "unknown route", http.StatusNotFound), "not_found")
}

// TestOpenAPI checks the document against the server: every API route
// is in it, and a request of each route (as an admin and as a customer,
// with errors) gets a response the document describes (checked by the
// client: status, content type, and the JSON against the schema).
func TestOpenAPI(t *testing.T) {
	e := newEnv(t)
	for _, rt := range httpapi.Routes(e.handler) {
		method, path, _ := strings.Cut(rt, " ")
		if path == "/api/v1/" {
			continue // the JSON 404 of unknown routes
		}
		if !strings.HasPrefix(path, "/api/") && path != "/healthz" && path != "/readyz" {
			continue // the dashboard's pages
		}
		if _, ok := e.doc.Paths[path][strings.ToLower(method)]; !ok {
			t.Errorf("route %s is not in openapi.json", rt)
		}
	}
	for path, ops := range e.doc.Paths {
		for method := range ops {
			if !contains(httpapi.Routes(e.handler), strings.ToUpper(method)+" "+path) {
				t.Errorf("openapi.json has %s %s, which the server does not", method, path)
			}
		}
	}
	admin, acme := e.client(e.admin), e.client(e.acme)
	// Finalize October for the finalized invoices (forced: it has not
	// ended).
	if _, err := e.svc.Finalize(context.Background(), e.billing, service.FinalizeRequest{Month: "2025-10", Customer: "globex", Force: true}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{
		"/api/v1/usage?from=2025-10&by=customer,day,path,edge_result,source",
		"/api/v1/keys", "/api/v1/keys?unassigned=true&limit=1", "/api/v1/rejects", "/api/v1/alerts",
		"/api/v1/customers", "/api/v1/customers/acme", "/api/v1/customers/initech",
		"/api/v1/invoices?period=2025-10", "/api/v1/invoices?period=2025-10&format=csv", "/api/v1/invoices?period=2025-10&format=html",
		"/api/v1/invoices/final", "/api/v1/customers/globex/invoices/2025-10", "/api/v1/customers/acme/invoices/2025-10?format=html",
		"/api/v1/rejects?limit=3", "/api/v1/reconcile?from=2025-10-01&to=2025-10-03", "/api/v1/coverage?from=2025-10",
		"/api/v1/costs?period=2025-10", "/api/v1/costs?period=2025-10&by=customer", "/api/v1/sources", "/api/v1/tokens",
	} {
		admin.Get(t, path).Want(t, path, http.StatusOK)
	}
	for _, path := range []string{"/api/v1/usage?from=2025-10", "/api/v1/keys", "/api/v1/customers", "/api/v1/invoices/final",
		"/api/v1/customers/acme/invoices/2025-10?format=csv"} {
		acme.Get(t, path).Want(t, "acme "+path, http.StatusOK)
	}
	admin.Get(t, "/api/v1/costs?period=2025-10&by=path").Want(t, "bad costs", http.StatusBadRequest)
	admin.Get(t, "/api/v1/reconcile?by=path").Want(t, "bad reconcile", http.StatusBadRequest)
	admin.Get(t, "/api/v1/coverage?from=x").Want(t, "bad coverage", http.StatusBadRequest)
	admin.Get(t, "/api/v1/sources?limit=0").Want(t, "bad sources", http.StatusBadRequest)
	admin.Get(t, "/api/v1/customers/acme/invoices/October").Want(t, "bad month", http.StatusBadRequest)
	// Every route answered at least once with its success status.
	for path, ops := range e.doc.Paths {
		for method, op := range ops {
			ok := false
			for status := range op.Responses {
				if status < "300" && e.seen.Has(fmt.Sprintf("%s %s %s", strings.ToUpper(method), path, status)) {
					ok = true
				}
			}
			if !ok && path != "/healthz" && path != "/readyz" && path != "/api/v1/openapi.json" &&
				!(method == "post" || method == "delete") {
				t.Errorf("%s %s was never answered with success", method, path)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func wantCode(t *testing.T, r apitest.Response, code string) {
	t.Helper()
	if got := r.ErrorCode(); got != code {
		t.Errorf("error code %q, want %q", got, code)
	}
}

func decodeRows(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var rows []map[string]any
	if err := json.Unmarshal(b, &rows); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return rows
}

func decodePage(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var p struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return p.Items
}

// flipLast returns token with its last hex digit changed.
func flipLast(token string) string {
	last := "1"
	if strings.HasSuffix(token, "1") {
		last = "2"
	}
	return token[:len(token)-1] + last
}

// TestSuite runs apitest.Run, the checks the end-to-end tests run against
// the real binary, against the httptest server.
func TestSuite(t *testing.T) {
	e := newEnv(t)
	apitest.Run(t, e.client(""), apitest.Tokens{Admin: e.admin, Customer: e.acme, CustomerName: "acme", Other: "globex", Period: "2025-10"})
}

// TestAlerts checks GET /api/v1/alerts: an admin sees every customer's
// alerts, with their payloads; a customer's token sees only its own, and
// asking for another customer's is 403.
func TestAlerts(t *testing.T) {
	e := newEnv(t)
	rows := decodePage(t, e.client(e.admin).Get(t, "/api/v1/alerts").Want(t, "admin alerts", http.StatusOK).Body)
	if len(rows) != 2 {
		t.Fatalf("admin sees %d alerts, want 2: %v", len(rows), rows)
	}
	acme := e.client(e.acme)
	rows = decodePage(t, acme.Get(t, "/api/v1/alerts?status=pending").Want(t, "acme alerts", http.StatusOK).Body)
	if len(rows) != 1 || rows[0]["customer"] != "acme" || rows[0]["idempotency_key"] != "key-acme" {
		t.Fatalf("acme sees %v, want only its own alert", rows)
	}
	if p, _ := rows[0]["payload"].(map[string]any); p["customer"] != "acme" {
		t.Errorf("acme's alert payload = %v", rows[0]["payload"])
	}
	wantCode(t, acme.Get(t, "/api/v1/alerts?customer=globex").Want(t, "acme asks for globex's alerts", http.StatusForbidden), "forbidden")
	if rows := decodePage(t, e.client(e.admin).Get(t, "/api/v1/alerts?status=dead").Want(t, "dead alerts", http.StatusOK).Body); len(rows) != 0 {
		t.Errorf("dead alerts: %v, want none", rows)
	}
	wantCode(t, e.client(e.admin).Get(t, "/api/v1/alerts?status=lost").Want(t, "bad status", http.StatusBadRequest), "invalid")
}
