package report

import (
	"bytes"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/billing"
	"github.com/keymeter/keymeter/service"
)

// This file lays out each operation's result as a Table. The HTTP
// server's JSON is the same Table's (WriteJSON), so that the API and the
// command line's --format json agree byte for byte.

// Usage lays out usage: the group columns, the counts, time_taken
// statistics in seconds, and each row's completeness (complete_until,
// provisional), which the table and CSV formats leave out (see
// UsageColumns).
func Usage(r *service.UsageReport) *Table {
	t := &Table{}
	for _, d := range r.Query.By {
		t.Columns = append(t.Columns, string(d))
	}
	t.Columns = append(t.Columns, "requests", "bytes_sent", "bytes_received",
		"time_taken_avg", "time_taken_p50", "time_taken_p95", "time_taken_p99", "complete_until", "provisional")
	for _, r := range r.Rows {
		var out []Cell
		for _, g := range r.Group {
			out = append(out, OptText(g.Value, g.Null))
		}
		out = append(out, Int128(r.Requests), Int128(r.BytesSent), Int128(r.BytesReceived))
		if tt := r.TimeTaken; tt.Count > 0 {
			out = append(out, Number(MeanSeconds(tt.Sum, tt.Count)), Number(Seconds(tt.P50)),
				Number(Seconds(tt.P95)), Number(Seconds(tt.P99)))
		} else {
			out = append(out, Null(), Null(), Null(), Null())
		}
		if r.Watermark.Known {
			out = append(out, Text(r.Watermark.Until.UTC().Format(time.RFC3339Nano)))
		} else {
			out = append(out, Null())
		}
		out = append(out, Bool(r.Provisional))
		t.Rows = append(t.Rows, out)
	}
	return t
}

// UsageCompleteness is the number of trailing columns of Usage that say
// how complete a row is (complete_until, provisional).
const UsageCompleteness = 2

// DropColumns returns t without its last n columns.
func (t *Table) DropColumns(n int) *Table {
	out := &Table{Columns: t.Columns[:len(t.Columns)-n], Rows: make([][]Cell, len(t.Rows))}
	for i, r := range t.Rows {
		out.Rows[i] = r[:len(r)-n]
	}
	return out
}

// Coverage lays out the coverage of the real-time log, per distribution
// and day.
func Coverage(r *service.CoverageReport) *Table {
	t := &Table{Columns: []string{"distribution", "day", "standard_requests", "with_realtime", "realtime_only",
		"key_truncated", "key_recovered", "realtime_percent"}}
	for i := range r.Rows {
		row := &r.Rows[i]
		pct := Null()
		if bp, ok := row.RealtimeBasisPoints(); ok {
			pct = Number(keymeter.FormatBasisPoints(bp))
		}
		t.Rows = append(t.Rows, []Cell{OptText(row.Distribution.Value, row.Distribution.Null), Text(row.Day),
			Int(row.Standard), Int(row.WithRealtime), Int(row.RealtimeOnly), Int(row.KeyTruncated), Int(row.KeyRecovered), pct})
	}
	return t
}

// Reconcile lays out a reconciliation: the group columns, both sides'
// counts, the unexplained difference and whether it is flagged.
func Reconcile(r *service.ReconcileReport) *Table {
	t := &Table{}
	for _, d := range r.By {
		t.Columns = append(t.Columns, string(d))
	}
	t.Columns = append(t.Columns, "edge_requests", "edge_hits", "edge_errors", "origin_requests", "unexplained", "flagged")
	for i := range r.Rows {
		row := &r.Rows[i]
		var out []Cell
		for _, g := range row.Group {
			out = append(out, OptText(g.Value, g.Null))
		}
		out = append(out, Int(row.EdgeRequests), Int(row.EdgeHits), Int(row.EdgeErrors), Int(row.OriginRequests),
			Int(row.Unexplained()), Bool(row.Flagged))
		t.Rows = append(t.Rows, out)
	}
	return t
}

// Keys lays out known keys: fingerprints and hints, never keys.
func Keys(keys []keymeter.Key) *Table {
	t := &Table{Columns: []string{"customer", "fingerprint", "hint", "requests", "last_seen", "from", "until"}}
	for _, k := range keys {
		hint := Null()
		if k.Hint != "" {
			hint = Text("…" + k.Hint)
		}
		last := Null()
		if !k.LastSeen.IsZero() {
			last = Text(k.LastSeen.Format(time.RFC3339))
		}
		t.Rows = append(t.Rows, []Cell{OptText(k.Customer, k.Customer == ""), Text(k.Fingerprint), hint, Int(k.Requests), last,
			Time(k.From), Time(k.Until)})
	}
	return t
}

