package billing

import (
	"github.com/keymeter/keymeter"
)

// Model is a price model: how a quantity becomes an amount.
type Model string

// Price models. Each has its own file and rating function.
const (
	PerUnit   Model = "per_unit"  // quantity × unit amount
	Package   Model = "package"   // ⌈quantity / package size⌉ × package amount
	Graduated Model = "graduated" // each tier prices the units that fall in it
	Volume    Model = "volume"    // the tier holding the quantity prices all units
)

// Models lists the price models in documentation order.
func Models() []Model { return []Model{PerUnit, Package, Graduated, Volume} }

// Price is a plan's price on one meter. Amounts are minor units of the
// plan's currency and may carry fractions of a minor unit ("0.00035"
// cents is $0.0000035); quantities are in the meter's unit.
type Price struct {
	Meter Meter `json:"meter"`
	Model Model `json:"model"`
	// Included units are free: they are taken off the quantity before the
	// price model sees it. Tiers and packages therefore count billable
	// units only. With Included 1,000 and a first tier up to 5,000, that
	// tier covers usage 1,001–6,000: the same as a free first tier up to
	// 1,000 in front of tiers whose bounds are all 1,000 higher.
	Included Decimal `json:"included"`
	// UnitAmount is the price of one unit (PerUnit).
	UnitAmount Decimal `json:"unit_amount"`
	// PackageSize and PackageAmount: every started package of
	// PackageSize units costs PackageAmount (Package).
	PackageSize   Decimal `json:"package_size"`
	PackageAmount Decimal `json:"package_amount"`
	// Tiers are sorted by UpTo, the last one unbounded (Graduated, Volume).
	Tiers []Tier `json:"tiers"`
}

// Tier is one tier of a tiered price, with Stripe's meaning: it holds the
// quantities above the previous tier's UpTo up to and including its own.
type Tier struct {
	UpTo       Decimal `json:"up_to"`       // upper bound, inclusive; ignored when Inf
	Inf        bool    `json:"inf"`         // no upper bound: the last tier
	UnitAmount Decimal `json:"unit_amount"` // per unit in the tier
	FlatAmount Decimal `json:"flat_amount"` // once, when the tier is reached
}

// LineKind says what an invoice line is for.
type LineKind string

// Line kinds, in the order lines appear on an invoice.
const (
	LineFlatFee      LineKind = "flat_fee"      // the plan's recurring fee
	LineUsage        LineKind = "usage"         // a meter's usage
	LineMinimumSpend LineKind = "minimum_spend" // tops the invoice up to the plan's minimum
	LineCost         LineKind = "cost"          // a cost-to-serve line
)

// Line is one invoice line. Amount is in minor units, rounded once (see
// the package documentation); ExactAmount is the unrounded amount it came
// from, when that is a finite decimal.
type Line struct {
	Kind        LineKind `json:"kind"`
	Meter       string   `json:"meter,omitempty"`
	Description string   `json:"description"`
	Model       Model    `json:"model,omitempty"`
	Unit        string   `json:"unit,omitempty"`
	// Quantity is the usage in Unit; Included the free units taken off
	// it; Billable what was priced.
	Quantity Decimal `json:"quantity"`
	Included Decimal `json:"included,omitzero"`
	Billable Decimal `json:"billable"`
	// UnitPrice is the price of one unit when one price applies to every
	// billable unit (per unit, volume without a flat amount, a flat fee).
	UnitPrice *Decimal `json:"unit_price,omitempty"`
	// Packages and PackageSize explain a package price.
	Packages    *Decimal `json:"packages,omitempty"`
	PackageSize *Decimal `json:"package_size,omitempty"`
	// Tiers breaks a tiered price down by tier: the tiers reached, in
	// order, for graduated; the one tier that priced everything, for
	// volume.
	Tiers     []TierLine `json:"tiers,omitempty"`
	Proration *Proration `json:"proration,omitempty"`
	// ExactAmount is the amount before rounding; nil when it is not a
	// finite decimal (a fee prorated by 1/31).
	ExactAmount *Decimal `json:"exact_amount,omitempty"`
	Amount      Decimal  `json:"amount"`
}

