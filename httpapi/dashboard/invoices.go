package dashboard

import (
	"errors"
	"net/http"
	"time"

	"github.com/keymeter/keymeter/billing"
	"github.com/keymeter/keymeter/billing/invoice"
)

// DraftInvoice is the current period's draft invoice, with a projection
// to the period's end.
type DraftInvoice struct {
	// Document is the draft as computed now (invoice.Draft).
	Document *invoice.Document
	// Projected is the same invoice rated on the usage projected to the
	// period's end; nil when there is nothing to project (the period has
	// just begun, or has ended). The server computes it (billing.Rate
	// over projected quantities); the page shows its lines and total
	// beside the draft's.
	Projected *invoice.Document
	// Basis says in words how the projection was made, shown under it:
	// "usage of the 12 days so far × 31/12".
	Basis string
}

func (d *DraftInvoice) customers() []string {
	var c []string
	if d.Document != nil {
		c = append(c, d.Document.Customer)
	}
	if d.Projected != nil {
		c = append(c, d.Projected.Customer)
	}
	return c
}

// InvoiceSummary is one row of a list of invoices.
type InvoiceSummary struct {
	Customer string
	// Month names the billing period ("2025-10"); Period bounds it.
	Month       string
	Period      billing.Period
	Status      invoice.Status
	Number      string // final invoices only
	Currency    billing.Currency
	Total       billing.Decimal // minor units
	Cutoff      time.Time
	FinalizedAt time.Time // zero for a draft
}

// SummaryOf returns d's summary.
func SummaryOf(d *invoice.Document) InvoiceSummary {
	s := InvoiceSummary{
		Customer: d.Customer,
		Month:    d.Period.Month,
		Period:   d.Period,
		Status:   d.Status,
		Number:   d.Number,
		Currency: d.Currency,
		Total:    d.Total,
		Cutoff:   d.Cutoff,
	}
	if d.FinalizedAt != nil {
		s.FinalizedAt = *d.FinalizedAt
	}
	return s
}

// InvoicesPage lists invoices: every customer's (admin), or one
// customer's (admin, or that customer's portal).
type InvoicesPage struct {
	Frame
	// Customer is the one customer listed; "" lists everyone's (admin
	// only).
	Customer string
	// Invoices, newest period first; drafts included.
	Invoices []InvoiceSummary
}

func (p *InvoicesPage) spec() pageSpec {
	s := pageSpec{template: "invoices", title: "Invoices", status: http.StatusOK, frame: p.Frame, nav: "invoices", data: p}
	if p.Customer == "" {
		s.admin = true
	} else {
		s.title = "Invoices · " + p.Customer
		s.customers = append(s.customers, p.Customer)
	}
	for _, inv := range p.Invoices {
		s.customers = append(s.customers, inv.Customer)
	}
	return s
}

// InvoicePage shows one invoice, draft or final, with a link to its
// printable page (PrintInvoice).
type InvoicePage struct {
	Frame
	Document *invoice.Document
}

func (p *InvoicePage) spec() pageSpec {
	s := pageSpec{template: "invoice", title: "Invoice", status: http.StatusOK, frame: p.Frame, nav: "invoices", data: p}
	if p.Document == nil {
		s.err = errors.New("no invoice document")
		return s
	}
	s.title = p.Document.Title() + " · " + p.Document.Customer + " · " + p.Document.Period.Month
	s.customers = []string{p.Document.Customer}
	return s
}
