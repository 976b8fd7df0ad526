package dashboard

import (
	"errors"
	"net/http"
	"time"

	"github.com/keymeter/keymeter"
)

// Overview is the admin's home page: usage of every customer over a
// period. Admin only.
type Overview struct {
	Frame
	Period Range
	// Source names what the figures count: a source ("cloudfront"), or
	// the joined edge view once it exists. Shown under the title.
	Source string
	Totals Totals
	// Unattributed is the part of Totals no customer owns.
	Unattributed Totals
	// Requests and Bytes (bytes sent) per day, a line per customer (the
	// server may keep the largest and sum the others into one line).
	Requests Series
	Bytes    Series
	// Usage by customer, key, path and edge result over the period.
	ByCustomer   Breakdown
	ByKey        []KeyUsage
	ByPath       Breakdown
	ByEdgeResult Breakdown
	// Cache is the edge's cache results per day; EdgeOrigin compares
	// the edge with the origin per day. Either may be empty: the page
	// then says which logs it needs.
	Cache      []CacheDay
	EdgeOrigin []EdgeOriginDay
}

// KeyUsage is the usage of one API key, known by its fingerprint and
// hint only.
type KeyUsage struct {
	Key keymeter.KeyFingerprint
	// Customer owns the key; "" when nobody does.
	Customer string
	Totals
}

// CacheDay is the edge's cache results of one UTC day.
type CacheDay struct {
	Day time.Time
	// Requests counts the edge's requests, Hits those answered from its
	// cache (Hit and RefreshHit). The ratio shown is Hits / Requests.
	Requests keymeter.Int128
	Hits     keymeter.Int128
}

// EdgeOriginDay compares the edge (CloudFront) with the origin (API
// Gateway) over one UTC day, as keymeter reconcile does (see
// keymeter.Reconciliation): the edge's requests less those it answered
// itself (hits, redirects) and its own errors should equal the origin's.
type EdgeOriginDay struct {
	Day            time.Time
	EdgeRequests   int64
	EdgeHits       int64
	EdgeErrors     int64
	OriginRequests int64
}

// ToOrigin returns the edge's requests that should have reached the
// origin: EdgeRequests − EdgeHits − EdgeErrors.
func (d EdgeOriginDay) ToOrigin() int64 { return d.EdgeRequests - d.EdgeHits - d.EdgeErrors }

// Unexplained returns ToOrigin − OriginRequests: positive when origin
// lines are missing, negative when edge lines are.
func (d EdgeOriginDay) Unexplained() int64 { return d.ToOrigin() - d.OriginRequests }

func (p *Overview) spec() pageSpec {
	s := pageSpec{template: "overview", charts: true, title: "Overview", status: http.StatusOK, frame: p.Frame, nav: "overview", admin: true, data: p}
	for _, k := range p.ByKey {
		s.keys = append(s.keys, k.Key)
	}
	return s
}

// CustomerPage is one customer's usage and billing: the admin's view of
// a customer, and the portal's home page for the customer's own session.
type CustomerPage struct {
	Frame
	Customer string
	// Plan is the customer's plan; "" when it has none.
	Plan   string
	Period Range
	Totals Totals
	// Requests and Bytes (bytes sent) per day, a line per key or a
	// single line.
	Requests Series
	Bytes    Series
	// Keys are the customer's API keys, by fingerprint and hint only.
	Keys         []CustomerKey
	ByPath       Breakdown
	ByEdgeResult Breakdown
	// Draft is the current period's draft invoice; nil when the customer
	// has no plan.
	Draft *DraftInvoice
	// Invoices are the customer's finalized invoices, newest first.
	Invoices []InvoiceSummary
}

// CustomerKey is one of a customer's API keys over one span of ownership.
type CustomerKey struct {
	Key keymeter.KeyFingerprint
	// From and Until bound the span the customer owns the key, in event
	// time: a zero From is the beginning of time, a zero Until
	// open-ended.
	From, Until time.Time
	// Totals is the key's usage over the page's period; LastSeen the time
	// of its newest request (zero when none).
	Totals
	LastSeen time.Time
}

func (p *CustomerPage) spec() pageSpec {
	s := pageSpec{template: "customer", charts: true, title: p.Customer, status: http.StatusOK, frame: p.Frame, nav: "customer", data: p,
		customers: []string{p.Customer}}
	for _, k := range p.Keys {
		s.keys = append(s.keys, k.Key)
	}
	if p.Draft != nil {
		if p.Draft.Document == nil {
			s.err = errors.New("a draft invoice without its document")
		}
		s.customers = append(s.customers, p.Draft.customers()...)
	}
	for _, inv := range p.Invoices {
		s.customers = append(s.customers, inv.Customer)
	}
	return s
}
