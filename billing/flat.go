package billing

// rateFlatFee returns the line of a plan's recurring flat fee for period.
// In a period the customer joined partway through (a calendar customer's
// first month), the fee is prorated by day and rounded once:
//
//	amount = round(fee × ActiveDays / Days)
//
// where both counts are calendar days in the billing time zone, the
// start day included: a customer starting on Oct 31 pays 1/31 of
// October's fee. The rounding rule is the package's one rule.
func rateFlatFee(plan *Plan, period Period) Line {
	fee := plan.FlatFee
	one := DecimalFromInt(1)
	line := Line{
		Kind:        LineFlatFee,
		Description: plan.Description,
		Unit:        "period",
		Quantity:    one,
		Billable:    one,
		UnitPrice:   &fee,
	}
	if line.Description == "" {
		line.Description = plan.Name
	}
	if !period.Prorated() {
		exact := fee
		line.ExactAmount = &exact
		line.Amount = fee.Round(0)
		return line
	}
	line.Proration = &Proration{Full: fee, Days: period.ActiveDays, PeriodDays: period.Days}
	line.Amount = fee.Mul(DecimalFromInt(int64(period.ActiveDays))).QuoRound(DecimalFromInt(int64(period.Days)), 0)
	return line
}
