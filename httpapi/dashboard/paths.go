package dashboard

import (
	"net/url"
	"strings"
)

// The pages' URLs. The pages link to each other with these, so the server
// registers its handlers with the Pattern constants, which match them.
const (
	PathOverview  = "/"
	PathInvoices  = "/invoices"
	PathIngestion = "/ingestion"
	PathRejects   = "/rejects"
	PathCoverage  = "/coverage"
	// PathSignIn is the sign-in page (GET) and its form's target (POST:
	// the fields token, csrf and next).
	PathSignIn = "/signin"
	// PathSignOut is the target of the sign-out form (POST: the field
	// csrf).
	PathSignOut = "/signout"
	// PathAssets is the prefix Assets serves.
	PathAssets = "/assets/"
)

// http.ServeMux patterns of the pages, for the server to register. A
// {customer} or {month} is one path segment (r.PathValue unescapes it, so
// a customer name with a "/" works).
//
// The overview and customer pages take the period as the query
// parameters from and to (dates, 2006-01-02: [from, to)), which their
// period form sends.
const (
	PatternOverview         = "GET /{$}"
	PatternCustomer         = "GET /customers/{customer}"
	PatternCustomerInvoices = "GET /customers/{customer}/invoices"
	PatternInvoice          = "GET /customers/{customer}/invoices/{month}"
	PatternInvoicePrint     = "GET /customers/{customer}/invoices/{month}/print"
	PatternInvoices         = "GET " + PathInvoices
	PatternIngestion        = "GET " + PathIngestion
	PatternRejects          = "GET " + PathRejects
	PatternCoverage         = "GET " + PathCoverage
	PatternSignIn           = "GET " + PathSignIn
	PatternSignInSubmit     = "POST " + PathSignIn
	PatternSignOut          = "POST " + PathSignOut
	PatternAssets           = "GET " + PathAssets
)

// CustomerPath returns the URL of a customer's page.
func CustomerPath(customer string) string {
	return "/customers/" + url.PathEscape(customer)
}

// CustomerInvoicesPath returns the URL of a customer's list of invoices.
func CustomerInvoicesPath(customer string) string {
	return CustomerPath(customer) + "/invoices"
}

// InvoicePath returns the URL of a customer's invoice for a period
// ("2025-10").
func InvoicePath(customer, month string) string {
	return CustomerInvoicesPath(customer) + "/" + url.PathEscape(month)
}

// InvoicePrintPath returns the URL of the printable page of a customer's
// invoice for a period (PrintInvoice).
func InvoicePrintPath(customer, month string) string {
	return InvoicePath(customer, month) + "/print"
}

// SignInPath returns the URL of the sign-in page that returns to next.
func SignInPath(next string) string {
	if next = localPath(next); next == "" || next == PathOverview {
		return PathSignIn
	}
	return PathSignIn + "?next=" + url.QueryEscape(next)
}

// localPath returns p when it is a path on this server ("/x", not
// "//host/x", "/\host" or "https://host"), else "".
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		return ""
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] == 0x7f {
			return ""
		}
	}
	return p
}
