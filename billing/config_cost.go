package billing

// costs reads the cost-to-serve rates. Charges left out take their
// default when the currency is USD (the defaults are USD prices) and are
// reported missing otherwise.
func (l *loader) costs(e field, path string) *Rates {
	f := l.mapping(e.val, path, []string{CostDataTransferKey, CostCloudFrontRequests, CostCloudFrontFunctions, CostAPIGatewayRequests})
	def := DefaultRates()
	r := &Rates{Currency: l.currency}
	usd := l.currOK && l.currency.Code == "USD"
	missing := func(key string) {
		if !usd {
			l.errf(e.key, join(path, key), "missing: the default rates are in USD, give this one in %s", l.currency.Code)
		}
	}
	if de, ok := f.get(CostDataTransferKey); ok {
		r.DataTransfer = l.dataTransfer(de, join(path, CostDataTransferKey))
	} else {
		r.DataTransfer = def.DataTransfer
		missing(CostDataTransferKey)
	}
	for _, c := range []struct {
		key, unit string
		dst       *Price
		def       Price
	}{
		{CostCloudFrontRequests, "request", &r.CloudFrontRequests, def.CloudFrontRequests},
		{CostCloudFrontFunctions, "invocation", &r.CloudFrontFunctions, def.CloudFrontFunctions},
		{CostAPIGatewayRequests, "request", &r.APIGatewayRequests, def.APIGatewayRequests},
	} {
		ce, ok := f.get(c.key)
		if !ok {
			*c.dst = c.def
			missing(c.key)
			continue
		}
		*c.dst = Price{
			Meter:      Meter{Name: c.key, Measure: MeasureRequests, Unit: Unit{Name: c.unit, Bytes: 1}},
			Model:      PerUnit,
			UnitAmount: l.perN(ce, join(path, c.key)),
		}
	}
	return r
}

// CostDataTransferKey is the config key of the data transfer rate.
const CostDataTransferKey = "data_transfer"

// perN reads {amount: "0.0100", per: 10000} and returns the exact price
// of one unit. per must be a product of 2s and 5s (10, 1000, 1000000...)
// so that the price of one unit is a finite decimal.
func (l *loader) perN(e field, path string) Decimal {
	f := l.mapping(e.val, path, []string{"amount", "per"})
	if f == nil {
		if isNull(e.val) {
			l.errf(e.key, path, "missing: want amount and per, e.g. {amount: \"3.50\", per: 1000000}")
		}
		return Decimal{}
	}
	var amount Decimal
	if ae, ok := f.get("amount"); ok {
		amount = l.amount(ae.val, join(path, "amount"))
	} else {
		l.errf(e.key, join(path, "amount"), "missing")
	}
	per := int64(1)
	if pe, ok := f.get("per"); ok {
		if n, ok := l.positiveInt(pe.val, join(path, "per")); ok {
			m := n
			for m%10 == 0 {
				m /= 10
			}
			for m%2 == 0 {
				m /= 2
			}
			for m%5 == 0 {
				m /= 5
			}
			if m != 1 {
				l.errf(pe.val, join(path, "per"), "want a power of ten such as 10000 or 1000000 (got %d)", n)
			} else {
				per = n
			}
		}
	}
	return perN(amount, per)
}

// dataTransfer reads the data transfer rate: a byte unit and either one
// unit_amount or graduated tiers.
func (l *loader) dataTransfer(e field, path string) Price {
	p := Price{Model: Graduated}
	f := l.mapping(e.val, path, []string{"unit", "unit_bytes", "unit_amount", "tiers"})
	if f == nil {
		if isNull(e.val) {
			l.errf(e.key, path, "missing: want unit, unit_bytes and unit_amount or tiers")
		}
		return p
	}
	p.Meter = Meter{Name: CostDataTransfer, Measure: MeasureBytesSent, Unit: l.unit(f, path, MeasureBytesSent)}
	ua, hasUnit := f.get("unit_amount")
	te, hasTiers := f.get("tiers")
	switch {
	case hasUnit && hasTiers:
		l.errf(te.key, path, "give unit_amount or tiers, not both")
	case hasUnit:
		p.Tiers = []Tier{{Inf: true, UnitAmount: l.amount(ua.val, join(path, "unit_amount"))}}
	case hasTiers:
		p.Tiers = l.tiers(te, join(path, "tiers"))
	default:
		l.errf(e.key, path, "missing: give unit_amount or tiers")
	}
	return p
}
