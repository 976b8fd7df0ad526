package billing

// rateGraduated prices the units in each tier at that tier's unit amount
// and adds the flat amount of every tier reached, as Stripe's
// tiers_mode=graduated does. Tier i holds the quantities in
// (UpTo[i-1], UpTo[i]]:
//
//	amount = Σ over tiers reached: units in tier × UnitAmount + FlatAmount
//
// A tier is reached when some billable quantity falls in it, so zero
// billable units reach no tier and cost nothing, flat amounts included;
// a quantity exactly on a bound does not reach the next tier. Each tier's
// amount is exact; only the line total is rounded.
func rateGraduated(p *Price, billable Decimal, line *Line) (Decimal, error) {
	if err := checkTiers(p); err != nil {
		return Decimal{}, err
	}
	var total Decimal
	for i := range p.Tiers {
		t := &p.Tiers[i]
		from := tierFrom(p.Tiers, i)
		if billable.Cmp(from) <= 0 {
			break
		}
		upper := billable
		if !t.Inf {
			upper = upper.Min(t.UpTo)
		}
		units := upper.Sub(from)
		amount := units.Mul(t.UnitAmount).Add(t.FlatAmount)
		line.Tiers = append(line.Tiers, TierLine{
			Tier: i + 1, From: from, UpTo: t.upToString(), Units: units,
			UnitAmount: t.UnitAmount, FlatAmount: t.FlatAmount, Amount: amount.Reduce(),
		})
		total = total.Add(amount)
	}
	return total, nil
}
