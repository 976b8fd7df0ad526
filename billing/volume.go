package billing

// rateVolume finds the tier that holds the billable quantity and prices
// every unit at its unit amount, adding its flat amount once, as Stripe's
// tiers_mode=volume does. Tier i holds the quantities in
// (UpTo[i-1], UpTo[i]]:
//
//	amount = billable × UnitAmount[i] + FlatAmount[i]
//
// One unit over a bound therefore reprices all units at the next tier,
// and the total can go down as usage goes up. Zero billable units reach
// no tier and cost nothing.
func rateVolume(p *Price, billable Decimal, line *Line) (Decimal, error) {
	if err := checkTiers(p); err != nil {
		return Decimal{}, err
	}
	if billable.Sign() == 0 {
		return Decimal{}, nil
	}
	i := 0
	for !p.Tiers[i].Inf && billable.Cmp(p.Tiers[i].UpTo) > 0 {
		i++
	}
	t := &p.Tiers[i]
	amount := billable.Mul(t.UnitAmount).Add(t.FlatAmount)
	line.Tiers = []TierLine{{
		Tier: i + 1, From: tierFrom(p.Tiers, i), UpTo: t.upToString(), Units: billable,
		UnitAmount: t.UnitAmount, FlatAmount: t.FlatAmount, Amount: amount.Reduce(),
	}}
	if t.FlatAmount.IsZero() {
		unit := t.UnitAmount
		line.UnitPrice = &unit
	}
	return amount, nil
}
