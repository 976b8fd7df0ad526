package service_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/billing"
	"github.com/keymeter/keymeter/billing/invoice"
	"github.com/keymeter/keymeter/ingest"
	"github.com/keymeter/keymeter/internal/loggen"
	"github.com/keymeter/keymeter/service"
)

func decode(t *testing.T, doc []byte) *invoice.Document {
	t.Helper()
	d, err := invoice.Decode(doc)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// requestLine returns the events counted by a document's requests line.
func requestLine(t *testing.T, d *invoice.Document) int64 {
	t.Helper()
	u, ok := service.DocumentUsage(d)["requests"]
	if !ok {
		t.Fatalf("invoice of %s has no requests line", d.Customer)
	}
	n, _ := u.Events.Int64()
	return n
}

// TestInvoices checks drafts against the truth, and the customers with
// traffic who are on no plan.
func TestInvoices(t *testing.T) {
	e, d := loaded(t, 2000)
	b := parseBilling(t, sampleBilling)
	set, err := e.svc.Invoices(context.Background(), b, service.InvoiceRequest{Month: "2025-10", CoverageThreshold: 9900})
	if err != nil {
		t.Fatal(err)
	}
	truth := requests(d.records, nil)
	if len(set.Documents) != 2 {
		t.Fatalf("%d invoices; want customer-01's and customer-02's", len(set.Documents))
	}
	for _, doc := range set.Documents {
		inv := decode(t, doc)
		if inv.Status != invoice.Draft || requestLine(t, inv) != truth[inv.Customer] {
			t.Errorf("%s: %s invoice counts %d requests; want a draft of %d", inv.Customer, inv.Status, requestLine(t, inv), truth[inv.Customer])
		}
	}
	var unbilled []string
	for _, u := range set.Unbilled {
		n, _ := u.Requests.Int64()
		if u.Source != "edge" || n != truth[u.Customer] {
			t.Errorf("unbilled %+v; want the edge's %d requests", u, truth[u.Customer])
		}
		unbilled = append(unbilled, u.Customer)
	}
	if !slices.Equal(unbilled, []string{"customer-03", "customer-04"}) {
		t.Errorf("unbilled customers %v; want customer-03 and customer-04", unbilled)
	}
	if b.Config.Customers[0].Customer != "customer-01" || len(b.Config.Customers) != 2 {
		t.Errorf("the caller's billing config changed: %+v", b.Config.Customers)
	}

	one, err := e.svc.Invoices(context.Background(), b, service.InvoiceRequest{Month: "2025-10", Customer: "customer-02"})
	if err != nil || len(one.Documents) != 1 || !bytes.Equal(one.Documents[0], set.Documents[1]) || one.Unbilled != nil {
		t.Errorf("one customer's invoice: %v; want its draft alone, and no unbilled customers", err)
	}
	_, err = e.svc.Invoices(context.Background(), b, service.InvoiceRequest{Month: "2025-10", Customer: "customer-03"})
	wantCode(t, "a customer on no plan", err, keymeter.ENOTFOUND, "has no plan")
	_, err = e.svc.Invoices(context.Background(), b, service.InvoiceRequest{Month: "October"})
	wantCode(t, "a bad month", err, keymeter.EINVALID, "want a month")
}

// TestFinalize checks the rules of finalizing: not before the period
// has closed (its end plus the grace), not while its logs are
// incomplete, unless forced; in period order, without gaps; once. And
// late events: billed on the next invoice, the finalized one unchanged.
func TestFinalize(t *testing.T) {
	e, d := loaded(t, 2000)
	b := parseBilling(t, sampleBilling)
	ctx := context.Background()
	finalize := func(month, customer string, force bool) (*service.Finalized, error) {
		return e.svc.Finalize(ctx, b, service.FinalizeRequest{Month: month, Customer: customer, Force: force, CoverageThreshold: -1})
	}

	e.now = oct[1].Add(12 * time.Hour)
	_, err := finalize("2025-10", "", false)
	wantCode(t, "finalize within the grace", err, keymeter.ECONFLICT, "it can be finalized from 2025-11-02T00:00:00Z")
	e.now = oct[1].Add(30 * 24 * time.Hour)
	_, err = finalize("2025-10", "", false)
	wantCode(t, "finalize with the logs incomplete", err, keymeter.ECONFLICT, "not complete up to the period's end")
	fin, err := finalize("2025-10", "", true)
	if err != nil {
		t.Fatal(err)
	}
	if len(fin.Invoices) != 2 || fin.Invoices[0].Number != "KM-000001" || fin.Invoices[1].Number != "KM-000002" || len(fin.Warnings) != 2 ||
		!strings.HasPrefix(fin.Warnings[0], "--force: customer-01: its logs are not complete") {
		t.Fatalf("finalized %+v", fin)
	}
	truth := requests(d.records, nil)
	for _, f := range fin.Invoices {
		if f.Document.Status != invoice.Final || f.Document.Number != f.Number || requestLine(t, f.Document) != truth[f.Customer] || f.PlanSnapshot == nil {
			t.Errorf("%s: %s %s counts %d; want final, %d requests, with its plan", f.Customer, f.Document.Status, f.Number, requestLine(t, f.Document), truth[f.Customer])
		}
	}
	again, err := finalize("2025-10", "", true)
	wantCode(t, "finalize again", err, keymeter.ECONFLICT, "every invoice of 2025-10 is already final")
	if again == nil || !slices.Equal(again.Skipped, []string{"customer-01 (already final: KM-000001)", "customer-02 (already final: KM-000002)"}) {
		t.Errorf("finalize again: %+v; want both skipped", again)
	}
	_, err = finalize("2025-10", "customer-01", true)
	wantCode(t, "finalize one customer again", err, keymeter.ECONFLICT, "already final (KM-000001")
	_, err = finalize("2025-12", "", true)
	wantCode(t, "finalize with a gap", err, keymeter.ECONFLICT, "finalize 2025-11 first")
	frozen, err := e.svc.Invoices(ctx, b, service.InvoiceRequest{Month: "2025-10", Customer: "customer-01"})
	if err != nil {
		t.Fatal(err)
	}

	// Late events of October for customer-01: the October invoice stays
	// as it was, November's bills them.
	var late []loggen.Record
	for _, r := range october(8, 400).records {
		if r.Key != nil && r.Key.Customer == "customer-01" {
			late = append(late, r)
		}
	}
	e.ingest(e.writeLog("2025/10/late.gz", late))
	now, err := e.svc.Invoices(ctx, b, service.InvoiceRequest{Month: "2025-10", Customer: "customer-01"})
	if err != nil || !bytes.Equal(now.Documents[0], frozen.Documents[0]) {
		t.Errorf("the finalized invoice changed after late events: %v", err)
	}
	nov, err := e.svc.Invoices(ctx, b, service.InvoiceRequest{Month: "2025-11", Customer: "customer-01"})
	if err != nil {
		t.Fatal(err)
	}
	inv := decode(t, nov.Documents[0])
	if n, _ := inv.LateEvents.Int64(); n != int64(len(late)) || inv.LateAdjustments.IsZero() {
		t.Errorf("November's invoice bills %s late events (%s); want %d", inv.LateEvents, inv.LateAdjustments, len(late))
	}
}

// TestReprocessFinalized checks that reprocessing that changes what a
// finalized invoice counts is refused, nothing replaced, unless forced,
// which says which invoices changed.
func TestReprocessFinalized(t *testing.T) {
	e := newEnv(t)
	d := october(7, 1000)
	e.importKeys(d.keys)
	ctx := context.Background()
	file := e.writeLog("2025/10/a.gz", d.records)
	// Read with the wrong key parameter: nothing attributed.
	if _, err := e.svc.Ingest(ctx, service.IngestRequest{Files: []string{file}, Config: ingest.Config{KeyParams: []string{"nothing"}}}); err != nil {
		t.Fatal(err)
	}
	b := parseBilling(t, sampleBilling)
	if _, err := e.svc.Finalize(ctx, b, service.FinalizeRequest{Month: "2025-10", Force: true, CoverageThreshold: -1}); err != nil {
		t.Fatal(err)
	}
	attributed := func() int64 {
		rep, err := e.svc.Usage(ctx, service.UsageRequest{Query: keymeter.UsageQuery{From: oct[0], To: oct[1], Customer: "customer-01"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Rows) == 0 {
			return 0
		}
		n, _ := rep.Rows[0].Requests.Int64()
		return n
	}
	if n := attributed(); n != 0 {
		t.Fatalf("customer-01 has %d requests before reprocessing", n)
	}
	redo := service.IngestRequest{Files: []string{file}, Config: ingest.Config{Reprocess: true},
		Billing: func() (*service.Billing, error) { return nil, errors.New("not needed: the invoices have their plans") }}
	_, err := e.svc.Ingest(ctx, redo)
	wantCode(t, "reprocessing that changes finalized invoices", err, keymeter.ECONFLICT, "KM-000001 (customer-01 2025-10): requests 0 → ")
	if n := attributed(); n != 0 {
		t.Errorf("a refused reprocessing replaced events: customer-01 has %d requests", n)
	}
	redo.Force = true
	rep, err := e.svc.Ingest(ctx, redo)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "KM-000001") || !strings.Contains(rep.Warnings[0], "KM-000002") ||
		rep.Summary.Retracted != int64(len(d.records)) {
		t.Errorf("forced reprocessing: %+v, warnings %q", rep.Summary, rep.Warnings)
	}
	if n, want := attributed(), requests(d.records, nil)["customer-01"]; n != want {
		t.Errorf("after reprocessing customer-01 has %d requests; want %d", n, want)
	}
}

// TestCustomers checks how the store's plan assignments merge with the
// billing config's.
func TestCustomers(t *testing.T) {
	e, _ := loaded(t, 300)
	b := parseBilling(t, sampleBilling)
	ctx := context.Background()
	str := func(s string) *string { return &s }
	// A change of a configured customer starts from its configured
	// assignment.
	a, err := e.svc.SetCustomer(ctx, b, service.CustomerChange{Customer: "customer-02", Plan: str("basic")})
	if err != nil || a.Plan != "basic" || a.StripeCustomerID != "cus_TEST02" || a.Start.String() != "2025-10-01" {
		t.Errorf("customers set customer-02 --plan basic: %+v, %v; want its start and Stripe ID kept", a, err)
	}
	_, err = e.svc.SetCustomer(ctx, b, service.CustomerChange{Customer: "customer-03", Plan: str("basic")})
	wantCode(t, "a new customer without a start", err, keymeter.EINVALID, "--start: a new customer needs a start date")
	_, err = e.svc.SetCustomer(ctx, b, service.CustomerChange{Customer: "customer-03", Plan: str("gold"), Start: str("2025-10-01"), TimeZone: str("Mars/Base")})
	wantCode(t, "a bad assignment", err, keymeter.EINVALID, `unknown plan "gold" (the billing config has basic, bulk)`)
	wantCode(t, "a bad assignment", err, keymeter.EINVALID, `unknown time zone "Mars/Base"`)
	if _, err := e.svc.SetCustomer(ctx, b, service.CustomerChange{Customer: "customer-03", Plan: str("bulk"), Start: str("2025-10-15")}); err != nil {
		t.Fatal(err)
	}
	list, err := e.svc.ListCustomers(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range list {
		plan := "-"
		if c.Assignment != nil {
			plan = c.Assignment.Plan
		}
		got = append(got, fmt.Sprintf("%s %s %s", c.Customer, plan, c.Source))
	}
	want := []string{"customer-01 basic config", "customer-02 basic store, overrides config", "customer-03 bulk store", "customer-04 - keys only: on no plan"}
	if !slices.Equal(got, want) {
		t.Errorf("customers:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Invoices take the store's assignments: customer-03 from the 15th.
	set, err := e.svc.Invoices(ctx, b, service.InvoiceRequest{Month: "2025-10", Customer: "customer-03", CoverageThreshold: -1})
	if err != nil {
		t.Fatal(err)
	}
	if inv := decode(t, set.Documents[0]); inv.Plan != "bulk" || inv.Period.ActiveStart.Day() != 15 {
		t.Errorf("customer-03's invoice: plan %s from %s; want bulk from the 15th", inv.Plan, inv.Period.ActiveStart)
	}
	if err := e.svc.RemoveCustomer(ctx, "customer-02"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "remove again", e.svc.RemoveCustomer(ctx, "customer-02"), keymeter.ENOTFOUND, "no plan assignment")
}

// TestCostsAndExport checks that costs price all traffic, once for the
// account and split by customer (with the traffic no plan pays for),
// with revenue from the invoices; and the Stripe export.
func TestCostsAndExport(t *testing.T) {
	e, d := loaded(t, 2000)
	b := parseBilling(t, sampleBilling)
	ctx := context.Background()
	account, err := e.svc.Costs(ctx, b, service.CostRequest{Month: "2025-10", FunctionRuns: 1})
	if err != nil {
		t.Fatal(err)
	}
	byCustomer, err := e.svc.Costs(ctx, b, service.CostRequest{Month: "2025-10", ByCustomer: true})
	if err != nil {
		t.Fatal(err)
	}
	set, err := e.svc.Invoices(ctx, b, service.InvoiceRequest{Month: "2025-10", CoverageThreshold: -1})
	if err != nil {
		t.Fatal(err)
	}
	var revenue billing.Decimal
	for _, doc := range set.Documents {
		revenue = revenue.Add(decode(t, doc).Total)
	}
	a := account.Rows[0]
	if n, _ := a.Usage.CloudFrontRequests.Int64(); len(account.Rows) != 1 || a.Period != "2025-10" || n != int64(len(d.records)) ||
		a.Usage.FunctionInvocations != a.Usage.CloudFrontRequests || !a.Revenue.Equal(revenue) || !a.Margin.Equal(revenue.Sub(a.Cost)) || a.MarginPercent == nil {
		t.Errorf("the account's costs: %+v; want every request, the invoices' revenue %s", a, revenue)
	}
	if cost, err := billing.Cost(b.Config.Costs, a.Usage); err != nil || !cost.Total.Equal(a.Cost) {
		t.Errorf("the account's cost is %s; want its usage priced at the rates: %v, %v", a.Cost, cost, err)
	}
	truth := requests(d.records, nil)
	var rows []string
	var all keymeter.Int128
	for _, r := range byCustomer.Rows {
		n, _ := r.Usage.CloudFrontRequests.Int64()
		c := r.Customer
		if r.Unknown {
			c = ""
		}
		if n != truth[c] || r.Usage.FunctionInvocations.Sign() != 0 {
			t.Errorf("costs of %q: %d requests; want %d", c, n, truth[c])
		}
		all = all.Add(r.Usage.CloudFrontRequests)
		rows = append(rows, fmt.Sprintf("%s/%s/%v/%v", r.Customer, r.Plan, r.Unknown, r.Revenue.IsZero()))
	}
	want := []string{"customer-01/basic/false/false", "customer-02/bulk/false/false", "customer-03//false/true", "customer-04//false/true", "//true/true"}
	if !slices.Equal(rows, want) || all != a.Usage.CloudFrontRequests {
		t.Errorf("costs by customer: %v (%s requests); want %v, all requests", rows, all, want)
	}
	noRates := parseBilling(t, strings.Replace(sampleBilling, "currency: USD", "currency: EUR", 1))
	_, err = e.svc.Costs(ctx, noRates, service.CostRequest{Month: "2025-10"})
	wantCode(t, "costs in EUR without rates", err, keymeter.EINVALID, "has no cost rates")

	exp, err := e.svc.ExportStripe(ctx, b, service.ExportRequest{Month: "2025-10", CoverageThreshold: -1})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(exp.Skipped, []string{"customer-01"}) || len(exp.Events) != 1 || exp.Events[0].Payload.StripeCustomerID != "cus_TEST02" ||
		exp.Events[0].Payload.Value != fmt.Sprint(truth["customer-02"]) {
		t.Errorf("export: skipped %v, events %+v; want customer-02's %d requests", exp.Skipped, exp.Events, truth["customer-02"])
	}
}
