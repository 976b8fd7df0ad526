package dashboard

import (
	"html/template"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/billing"
	"github.com/keymeter/keymeter/billing/invoice"
)

// funcs are the templates' functions: formatting of exact values, the
// pages' URLs and the charts.
var funcs = template.FuncMap{
	"asset":    assetURL,
	"count":    count,
	"count64":  count64,
	"bytes":    humanBytes,
	"ratio":    ratio,
	"bp":       basisPoints,
	"money":    money,
	"decimal":  decimal,
	"date":     dateText,
	"time":     timeText,
	"lastDay":  lastDay,
	"duration": durationText,
	"label":    groupLabel,
	"isoDate":  func(t time.Time) string { return t.UTC().Format(time.DateOnly) },
	"isoTime":  func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },

	"customerPath":         CustomerPath,
	"customerInvoicesPath": CustomerInvoicesPath,
	"invoicePath":          InvoicePath,
	"invoicePrintPath":     InvoicePrintPath,
	"signInPath":           SignInPath,
	"localPath":            localPath,
	"home":                 home,
	"uplotVersion":         func() string { return UPlotVersion },
	"table":                breakdownTable,
	"periodForm":           periodForm,
	"periodRange":          periodRange,
	"invoiceList":          invoiceList,

	"seriesChart":     seriesChart,
	"cacheChart":      cacheChart,
	"edgeOriginChart": edgeOriginChart,
	"coverageChart":   coverageChart,
	"cacheTotal":      cacheTotal,
	"edgeOriginTotal": edgeOriginTotal,
	"coverageTotal":   coverageTotal,
	"below":           below,
	"coverageRatio":   coverageRatio,

	"unitPrice":      unitPrice,
	"lineItem":       lineItem,
	"invoicePeriod":  invoicePeriod,
	"projectionRows": projectionRows,
	"lateLine": func(l invoice.Line) bool {
		return l.Kind == invoice.LineLateUsage || l.Kind == invoice.LineLateMinimumSpend
	},
	"statusText": statusText,
}

// cacheTotal sums the days of a cache series.
func cacheTotal(days []CacheDay) CacheDay {
	var t CacheDay
	for _, d := range days {
		t.Requests = t.Requests.Add(d.Requests)
		t.Hits = t.Hits.Add(d.Hits)
	}
	return t
}

// edgeOriginTotal sums the days of an edge-origin comparison.
func edgeOriginTotal(days []EdgeOriginDay) EdgeOriginDay {
	var t EdgeOriginDay
	for _, d := range days {
		t.EdgeRequests += d.EdgeRequests
		t.EdgeHits += d.EdgeHits
		t.EdgeErrors += d.EdgeErrors
		t.OriginRequests += d.OriginRequests
	}
	return t
}

// coverageTotal sums coverage days.
func coverageTotal(days []CoverageDay) CoverageDay {
	var t CoverageDay
	for _, d := range days {
		t.StandardRequests += d.StandardRequests
		t.WithRealtime += d.WithRealtime
		t.RealtimeOnly += d.RealtimeOnly
		t.KeysCut += d.KeysCut
		t.KeysRecovered += d.KeysRecovered
	}
	return t
}

// below reports whether a coverage day's ratio is under the threshold.
func below(d CoverageDay, threshold int64) bool {
	bp, ok := d.RatioBasisPoints()
	return ok && threshold > 0 && bp < threshold
}

// coverageRatio formats a day's real-time/standard ratio.
func coverageRatio(d CoverageDay) string {
	return ratio(keymeter.NewInt128(d.WithRealtime), keymeter.NewInt128(d.StandardRequests))
}

// unitPrice formats an invoice line's unit price: the price, "tiered",
// or nothing.
func unitPrice(c billing.Currency, l invoice.Line) string {
	switch {
	case l.UnitPrice != nil:
		return money(c, *l.UnitPrice)
	case len(l.Tiers) > 0:
		return "tiered"
	}
	return ""
}

// lineItem names an invoice line as billing/invoice's renderings do:
// "Growth (flat fee)", "API requests (api_requests)", "Minimum spend
// top-up".
func lineItem(l invoice.Line) string {
	item := l.Description
	switch l.Kind {
	case billing.LineFlatFee:
		item += " (flat fee)"
	case billing.LineMinimumSpend:
		item = "Minimum spend top-up"
	case invoice.LineLateMinimumSpend:
		item = "Minimum spend top-up of " + l.Period + ", after its late events"
	}
	if l.Meter != "" && l.Meter != l.Description && l.Kind == billing.LineUsage {
		item += " (" + l.Meter + ")"
	}
	return item
}

