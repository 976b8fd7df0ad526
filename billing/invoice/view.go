package invoice

import (
	"fmt"
	"strings"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/billing"
)

// view is a document laid out for people: every value formatted, ready
// for the text and HTML renderers, which therefore agree.
type view struct {
	ID          string // unique per invoice: customer and period
	Title       string
	Status      string
	Draft       bool
	Number      string
	Customer    string
	Plan        string
	Period      string // "2025-10-01 to 2025-10-31"
	PeriodKind  string // "calendar month, UTC"
	Active      string // "from 2025-10-11: 21 of 31 days", when prorated
	Cutoff      string
	FinalizedAt string
	Currency    string
	Lines       []lineView
	Subtotal    string
	MinimumUp   string // the minimum-spend top-up, when there is one
	Late        string // the late adjustments, when there are any
	LateEvents  string
	Total       string
	// Warnings are the draft's (see Document.Warnings): the text
	// rendering shows them, the customer's HTML page does not.
	Warnings []string
}

type lineView struct {
	Kind      string
	Meter     string
	Item      string
	Details   []string
	Quantity  string
	Unit      string
	UnitPrice string
	Amount    string
	Query     string
}

// newView lays out d.
func newView(d *Document) view {
	cur := d.Currency
	money := func(v billing.Decimal) string { return group(cur.Format(v)) }
	v := view{
		ID:         d.Customer + "-" + d.Period.Month,
		Title:      d.Title(),
		Status:     string(d.Status),
		Draft:      d.Status != Final,
		Number:     d.Number,
		Customer:   d.Customer,
		Plan:       d.Plan,
		Period:     d.Period.StartDate.String() + " to " + lastDay(d.Period).String(),
		PeriodKind: periodKind(d.Period),
		Cutoff:     d.Cutoff.UTC().Format(time.RFC3339Nano),
		Currency:   cur.Code,
		Subtotal:   money(d.Subtotal),
		Total:      money(d.Total),
		Warnings:   d.Warnings,
	}
	if d.Period.Prorated() {
		v.Active = fmt.Sprintf("from %s: %d of %d days", d.Period.ActiveFrom, d.Period.ActiveDays, d.Period.Days)
	}
	if d.FinalizedAt != nil {
		v.FinalizedAt = d.FinalizedAt.UTC().Format(time.RFC3339Nano)
	}
	if !d.MinimumSpendAdjustment.IsZero() {
		v.MinimumUp = money(d.MinimumSpendAdjustment)
	}
	if !d.LateAdjustments.IsZero() || d.LateEvents.Sign() > 0 {
		v.Late = money(d.LateAdjustments)
		v.LateEvents = group(d.LateEvents.String())
	}
	for _, l := range d.Lines {
		v.Lines = append(v.Lines, newLineView(cur, l))
	}
	return v
}

func newLineView(cur billing.Currency, l Line) lineView {
	money := func(v billing.Decimal) string { return group(cur.Format(v)) }
	lv := lineView{
		Kind:     string(l.Kind),
		Meter:    l.Meter,
		Item:     l.Description,
		Quantity: group(l.Quantity.String()),
		Unit:     l.Unit,
		Amount:   money(l.Amount),
		Query:    l.Query,
	}
	switch {
	case l.UnitPrice != nil:
		lv.UnitPrice = money(*l.UnitPrice)
	case len(l.Tiers) > 0:
		lv.UnitPrice = "tiered"
	}
	switch l.Kind {
	case billing.LineFlatFee:
		lv.Item += " (flat fee)"
		if p := l.Proration; p != nil {
			lv.Details = append(lv.Details, fmt.Sprintf("prorated: %d of %d days of %s", p.Days, p.PeriodDays, money(p.Full)))
		}
	case billing.LineMinimumSpend:
		lv.Item = "Minimum spend top-up"
		lv.Quantity, lv.Unit = "", ""
	case LineLateMinimumSpend:
		lv.Item = "Minimum spend top-up of " + l.Period + ", after its late events"
		lv.Quantity, lv.Unit = "", ""
	}
	if l.Meter != "" && l.Meter != l.Description && l.Kind == billing.LineUsage {
		lv.Item += " (" + l.Meter + ")"
	}
	if l.Events != nil {
		what, n := "events", *l.Events
		switch {
		case l.Kind == LineLateUsage && n.Sign() < 0:
			// Replaced by ingest --reprocess, or moved to another customer.
			what, n = "events of "+l.Period+" fewer than its invoice counted (replaced, or moved to another customer)", keymeter.Int128{}.Sub(n)
		case l.Kind == LineLateUsage:
			what = "events of " + l.Period + " loaded after its invoice"
		}
		lv.Details = append(lv.Details, group(n.String())+" "+what)
	}
	if !l.Included.IsZero() {
		lv.Details = append(lv.Details, group(l.Included.String())+" included, "+group(l.Billable.String())+" billable")
	}
	if l.Packages != nil && l.PackageSize != nil {
		lv.Details = append(lv.Details, fmt.Sprintf("%s packages of %s", group(l.Packages.String()), group(l.PackageSize.String())))
	}
	for _, t := range l.Tiers {
		upTo := t.UpTo
		if upTo != "inf" {
			upTo = group(upTo)
		}
		s := fmt.Sprintf("tier %d (%s to %s]: %s × %s", t.Tier, group(t.From.String()), upTo, group(t.Units.String()), money(t.UnitAmount))
		if !t.FlatAmount.IsZero() {
			s += " + " + money(t.FlatAmount)
		}
		lv.Details = append(lv.Details, s+" = "+money(t.Amount))
	}
	return lv
}

// lastDay returns the last day of a period.
func lastDay(p billing.Period) billing.Date {
	return billing.DateOf(p.EndDate.In(time.UTC).AddDate(0, 0, -1))
}

func periodKind(p billing.Period) string {
	kind := "calendar month"
	if p.Kind == billing.Anniversary {
		kind = "anniversary month"
	}
	return kind + ", " + p.TimeZone
}

// group puts thousands separators in the integer part of a decimal:
// "-1234567.5" becomes "-1,234,567.5".
func group(s string) string {
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	intPart, frac, hasFrac := strings.Cut(s, ".")
	if len(intPart) <= 3 {
		return sign + s
	}
	var b strings.Builder
	b.WriteString(sign)
	head := len(intPart) % 3
	if head > 0 {
		b.WriteString(intPart[:head])
	}
	for i := head; i < len(intPart); i += 3 {
		if b.Len() > len(sign) {
			b.WriteByte(',')
		}
		b.WriteString(intPart[i : i+3])
	}
	if hasFrac {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return b.String()
}
