package apitest

import (
	"encoding/json"
	"net/http"
	"testing"
)

// Tokens are the tokens Run uses: an admin's, and one of Customer's.
// Other names another customer with usage in Period.
type Tokens struct {
	Admin, Customer string
	// CustomerName is the customer of the Customer token.
	CustomerName, Other string
	// Period is a month with usage, "2025-10".
	Period string
}

// Run checks a running server at c.Base (an httptest server, or the
// real keymeter serve) against the document and keymeter's rules: health
// checks without a token, 401 without one, an admin's usage, a
// customer's token scoped to its own customer (403 for another's data
// and for admin routes). c.Doc must be set: every response is checked
// against it.
func Run(t *testing.T, c *Client, tk Tokens) {
	t.Helper()
	if c.Doc == nil {
		t.Fatal("apitest.Run: the client has no document")
	}
	anon := c.With("")
	anon.Get(t, "/healthz").Want(t, "healthz", http.StatusOK)
	anon.Get(t, "/api/v1/openapi.json").Want(t, "openapi.json", http.StatusOK)
	anon.Get(t, "/api/v1/usage").Want(t, "usage without a token", http.StatusUnauthorized)

	admin := c.With(tk.Admin)
	rows := decode[[]map[string]any](t, admin.Get(t, "/api/v1/usage?from="+tk.Period+"&by=customer").Want(t, "admin usage", http.StatusOK).Body)
	seen := map[any]bool{}
	for _, r := range rows {
		seen[r["customer"]] = true
	}
	if !seen[tk.CustomerName] || !seen[tk.Other] {
		t.Errorf("admin usage of %s has no rows of %s and %s: %v", tk.Period, tk.CustomerName, tk.Other, rows)
	}
	admin.Get(t, "/api/v1/tokens").Want(t, "admin tokens", http.StatusOK)

	cust := c.With(tk.Customer)
	rows = decode[[]map[string]any](t, cust.Get(t, "/api/v1/usage?from="+tk.Period+"&by=customer").Want(t, "customer usage", http.StatusOK).Body)
	for _, r := range rows {
		if r["customer"] != tk.CustomerName {
			t.Errorf("%s's token sees usage of %v", tk.CustomerName, r["customer"])
		}
	}
	cust.Get(t, "/api/v1/usage?from="+tk.Period+"&customer="+tk.Other).Want(t, "customer asks another's usage", http.StatusForbidden)
	cust.Get(t, "/api/v1/customers/"+tk.Other+"/invoices/"+tk.Period).Want(t, "customer asks another's invoice", http.StatusForbidden)
	cust.Get(t, "/api/v1/tokens").Want(t, "customer asks for tokens", http.StatusForbidden)
	cust.Get(t, "/api/v1/rejects").Want(t, "customer asks for rejects", http.StatusForbidden)
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%v: %.300s", err, b)
	}
	return v
}
