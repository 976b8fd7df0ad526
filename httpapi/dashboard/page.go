package dashboard

import (
	"net/http"
	"time"

	"github.com/keymeter/keymeter"
)

// Role says what a viewer may see.
type Role uint8

// Roles. The zero Role is Anonymous, so a Viewer left unset sees nothing
// but the sign-in and error pages.
const (
	// Anonymous: not signed in.
	Anonymous Role = iota
	// RoleAdmin: an admin token; every page.
	RoleAdmin
	// RoleCustomer: a token scoped to one customer; the portal.
	RoleCustomer
)

// Viewer is who a page is rendered for.
type Viewer struct {
	Role Role
	// Customer is the customer a RoleCustomer session is scoped to.
	Customer string
	// CSRF is the token the page's forms (sign-out, sign-in) carry in
	// their csrf field, for the server to check.
	CSRF string
}

// AdminViewer returns the viewer of an admin session.
func AdminViewer(csrf string) Viewer { return Viewer{Role: RoleAdmin, CSRF: csrf} }

// PortalViewer returns the viewer of a session scoped to customer.
func PortalViewer(customer, csrf string) Viewer {
	return Viewer{Role: RoleCustomer, Customer: customer, CSRF: csrf}
}

// Admin reports whether v is an admin.
func (v Viewer) Admin() bool { return v.Role == RoleAdmin }

// Portal reports whether v is a customer's session.
func (v Viewer) Portal() bool { return v.Role == RoleCustomer }

// SignedIn reports whether v is an admin or a customer.
func (v Viewer) SignedIn() bool { return v.Admin() || v.Portal() }

// Frame is what every page has around its content.
type Frame struct {
	Viewer Viewer
	// AsOf is when the server read the data shown; the footer says so.
	// The zero time leaves it out.
	AsOf time.Time
}

// Range is the half-open interval [From, To) of UTC instants.
type Range struct {
	From, To time.Time
}

// Totals are exact usage totals.
type Totals struct {
	Requests      keymeter.Int128
	BytesSent     keymeter.Int128 // sc-bytes: to the client
	BytesReceived keymeter.Int128 // cs-bytes: from the client
}

// Series is a measure per UTC day, with one line per group (a customer,
// a key) or a single line. A page draws it as a chart and lists it as a
// table: a row per day, a column per line.
type Series struct {
	// Days are UTC midnights, ascending, one per point.
	Days  []time.Time
	Lines []SeriesLine
}

// SeriesLine is one line of a Series.
type SeriesLine struct {
	Label  string
	Values []keymeter.Int128 // one per day of the Series
}

// GroupUsage is the usage of one group of a breakdown: a customer, a
// path, an edge result.
type GroupUsage struct {
	// Group is the group's value; Null for an unattributed customer or a
	// value the log did not carry.
	Group keymeter.GroupValue
	Totals
}

// Breakdown is usage by one dimension, largest first.
type Breakdown struct {
	Rows []GroupUsage
	// Rest sums the groups the server left out when it listed only the
	// largest, and RestGroups counts them; both zero when none were.
	Rest       Totals
	RestGroups int64
}

// SignInPage asks for a token. Its form posts the fields token, csrf and
// next to PathSignIn; the server checks the token, sets the session
// cookie and redirects to next.
type SignInPage struct {
	// CSRF is the form's csrf field.
	CSRF string
	// Next is where to go once signed in: a path on this server. Render
	// drops anything else (another host, "//host"), so that the form
	// cannot send a token holder elsewhere.
	Next string
	// Error is shown above the form after a failed attempt ("That token
	// is not valid or was revoked."); the page is then sent with status
	// 401.
	Error string
}

// ErrorPage is a page the viewer cannot have: 401 (sign in first), 403
// (not allowed), 404 (no such page) or any other status.
type ErrorPage struct {
	Frame
	// Status is the HTTP status sent: 401, 403, 404, ...
	Status int
	// Message says more, when there is more to say; each status has a
	// default.
	Message string
	// Next is, for a 401, the page to return to after signing in.
	Next string
}

// Page is a page model: one of this package's page types. Render takes
// any of them.
type Page interface {
	spec() pageSpec
}

// pageSpec is what Render needs to know about a page.
type pageSpec struct {
	template string // the template file, without .html
	title    string
	status   int
	frame    Frame
	nav      string // the navigation entry to mark as current
	charts   bool   // the page has charts: load the scripts
	// access says who may see the page: the roles allowed, and for a
	// customer the customers whose data it holds.
	admin     bool // admin only
	anonymous bool // also for nobody
	customers []string
	keys      []keymeter.KeyFingerprint
	err       error // the model cannot be shown
	data      any
}

func (p *SignInPage) spec() pageSpec {
	status := http.StatusOK
	if p.Error != "" {
		status = http.StatusUnauthorized
	}
	return pageSpec{template: "signin", title: "Sign in", status: status, anonymous: true, data: p}
}

func (p *ErrorPage) spec() pageSpec {
	status := p.Status
	if status < 400 || status > 599 {
		status = http.StatusInternalServerError
	}
	return pageSpec{template: "error", title: http.StatusText(status), status: status, frame: p.Frame, anonymous: true, data: p}
}
