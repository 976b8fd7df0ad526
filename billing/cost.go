package billing

import (
	"github.com/keymeter/keymeter"
)

// Rates are what serving requests costs the API's owner: AWS's prices,
// in the config's currency. Each is a Price on a meter that names the
// AWS charge, so cost lines are rated exactly like invoice lines and
// rounded once by the same rule.
type Rates struct {
	Currency Currency
	// DataTransfer prices bytes CloudFront sent to viewers, per Unit
	// (graduated tiers, as AWS's volume discounts are).
	DataTransfer Price
	// CloudFrontRequests prices requests CloudFront served. keymeter
	// cannot tell HTTP from HTTPS in every log, so every request is
	// priced as HTTPS, the dearer of the two.
	CloudFrontRequests Price
	// CloudFrontFunctions prices CloudFront Functions invocations.
	CloudFrontFunctions Price
	// APIGatewayRequests prices API Gateway REST API requests.
	APIGatewayRequests Price
}

// Names of the cost meters, as they appear on cost lines and as keys of
// the config's costs section (data_transfer excepted).
const (
	CostDataTransfer        = "cloudfront_data_transfer"
	CostCloudFrontRequests  = "cloudfront_requests"
	CostCloudFrontFunctions = "cloudfront_functions"
	CostAPIGatewayRequests  = "apigateway_requests"
)

// GiB is 2^30 bytes: AWS bills data transfer in "GB" of 2^30 bytes.
const GiB = 1 << 30

// DefaultRates returns the AWS list prices the issue names, in USD:
//
//	CloudFront data transfer out  $0.085 per GB (2^30 bytes), the price of
//	                              the first 10 TB, applied to all volume
//	CloudFront HTTPS requests     $0.0100 per 10,000
//	CloudFront Functions          $0.10 per 1,000,000 invocations
//	API Gateway REST requests     $3.50 per 1,000,000
//
// AWS charges less per GB beyond 10 TB a month; the defaults keep the
// first tier's price for all volume, so they never understate the cost.
// Configure tiers (and your region's prices) to be exact.
func DefaultRates() *Rates {
	usd, _ := KnownCurrency("USD")
	perUnit := func(name, unit string, amount string, per int64) Price {
		return Price{
			Meter:      Meter{Name: name, Measure: MeasureRequests, Unit: Unit{Name: unit, Bytes: 1}},
			Model:      PerUnit,
			UnitAmount: perN(usd.ToMinor(MustParseDecimal(amount)), per),
		}
	}
	return &Rates{
		Currency: usd,
		DataTransfer: Price{
			Meter: Meter{Name: CostDataTransfer, Measure: MeasureBytesSent, Unit: Unit{Name: "GB", Bytes: GiB}},
			Model: Graduated,
			Tiers: []Tier{{Inf: true, UnitAmount: usd.ToMinor(MustParseDecimal("0.085"))}},
		},
		CloudFrontRequests:  perUnit(CostCloudFrontRequests, "request", "0.0100", 10_000),
		CloudFrontFunctions: perUnit(CostCloudFrontFunctions, "invocation", "0.10", 1_000_000),
		APIGatewayRequests:  perUnit(CostAPIGatewayRequests, "request", "3.50", 1_000_000),
	}
}

// perN returns amount / n exactly, for an n whose only prime factors are
// 2 and 5 (the config loader checks): the unit amount of a price quoted
// "per 10,000".
func perN(amount Decimal, n int64) Decimal {
	return amount.Mul(exactDiv(keymeter.NewInt128(1), n)).Reduce()
}

// CostUsage is the traffic whose cost is computed, as raw counts. Take
// the CloudFront figures from one CloudFront log (standard or real-time,
// not both: they record the same requests).
type CostUsage struct {
	CloudFrontRequests  keymeter.Int128 `json:"cloudfront_requests"`
	CloudFrontBytesSent keymeter.Int128 `json:"cloudfront_bytes_sent"`
	// FunctionInvocations counts CloudFront Functions runs: the request
	// count when one viewer function runs on every request, 0 when none.
	FunctionInvocations keymeter.Int128 `json:"function_invocations"`
	APIGatewayRequests  keymeter.Int128 `json:"apigateway_requests"`
}

// CostReport is the cost of serving some traffic.
type CostReport struct {
	Currency Currency `json:"currency"`
	Lines    []Line   `json:"lines"`
	Total    Decimal  `json:"total"`
}

// Cost prices usage with rates: one line per AWS charge, in a fixed
// order, each rounded once. Tiers apply to the usage given; AWS applies
// them to a whole account's monthly traffic, so the cost of one
// customer's share is best computed on the account's total and divided.
// It returns an EINVALID error for negative usage.
func Cost(rates *Rates, usage CostUsage) (*CostReport, error) {
	if rates == nil {
		return nil, keymeter.Errorf(keymeter.EINVALID, "no cost-to-serve rates configured")
	}
	r := &CostReport{Currency: rates.Currency, Lines: []Line{}}
	for _, c := range []struct {
		price *Price
		raw   keymeter.Int128
	}{
		{&rates.DataTransfer, usage.CloudFrontBytesSent},
		{&rates.CloudFrontRequests, usage.CloudFrontRequests},
		{&rates.CloudFrontFunctions, usage.FunctionInvocations},
		{&rates.APIGatewayRequests, usage.APIGatewayRequests},
	} {
		if c.raw.Sign() < 0 {
			return nil, keymeter.Errorf(keymeter.EINVALID, "%s: negative usage %d", c.price.Meter.Name, c.raw)
		}
		line, err := RatePrice(c.price, c.price.Meter.Quantity(c.raw))
		if err != nil {
			return nil, err
		}
		line.Kind = LineCost
		r.Lines = append(r.Lines, line)
		r.Total = r.Total.Add(line.Amount)
	}
	return r, nil
}

// Margin is revenue less the cost of serving it.
type Margin struct {
	Currency Currency `json:"currency"`
	Revenue  Decimal  `json:"revenue"`
	Cost     Decimal  `json:"cost"`
	Margin   Decimal  `json:"margin"`
	// Percent is Margin / Revenue × 100, rounded to two places by the
	// package's rule; nil when there is no revenue.
	Percent *Decimal `json:"percent,omitempty"`
}

// MarginOf returns the margin of an invoice over the cost of serving it.
// It returns an EINVALID error when the currencies differ.
func MarginOf(inv *Invoice, cost *CostReport) (Margin, error) {
	if inv.Currency != cost.Currency {
		return Margin{}, keymeter.Errorf(keymeter.EINVALID, "revenue in %s, cost in %s", inv.Currency.Code, cost.Currency.Code)
	}
	m := Margin{Currency: inv.Currency, Revenue: inv.Total, Cost: cost.Total, Margin: inv.Total.Sub(cost.Total)}
	if !m.Revenue.IsZero() {
		p := m.Margin.Shift(2).QuoRound(m.Revenue, 2)
		m.Percent = &p
	}
	return m, nil
}
