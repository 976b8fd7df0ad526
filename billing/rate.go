package billing

import (
	"slices"
	"strings"

	"github.com/keymeter/keymeter"
)

// Plan is a set of prices a customer pays per billing period. Amounts
// are minor units of Currency.
// The JSON names are those of plan snapshots (MarshalPlan).
type Plan struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Currency    Currency `json:"currency"`
	// FlatFee is charged every period, prorated by day in a period the
	// customer joined partway through; zero for none.
	FlatFee Decimal `json:"flat_fee"`
	// MinimumSpend is the least a period's invoice comes to: when the
	// lines add up to less, a minimum_spend line makes up the difference.
	// It is a whole number of minor units and is not prorated.
	MinimumSpend Decimal `json:"minimum_spend"`
	// Prices holds at most one price per meter, sorted by meter name.
	Prices []Price `json:"prices"`
}

// Invoice is what a customer owes for one period. The same inputs give
// the same Invoice, and encoding/json gives the same bytes for it: it
// holds no maps, and its lines are in a fixed order (flat fee, usage by
// meter name, minimum spend).
type Invoice struct {
	Customer string   `json:"customer,omitempty"`
	Plan     string   `json:"plan"`
	Currency Currency `json:"currency"`
	Period   Period   `json:"period"`
	Lines    []Line   `json:"lines"`
	// Subtotal is the sum of the flat fee and usage lines.
	Subtotal Decimal `json:"subtotal"`
	// MinimumSpend is the plan's minimum, and MinimumSpendAdjustment the
	// amount of the minimum_spend line (zero when the subtotal reaches
	// the minimum).
	MinimumSpend           Decimal `json:"minimum_spend"`
	MinimumSpendAdjustment Decimal `json:"minimum_spend_adjustment"`
	// Total is Subtotal + MinimumSpendAdjustment: the sum of all lines.
	Total Decimal `json:"total"`
}

// Options are the inputs of Rate that are not prices or usage.
type Options struct {
	Customer string // copied to the invoice
}

// Rate computes the invoice of a plan for one period. usage holds the raw
// quantity of each meter in the period (requests, or bytes), by meter
// name; meters the plan does not price are ignored, and a priced meter
// missing from usage has used nothing. Each line is rounded once to whole
// minor units; the subtotal and total are sums of rounded lines.
//
// Rate is a pure function. It returns an EINVALID error for negative
// usage or an invalid plan.
func Rate(plan *Plan, period Period, usage map[string]keymeter.Int128, opts Options) (*Invoice, error) {
	if plan.MinimumSpend.Sign() < 0 || !plan.MinimumSpend.IsInteger() {
		return nil, keymeter.Errorf(keymeter.EINVALID, "plan %q: minimum spend must be a whole, non-negative number of minor units", plan.Name)
	}
	if period.Days <= 0 || period.ActiveDays < 0 || period.ActiveDays > period.Days {
		return nil, keymeter.Errorf(keymeter.EINVALID, "plan %q: bad billing period %s", plan.Name, period.Month)
	}
	minimum := plan.MinimumSpend.Round(0)
	inv := &Invoice{
		Customer:     opts.Customer,
		Plan:         plan.Name,
		Currency:     plan.Currency,
		Period:       period,
		MinimumSpend: minimum,
		Lines:        []Line{},
	}
	if !plan.FlatFee.IsZero() {
		inv.Lines = append(inv.Lines, rateFlatFee(plan, period))
	}
	prices := make([]*Price, len(plan.Prices))
	for i := range plan.Prices {
		prices[i] = &plan.Prices[i]
	}
	slices.SortStableFunc(prices, func(a, b *Price) int { return strings.Compare(a.Meter.Name, b.Meter.Name) })
	for _, p := range prices {
		raw := usage[p.Meter.Name]
		if raw.Sign() < 0 {
			return nil, keymeter.Errorf(keymeter.EINVALID, "meter %q: negative usage %d", p.Meter.Name, raw)
		}
		line, err := RatePrice(p, p.Meter.Quantity(raw))
		if err != nil {
			return nil, err
		}
		inv.Lines = append(inv.Lines, line)
	}
	for _, l := range inv.Lines {
		inv.Subtotal = inv.Subtotal.Add(l.Amount)
	}
	if inv.Subtotal.Cmp(minimum) < 0 {
		top := minimum.Sub(inv.Subtotal)
		inv.MinimumSpendAdjustment = top
		inv.Lines = append(inv.Lines, Line{
			Kind:        LineMinimumSpend,
			Description: "minimum spend",
			Quantity:    DecimalFromInt(1),
			Billable:    DecimalFromInt(1),
			ExactAmount: &top,
			Amount:      top,
		})
	}
	inv.Total = inv.Subtotal.Add(inv.MinimumSpendAdjustment)
	return inv, nil
}