// invoicePeriod formats an invoice's period: "2025-10-01 to 2025-10-31".
func invoicePeriod(p billing.Period) string {
	return p.StartDate.String() + " to " + lastDay(Range{From: p.Start, To: p.End})
}

// statusText names an invoice status for people.
func statusText(s invoice.Status) string {
	if s == invoice.Final {
		return "final"
	}
	return "draft"
}

// projectionRow is one line of a draft beside its projection.
type projectionRow struct {
	Item, Unit                         string
	Quantity, Amount                   string // so far
	ProjectedQuantity, ProjectedAmount string
}

// projectionRows pairs the lines of a draft and of its projection by
// kind and meter, in the draft's order, then the projection's other
// lines.
func projectionRows(draft, projected *invoice.Document) []projectionRow {
	type id struct {
		kind  billing.LineKind
		meter string
	}
	var rows []projectionRow
	at := map[id]int{}
	for _, l := range draft.Lines {
		at[id{l.Kind, l.Meter}] = len(rows)
		rows = append(rows, projectionRow{Item: lineItem(l), Unit: l.Unit,
			Quantity: decimal(l.Quantity), Amount: money(draft.Currency, l.Amount)})
	}
	if projected == nil {
		return rows
	}
	for _, l := range projected.Lines {
		i, ok := at[id{l.Kind, l.Meter}]
		if !ok {
			i = len(rows)
			rows = append(rows, projectionRow{Item: lineItem(l), Unit: l.Unit})
		}
		rows[i].ProjectedQuantity = decimal(l.Quantity)
		rows[i].ProjectedAmount = money(projected.Currency, l.Amount)
	}
	return rows
}

// tableView is a breakdown laid out as a table.
type tableView struct {
	ID, Head string
	// Link says to link each group to its customer's page.
	Link  bool
	Rows  []tableRow
	Rest  *tableRow
	Total keymeter.Int128 // requests of every group, Rest included
}

type tableRow struct {
	GroupUsage
	Label string
	Share string // of Total requests
}

// breakdownTable lays out b; link links the groups to their customers'
// pages (for a breakdown by customer, on an admin page).
func breakdownTable(id, head string, b Breakdown, link bool) tableView {
	t := tableView{ID: id, Head: head, Link: link}
	for _, r := range b.Rows {
		t.Total = t.Total.Add(r.Requests)
	}
	t.Total = t.Total.Add(b.Rest.Requests)
	for _, r := range b.Rows {
		t.Rows = append(t.Rows, tableRow{GroupUsage: r, Label: groupLabel(r.Group), Share: ratio(r.Requests, t.Total)})
	}
	if b.RestGroups > 0 {
		t.Rest = &tableRow{GroupUsage: GroupUsage{Totals: b.Rest}, Label: count64(b.RestGroups) + " more",
			Share: ratio(b.Rest.Requests, t.Total)}
	}
	return t
}

// periodFormView is the form that picks a page's period.
type periodFormView struct {
	Action   string
	From, To string // dates: [From, To)
}

func periodForm(action string, r Range) periodFormView {
	v := periodFormView{Action: action}
	if !r.From.IsZero() {
		v.From = r.From.UTC().Format(time.DateOnly)
	}
	if !r.To.IsZero() {
		v.To = r.To.UTC().Format(time.DateOnly)
	}
	return v
}

// home is the viewer's first page: the overview, or the portal
// customer's page.
func home(v Viewer) string {
	if v.Portal() {
		return CustomerPath(v.Customer)
	}
	return PathOverview
}

// periodRange returns a billing period's bounds.
func periodRange(p billing.Period) Range { return Range{From: p.Start, To: p.End} }

// invoiceListView is a list of invoices; Customers adds a column naming
// each invoice's customer.
type invoiceListView struct {
	Invoices  []InvoiceSummary
	Customers bool
}

func invoiceList(invs []InvoiceSummary, customers bool) invoiceListView {
	return invoiceListView{Invoices: invs, Customers: customers}
}
