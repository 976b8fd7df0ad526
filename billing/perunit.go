package billing

// ratePerUnit prices every billable unit at the unit amount:
//
//	amount = billable × UnitAmount
func ratePerUnit(p *Price, billable Decimal, line *Line) (Decimal, error) {
	unit := p.UnitAmount
	line.UnitPrice = &unit
	return billable.Mul(unit), nil
}