// Rejects lays out rejected records.
func Rejects(rejects []keymeter.Reject) *Table {
	t := &Table{Columns: []string{"file", "line", "field", "reason", "length", "text", "rejected_at"}}
	for _, r := range rejects {
		t.Rows = append(t.Rows, []Cell{
			Text(r.Object), Int(r.Line), OptText(r.Field, r.Field == ""), Text(r.Reason),
			Int(r.TextLen), Text(r.Text), Text(r.At.Format(time.RFC3339)),
		})
	}
	return t
}

// Customers lays out customers and their plan assignments.
func Customers(list []service.CustomerListing) *Table {
	t := &Table{Columns: []string{"customer", "plan", "start", "periods", "time_zone", "stripe_customer_id", "source"}}
	for _, c := range list {
		a := c.Assignment
		if a == nil {
			t.Rows = append(t.Rows, []Cell{Text(c.Customer), Null(), Null(), Null(), Null(), Null(), Text(c.Source)})
			continue
		}
		t.Rows = append(t.Rows, []Cell{Text(a.Customer), Text(a.Plan), Text(a.Start.String()),
			Text(string(a.Periods)), Text(a.Location.String()), OptText(a.StripeCustomerID, a.StripeCustomerID == ""), Text(c.Source)})
	}
	return t
}

// Finalized lays out the invoices finalize froze.
func Finalized(invoices []service.FinalizedInvoice) *Table {
	t := &Table{Columns: []string{"customer", "period", "number", "total", "currency", "cutoff", "late_events"}}
	for _, f := range invoices {
		d := f.Document
		t.Rows = append(t.Rows, []Cell{Text(f.Customer), Text(f.Month), Text(f.Number),
			Number(d.Currency.Format(d.Total)), Text(d.Currency.Code), Text(f.Cutoff.Format(time.RFC3339Nano)), Int128(d.LateEvents)})
	}
	return t
}

// Costs lays out the cost of serving against revenue: one row for the
// account (with byCustomer false), or one per customer.
func Costs(r *service.CostReport, byCustomer bool) *Table {
	tail := []string{"cloudfront_requests", "cloudfront_bytes_sent", "apigateway_requests", "revenue", "cost", "margin", "margin_percent", "currency"}
	t := &Table{Columns: append([]string{"period"}, tail...)}
	if byCustomer {
		t.Columns = append([]string{"customer", "plan"}, tail...)
	}
	cur := r.Currency
	money := func(v billing.Decimal) Cell { return Number(cur.Format(v)) }
	for _, row := range r.Rows {
		var lead []Cell
		switch {
		case !byCustomer:
			lead = []Cell{Text(row.Period)}
		case row.Plan != "":
			lead = []Cell{Text(row.Customer), Text(row.Plan)}
		case row.Unknown:
			lead = []Cell{Null(), Text("(no key or unknown key)")}
		default:
			lead = []Cell{Text(row.Customer), Text("(no plan)")}
		}
		pct := Null()
		if row.MarginPercent != nil {
			pct = Number(row.MarginPercent.String())
		}
		u := row.Usage
		t.Rows = append(t.Rows, append(lead, Int128(u.CloudFrontRequests), Int128(u.CloudFrontBytesSent), Int128(u.APIGatewayRequests),
			money(row.Revenue), money(row.Cost), money(row.Margin), pct, Text(cur.Code)))
	}
	return t
}

// Invoices returns the canonical JSON of invoices: one document as it
// is when one was asked for, else a JSON array of them.
func Invoices(docs [][]byte, one bool) []byte {
	if one && len(docs) == 1 {
		return docs[0]
	}
	var b bytes.Buffer
	b.WriteString("[")
	for i, d := range docs {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n")
		b.Write(bytes.TrimRight(d, "\n"))
	}
	b.WriteString("\n]\n")
	return b.Bytes()
}

// Tokens lays out API tokens: their IDs and scopes, never a secret or
// a hash. An admin token's customer is null.
func Tokens(tokens []keymeter.Token) *Table {
	t := &Table{Columns: []string{"id", "customer", "created_at", "revoked_at"}}
	for _, tok := range tokens {
		t.Rows = append(t.Rows, []Cell{Text(tok.ID), OptText(tok.Customer, tok.Customer == ""), Time(tok.CreatedAt), Time(tok.RevokedAt)})
	}
	return t
}
