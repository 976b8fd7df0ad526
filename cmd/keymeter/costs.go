package main

import (
	"context"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/billing"
	"github.com/keymeter/keymeter/billing/invoice"
)

func (m *Main) runCosts(ctx context.Context, args []string) error {
	fs := m.newFlagSet("costs", "[flags]",
		"Estimates what serving a billing period's traffic cost on AWS, with the rates of\n"+
			"the billing config's costs section (AWS list prices in USD by default), and\n"+
			"shows it against revenue (the period's invoices: final, or drafts) and the\n"+
			"margin. Without --by, one row prices the whole month's traffic at once, as\n"+
			"AWS bills it. With --by customer, each customer's traffic over its own billing\n"+
			"period is priced on its own (with tiered rates the rows then add up to more),\n"+
			"and traffic no plan pays for (no key, or a customer on no plan) has its rows.")
	var b billingFlags
	b.register(fs)
	period := fs.String("period", "", "billing `month`, e.g. 2025-10 (default: the current month)")
	by := fs.String("by", "", "`customer` for one row per customer; empty for the account")
	runs := fs.Int64("function-runs", 0, "CloudFront Functions run per request (`N`: 1 with one viewer function)")
	format := fs.String("format", formatTable, "output `format`: table, json or csv")
	if _, err := parseQueryFlags(fs, format, args, false); err != nil {
		return err
	}
	if *by != "" && *by != "customer" {
		return keymeter.Errorf(keymeter.EINVALID, "--by %q: costs are grouped by customer or not at all", *by)
	}
	if *runs < 0 {
		return keymeter.Errorf(keymeter.EINVALID, "--function-runs must not be negative")
	}
	month := *period
	if month == "" {
		month = m.now().UTC().Format("2006-01")
	}
	s, err := m.loadBilling(&b)
	if err != nil {
		return err
	}
	rates := s.billing.Costs
	if rates == nil {
		return keymeter.Errorf(keymeter.EINVALID, "the billing config %s has no cost rates: the defaults are in USD, so with currency %s add a costs section",
			s.path, s.billing.Currency.Code)
	}
	db, err := s.openStore(ctx, true)
	if err != nil {
		return err
	}
	defer db.Close()
	targets, err := s.billedFor(month, "")
	if keymeter.ErrorCode(err) == keymeter.ENOTFOUND {
		targets, err = nil, nil // no revenue: costs only
	}
	if err != nil {
		return err
	}
	docs, err := m.invoiceDocs(ctx, s, db, targets, -1)
	if err != nil {
		return err
	}
	revenue := map[string]billing.Decimal{}
	var totalRevenue billing.Decimal
	for _, data := range docs {
		d, err := invoice.Decode(data)
		if err != nil {
			return err
		}
		revenue[d.Customer] = d.Total
		totalRevenue = totalRevenue.Add(d.Total)
	}
	from, _ := time.ParseInLocation("2006-01", month, s.billing.Location)
	monthFrom, monthTo := from.UTC(), from.AddDate(0, 1, 0).UTC()
	cur := rates.Currency
	money := func(v billing.Decimal) cell { return numberCell(cur.Format(v)) }
	row := func(lead []cell, u billing.CostUsage, rev billing.Decimal) ([]cell, error) {
		u.FunctionInvocations = u.CloudFrontRequests.Mul64(*runs)
		cost, err := billing.Cost(rates, u)
		if err != nil {
			return nil, err
		}
		mg, err := billing.MarginOf(&billing.Invoice{Currency: s.billing.Currency, Total: rev}, cost)
		if err != nil {
			return nil, err
		}
		pct := nullCell()
		if mg.Percent != nil {
			pct = numberCell(mg.Percent.String())
		}
		return append(lead, int128Cell(u.CloudFrontRequests), int128Cell(u.CloudFrontBytesSent), int128Cell(u.APIGatewayRequests),
			money(rev), money(cost.Total), money(mg.Margin), pct, textCell(cur.Code)), nil
	}
	tail := []string{"cloudfront_requests", "cloudfront_bytes_sent", "apigateway_requests", "revenue", "cost", "margin", "margin_percent", "currency"}

	if *by == "" {
		rows, err := db.Usage(ctx, keymeter.UsageQuery{From: monthFrom, To: monthTo, Sources: costSources, By: []keymeter.Dimension{keymeter.DimSource}})
		if err != nil {
			return err
		}
		r, err := row([]cell{textCell(month)}, costUsage(rows, 0), totalRevenue)
		if err != nil {
			return err
		}
		res := &result{cols: append([]string{"period"}, tail...), rows: [][]cell{r}}
		return res.write(m.Stdout, *format)
	}

	res := &result{cols: append([]string{"customer", "plan"}, tail...)}
	billedNames := map[string]bool{}
	for _, t := range targets {
		c := t.a.Customer
		billedNames[c] = true
		rows, err := db.Usage(ctx, keymeter.UsageQuery{From: t.period.ActiveStart, To: t.period.End, Customer: c, Sources: costSources, By: []keymeter.Dimension{keymeter.DimSource}})
		if err != nil {
			return err
		}
		r, err := row([]cell{textCell(c), textCell(t.plan.Name)}, costUsage(rows, 0), revenue[c])
		if err != nil {
			return err
		}
		res.rows = append(res.rows, r)
	}
	// Traffic nobody pays for, over the calendar month in the billing
	// time zone: unattributed requests, and customers on no plan.
	rows, err := db.Usage(ctx, keymeter.UsageQuery{From: monthFrom, To: monthTo, Sources: costSources, By: []keymeter.Dimension{keymeter.DimCustomer, keymeter.DimSource}})
	if err != nil {
		return err
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
		plan := textCell("(no plan)")
		if g.Null {
			plan = textCell("(no key or unknown key)")
		}
		r, err := row([]cell{optText(g.Value, g.Null), plan}, costUsage(unbilled[:n], 1), billing.Decimal{})
		if err != nil {
			return err
		}
		res.rows = append(res.rows, r)
		unbilled = unbilled[n:]
	}
	return res.write(m.Stdout, *format)
}

// costSources are the sources the cost of serving is priced from: every
// CloudFront request once (the edge join, attributed by either log), and
// API Gateway's, each at its own rates.
var costSources = []keymeter.Source{keymeter.SourceEdge, keymeter.SourceAPIGateway}

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
