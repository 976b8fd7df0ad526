package keymeter

import (
	"context"
	"time"
)

// This file holds what the store keeps for billing: customers' plan
// assignments, meter totals and finalized invoices. Rating itself lives in
// package billing, which is pure; these are the store abilities it needs.

// CustomerPlan puts a customer on a billing plan from a start date. It is
// what `keymeter customers set` stores; it overrides the customer's entry
// in the billing config file, if any.
type CustomerPlan struct {
	Customer string
	Plan     string
	// Start is the first day on the plan (YYYY-MM-DD) in the customer's
	// billing time zone.
	Start string
	// StripeCustomerID is "cus_..." when the customer is billed through
	// Stripe, else "".
	StripeCustomerID string
	// TimeZone (an IANA name) and Periods ("calendar" or "anniversary")
	// override the billing config's defaults when set.
	TimeZone string
	Periods  string
	// UpdatedAt is when the assignment was last set.
	UpdatedAt time.Time
}

// CustomerStore keeps customers' plan assignments.
type CustomerStore interface {
	// SetCustomer adds or replaces the assignment of c.Customer.
	SetCustomer(ctx context.Context, c CustomerPlan) error
	// RemoveCustomer deletes a customer's assignment. It returns an
	// ENOTFOUND error when there is none.
	RemoveCustomer(ctx context.Context, customer string) error
	// ListCustomers returns every assignment, ordered by customer.
	ListCustomers(ctx context.Context) ([]CustomerPlan, error)
}

// MeterSpec is one meter to total: Measure summed over the events Filter
// selects.
type MeterSpec struct {
	Name    string
	Measure Measure
	Filter  EventFilter
}

// MeterQuery asks for the totals of meters per customer over the
// half-open period [From, To) of event time, as known at AsOf.
// Unattributed events (no customer) are never counted.
type MeterQuery struct {
	From, To time.Time
	// AsOf, when not zero, counts what the store knew at that time: the
	// events loaded by then and not retracted by then, each attributed to
	// the owner of its key at its time as recorded by then. Zero counts
	// what is known now.
	AsOf time.Time
	// Customer restricts the totals to one customer; "" means every
	// customer, one row each.
	Customer string
	Meters   []MeterSpec
}

// MeterTotal is what one meter counted for one customer.
type MeterTotal struct {
	Customer string
	Meter    string
	// Events is the number of requests counted; Quantity their total in
	// the meter's measure (requests, or bytes). Both are exact.
	Events   Int128
	Quantity Int128
}

// MeterTotaler totals meters for billing.
type MeterTotaler interface {
	// MeterTotals returns one row per customer and meter with at least
	// one event, ordered by customer, then meter in the order of
	// q.Meters. It returns an EINVALID error for an empty period or an
	// unknown measure.
	MeterTotals(ctx context.Context, q MeterQuery) ([]MeterTotal, error)
	// LoadWatermark returns the time of the newest change the store
	// knows of (a load, a retraction, a key assignment), or the zero time
	// when there is none: a MeterQuery as of it counts everything known.
	LoadWatermark(ctx context.Context) (time.Time, error)
}

// ReproduceQuery asks for the text of a query that reproduces what
// MeterTotals counted for one meter and customer over [From, To) as
// known at AsOf (zero: now). When Since is not zero, the query gives the
// change from what was known at Since to what was known at AsOf (the
// late usage of a period), which may be negative.
type ReproduceQuery struct {
	Meter    MeterSpec
	Customer string
	From, To time.Time
	AsOf     time.Time
	Since    time.Time
}

// QueryTexter is an optional ability of a store: the text of a query, in
// the store's own language, that a person runs against the store
// (keymeter sql) to reproduce a meter's total, with every value written
// in. Invoices show it beside each line.
type QueryTexter interface {
	// QueryText returns the query's text, with columns events and
	// quantity. It returns an EINVALID error for an unknown measure.
	QueryText(q ReproduceQuery) (string, error)
}

// FinalInvoice is a finalized invoice: frozen, never computed again.
type FinalInvoice struct {
	Customer string
	Month    string // the billing period's name, "2025-10"
	// Seq numbers finalized invoices 1, 2, 3, ... in the order they were
	// finalized, across customers; Number is its printed form.
	Seq    int64
	Number string
	// Cutoff: the invoice counts the events loaded at or before it.
	Cutoff      time.Time
	FinalizedAt time.Time
	// Document is the invoice's canonical JSON; every rendering of the
	// invoice is computed from these bytes.
	Document []byte
	// PlanSnapshot is the plan the invoice was rated on, as
	// billing.MarshalPlan encodes it, so that late events of its period
	// are rated on it whatever the billing config says later; nil for
	// invoices finalized before keymeter kept it.
	PlanSnapshot []byte
}

// InvoiceFilter selects finalized invoices; empty fields select all.
type InvoiceFilter struct {
	Customer string
	Month    string
}

// InvoiceStore keeps finalized invoices.
type InvoiceStore interface {
	// FinalizeInvoices stores invoices, all or none. It returns an
	// ECONFLICT error when a customer already has a finalized invoice for
	// the same month, or a Seq or Number is taken.
	FinalizeInvoices(ctx context.Context, invoices []FinalInvoice) error
	// Invoices returns the finalized invoices f selects, ordered by
	// customer then month.
	Invoices(ctx context.Context, f InvoiceFilter) ([]FinalInvoice, error)
	// LastInvoiceSeq returns the largest Seq stored, 0 when none.
	LastInvoiceSeq(ctx context.Context) (int64, error)
}

// BillingStore is what billing needs from a store. Every backend
// implements it and passes its part of the contract suite.
type BillingStore interface {
	CustomerStore
	MeterTotaler
	InvoiceStore
}
