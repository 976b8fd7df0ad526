package service

import (
	"context"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/billing"
	"github.com/keymeter/keymeter/billing/invoice"
)

// CostRequest asks what serving a billing period's traffic cost.
type CostRequest struct {
	Month string // the billing period, "2025-10"
	// ByCustomer prices each customer's traffic over its own billing
	// period on its own, and the traffic no plan pays for by customer;
	// else one row prices the whole calendar month's traffic at once, as
	// AWS bills it.
	ByCustomer bool
	// FunctionRuns is the number of CloudFront Functions run per request.
	FunctionRuns int64
}

// CostReport is the cost of serving traffic against its revenue.
type CostReport struct {
	// Currency is the cost rates' currency.
	Currency billing.Currency
	Rows     []CostRow
}

// CostRow is the cost of some traffic and its revenue.
type CostRow struct {
	// Period names the month of the account's row; "" in a customer's.
	Period string
	// Customer is the customer of a row by customer; "" (with Unknown
	// set) for the requests without a key or with an unknown one.
	Customer string
	Unknown  bool
	// Plan is the customer's plan; "" for traffic no plan pays for.
	Plan    string
	Usage   billing.CostUsage
	Revenue billing.Decimal
	Cost    billing.Decimal
	Margin  billing.Decimal
	// MarginPercent is nil without revenue.
	MarginPercent *billing.Decimal
}

// costSources are the sources the cost of serving is priced from: every
// CloudFront request once (the edge join, attributed by either log), and
// API Gateway's, each at its own rates.
var costSources = []keymeter.Source{keymeter.SourceEdge, keymeter.SourceAPIGateway}

// Costs estimates what serving a billing period's traffic cost on AWS,
// with the billing config's cost rates, against revenue (the period's
// invoices: final, or drafts) and the margin. It returns an EINVALID
// error when the billing config has no cost rates or for a bad month or
// a negative FunctionRuns, and Open's errors.
func (s *Service) Costs(ctx context.Context, b *Billing, req CostRequest) (_ *CostReport, err error) {
	if req.FunctionRuns < 0 {
		return nil, keymeter.Errorf(keymeter.EINVALID, "--function-runs must not be negative")
	}
	rates := b.Config.Costs
	if rates == nil {
		return nil, keymeter.Errorf(keymeter.EINVALID, "the billing config %s has no cost rates: the defaults are in USD, so with currency %s add a costs section",
			b.Path, b.Config.Currency.Code)
	}
	st, err := s.open(ctx, Read)
	if err != nil {
		return nil, err
	}
	defer done(st, &err)
	setup, err := s.setup(ctx, b, st)
	if err != nil {
		return nil, err
	}
	targets, err := setup.billedFor(req.Month, "")
	if keymeter.ErrorCode(err) == keymeter.ENOTFOUND {
		targets, err = nil, nil // no revenue: costs only
	}
	if err != nil {
		return nil, err
	}
	docs, _, err := s.invoiceDocs(ctx, setup, st, targets, -1)
	if err != nil {
		return nil, err
	}
	revenue := map[string]billing.Decimal{}
	var totalRevenue billing.Decimal
	for _, data := range docs {
		d, err := invoice.Decode(data)
		if err != nil {
			return nil, err
		}
		revenue[d.Customer] = d.Total
		totalRevenue = totalRevenue.Add(d.Total)
	}
	from, err := time.ParseInLocation("2006-01", req.Month, setup.billing.Location)
	if err != nil { // billedFor checked it
		return nil, keymeter.Errorf(keymeter.EINVALID, "--period %q: want a month such as 2025-10", req.Month)
	}
	monthFrom, monthTo := from.UTC(), from.AddDate(0, 1, 0).UTC()
	out := &CostReport{Currency: rates.Currency}
	row := func(r CostRow, u billing.CostUsage, rev billing.Decimal) (CostRow, error) {
		u.FunctionInvocations = u.CloudFrontRequests.Mul64(req.FunctionRuns)
		cost, err := billing.Cost(rates, u)
		if err != nil {
			return r, err
		}
		mg, err := billing.MarginOf(&billing.Invoice{Currency: setup.billing.Currency, Total: rev}, cost)
		if err != nil {
			return r, err
		}
		r.Usage, r.Revenue, r.Cost, r.Margin, r.MarginPercent = u, rev, cost.Total, mg.Margin, mg.Percent
		return r, nil
	}

	if !req.ByCustomer {
		rows, err := st.Usage.Usage(ctx, keymeter.UsageQuery{From: monthFrom, To: monthTo, Sources: costSources, By: []keymeter.Dimension{keymeter.DimSource}})
		if err != nil {
			return nil, err
		}
		r, err := row(CostRow{Period: req.Month}, costUsage(rows, 0), totalRevenue)
		if err != nil {
			return nil, err
		}
		out.Rows = append(out.Rows, r)
		return out, nil
	}

	billedNames := map[string]bool{}
	for _, t := range targets {
		c := t.a.Customer
		billedNames[c] = true
		rows, err := st.Usage.Usage(ctx, keymeter.UsageQuery{From: t.period.ActiveStart, To: t.period.End, Customer: c, Sources: costSources, By: []keymeter.Dimension{keymeter.DimSource}})
		if err != nil {
			return nil, err
		}
		r, err := row(CostRow{Customer: c, Plan: t.plan.Name}, costUsage(rows, 0), revenue[c])
		if err != nil {
			return nil, err
		}
		out.Rows = append(out.Rows, r)
	}
	// Traffic nobody pays for, over the calendar month in the billing
	// time zone: unattributed requests, and customers on no plan.
	rows, err := st.Usage.Usage(ctx, keymeter.UsageQuery{From: monthFrom, To: monthTo, Sources: costSources, By: []keymeter.Dimension{keymeter.DimCustomer, keymeter.DimSource}})
	if err != nil {
		return nil, err
	}
	var unbilled []keymeter.UsageRow
	for _, r := range rows {
		if !billedNames[r.Group[0].Value] || r.Group[0].Null {
			unbilled = append(unbilled, r)
		}
	}
	for len(unbilled) > 0 {
		g := unbilled[0].Group[0]
		n := 0
		for n < len(unbilled) && unbilled[n].Group[0] == g {
			n++
		}
		r, err := row(CostRow{Customer: g.Value, Unknown: g.Null}, costUsage(unbilled[:n], 1), billing.Decimal{})
		if err != nil {
			return nil, err
		}
		out.Rows = append(out.Rows, r)
		unbilled = unbilled[n:]
	}
	return out, nil
}

// costUsage adds up usage rows whose group column col is the source into
// the traffic AWS charges for.
func costUsage(rows []keymeter.UsageRow, col int) billing.CostUsage {
	var u billing.CostUsage
	for _, r := range rows {
		switch r.Group[col].Value {
		case keymeter.SourceEdge.String():
			u.CloudFrontRequests = u.CloudFrontRequests.Add(r.Requests)
			u.CloudFrontBytesSent = u.CloudFrontBytesSent.Add(r.BytesSent)
		case keymeter.SourceAPIGateway.String():
			u.APIGatewayRequests = u.APIGatewayRequests.Add(r.Requests)
		}
	}
	return u
}