// TierLine is what one tier contributed to a line. Amount is exact
// (Units × UnitAmount + FlatAmount); only the line's total is rounded.
type TierLine struct {
	Tier       int     `json:"tier"`        // 1-based position in the price's tiers
	From       Decimal `json:"from"`        // lower bound, exclusive: the previous tier's up_to (0 for the first)
	UpTo       string  `json:"up_to"`       // the tier's bound, or "inf"
	Units      Decimal `json:"units"`       // units priced in this tier
	UnitAmount Decimal `json:"unit_amount"` // per unit
	FlatAmount Decimal `json:"flat_amount"` // once per tier reached
	Amount     Decimal `json:"amount"`      // exact
}

// Proration explains a prorated flat fee: Amount = round(full × Days /
// PeriodDays), rounded once.
type Proration struct {
	Full       Decimal `json:"full"`
	Days       int     `json:"days"`
	PeriodDays int     `json:"period_days"`
}

// RatePrice prices quantity (in the meter's unit) with p and returns the
// usage line: included units taken off, the model applied, the amount
// rounded once to whole minor units. It is a pure function. It returns
// an EINVALID error for a negative quantity or a price the config loader
// would have refused.
func RatePrice(p *Price, quantity Decimal) (Line, error) {
	if quantity.Sign() < 0 {
		return Line{}, keymeter.Errorf(keymeter.EINVALID, "meter %q: negative quantity %s", p.Meter.Name, quantity)
	}
	billable := quantity.Sub(p.Included).Max(Decimal{})
	line := Line{
		Kind:        LineUsage,
		Meter:       p.Meter.Name,
		Description: p.Meter.Description,
		Model:       p.Model,
		Unit:        p.Meter.Unit.Name,
		Quantity:    quantity,
		Included:    p.Included.Min(quantity),
		Billable:    billable,
	}
	if line.Description == "" {
		line.Description = p.Meter.Name
	}
	var exact Decimal
	var err error
	switch p.Model {
	case PerUnit:
		exact, err = ratePerUnit(p, billable, &line)
	case Package:
		exact, err = ratePackage(p, billable, &line)
	case Graduated:
		exact, err = rateGraduated(p, billable, &line)
	case Volume:
		exact, err = rateVolume(p, billable, &line)
	default:
		err = keymeter.Errorf(keymeter.EINVALID, "meter %q: unknown price model %q", p.Meter.Name, p.Model)
	}
	if err != nil {
		return Line{}, err
	}
	exact = exact.Reduce()
	line.ExactAmount = &exact
	line.Amount = exact.Round(0)
	return line, nil
}

// tierFrom returns the exclusive lower bound of tier i.
func tierFrom(tiers []Tier, i int) Decimal {
	if i == 0 {
		return Decimal{}
	}
	return tiers[i-1].UpTo
}

func (t *Tier) upToString() string {
	if t.Inf {
		return "inf"
	}
	return t.UpTo.String()
}

// checkTiers reports tiers the rating functions cannot use: they must be
// sorted by UpTo, strictly increasing, with the last one unbounded.
func checkTiers(p *Price) error {
	if len(p.Tiers) == 0 {
		return keymeter.Errorf(keymeter.EINVALID, "meter %q: %s price without tiers", p.Meter.Name, p.Model)
	}
	for i := range p.Tiers {
		t := &p.Tiers[i]
		last := i == len(p.Tiers)-1
		if t.Inf != last {
			return keymeter.Errorf(keymeter.EINVALID, "meter %q: only the last tier may be, and must be, up to inf", p.Meter.Name)
		}
		if !last && (t.UpTo.Cmp(tierFrom(p.Tiers, i)) <= 0) {
			return keymeter.Errorf(keymeter.EINVALID, "meter %q: tier %d does not end above tier %d", p.Meter.Name, i+1, i)
		}
	}
	return nil
}
