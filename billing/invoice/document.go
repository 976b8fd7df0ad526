// Package invoice is keymeter's invoice document: the canonical JSON an
// invoice is computed as and, once finalized, frozen as, and its
// renderings (a text table, CSV for accounting, a printable HTML page).
//
// Every rendering is a deterministic function of the canonical JSON
// bytes: renderers decode the bytes and never look at the store, the
// config or the clock. A finalized invoice's bytes are stored, so it
// renders the same forever, whatever arrives or changes later.
//
// Like package billing, this package is pure: no I/O but the writer it
// is given, no clock, no floats.
package invoice

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/billing"
)

// Version is the version of the document format this package writes and
// reads.
const Version = 1

// Status says whether an invoice may still change.
type Status string

// Statuses.
const (
	// Draft invoices are computed from the store every time they are
	// shown: their numbers move as events arrive.
	Draft Status = "draft"
	// Final invoices are frozen: their canonical JSON is stored and
	// never computed again.
	Final Status = "final"
)

// Kinds of the lines that bill late events: events whose time falls in
// an earlier, finalized period but which were loaded after that period's
// invoice was finalized.
const (
	// LineLateUsage is what a meter's late events add to the earlier
	// period's usage line.
	LineLateUsage billing.LineKind = "late_usage"
	// LineLateMinimumSpend is the change late events make to the
	// earlier period's minimum-spend top-up (negative: they reduce it).
	LineLateMinimumSpend billing.LineKind = "late_minimum_spend"
)

// Document is an invoice. Its JSON encoding (Encode) is canonical: the
// same Document always gives the same bytes.
type Document struct {
	Version  int              `json:"version"`
	Status   Status           `json:"status"`
	Number   string           `json:"number,omitempty"` // final invoices only
	Customer string           `json:"customer"`
	Plan     string           `json:"plan"`
	Currency billing.Currency `json:"currency"`
	Period   billing.Period   `json:"period"`
	// Cutoff: the invoice counts the events loaded at or before it.
	// Events of the period loaded later are late: they are billed on a
	// later invoice.
	Cutoff      time.Time  `json:"cutoff"`
	FinalizedAt *time.Time `json:"finalized_at,omitempty"`
	// Lines are the period's lines in billing's order (flat fee, usage by
	// meter, minimum spend), then the late lines, oldest period first.
	Lines []Line `json:"lines"`
	// Subtotal, MinimumSpend and MinimumSpendAdjustment are the period's,
	// as billing.Rate computes them.
	Subtotal               billing.Decimal `json:"subtotal"`
	MinimumSpend           billing.Decimal `json:"minimum_spend"`
	MinimumSpendAdjustment billing.Decimal `json:"minimum_spend_adjustment"`
	// LateEvents counts the customer's late events of earlier periods
	// that arrived by Cutoff (since the previous invoice), of the sources
	// the plan meters (each request of the edge join once), whether or
	// not a priced meter's filter counts them; LateAdjustments is the sum
	// of the late lines.
	LateEvents      keymeter.Int128 `json:"late_events"`
	LateAdjustments billing.Decimal `json:"late_adjustments"`
	// Total is the sum of all lines, in minor units.
	Total billing.Decimal `json:"total"`
	// Warnings say why a draft's numbers may be short (a real-time log
	// below its coverage threshold); finalized invoices keep none.
	Warnings []string `json:"warnings,omitempty"`
}

// Line is one invoice line: billing's line, and for the lines that count
// events, how many and the query that counts them again.
type Line struct {
	billing.Line
	// Period names the earlier billing period of a late line's events.
	Period string `json:"period,omitempty"`
	// Events is the number of requests the line counts, and RawQuantity
	// their total in the meter's measure (requests, or bytes), before
	// conversion to the meter's unit.
	Events      *keymeter.Int128 `json:"events,omitempty"`
	RawQuantity *keymeter.Int128 `json:"raw_quantity,omitempty"`
	// Query is the store's query that gives Events and RawQuantity, in
	// the store's own language (SQL over the events view for DuckDB): run
	// it with keymeter sql. See Input.Queries.
	Query string `json:"query,omitempty"`
}

// Encode returns d's canonical JSON: indented with two spaces, fields in
// a fixed order, decimals as strings, times in UTC, a final newline.
func (d *Document) Encode() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(d); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Decode reads a document written by Encode. It returns an EINVALID error
// for bytes that are not one, or of another version.
func Decode(data []byte) (*Document, error) {
	var d Document
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return nil, keymeter.Errorf(keymeter.EINVALID, "not an invoice document: %v", err)
	}
	if d.Version != Version {
		return nil, keymeter.Errorf(keymeter.EINVALID, "invoice document version %d (this keymeter reads version %d)", d.Version, Version)
	}
	return &d, nil
}

// Title names the invoice for people: "Invoice KM-000001" or "Draft invoice".
func (d *Document) Title() string {
	if d.Status == Final && d.Number != "" {
		return "Invoice " + d.Number
	}
	return "Draft invoice"
}
