package storetest

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
)

// billingTests check the keymeter.BillingStore contract.
var billingTests = []struct {
	name string
	fn   func(t *testing.T, s keymeter.Store)
}{
	{"Customers", testCustomers},
	{"MeterTotals", testMeterTotals},
	{"MeterTotalsAsOf", testMeterTotalsAsOf},
	{"MeterTotalsErrors", testMeterTotalsErrors},
	{"Invoices", testInvoices},
}

func billingStore(t *testing.T, s keymeter.Store) keymeter.BillingStore {
	t.Helper()
	b, ok := s.(keymeter.BillingStore)
	if !ok {
		t.Fatalf("%T does not implement keymeter.BillingStore", s)
	}
	return b
}

func testCustomers(t *testing.T, s keymeter.Store) {
	b := billingStore(t, s)
	if got, err := b.ListCustomers(ctx); err != nil || len(got) != 0 {
		t.Fatalf("empty store: %v, %v", got, err)
	}
	at := time.Date(2025, 10, 2, 3, 4, 5, 0, time.UTC)
	for _, c := range []keymeter.CustomerPlan{
		{Customer: "globex", Plan: "starter", Start: "2025-01-31", TimeZone: "America/New_York", Periods: "anniversary", UpdatedAt: at},
		{Customer: "acme", Plan: "starter", Start: "2025-09-01", UpdatedAt: at},
		{Customer: "acme", Plan: "growth", Start: "2025-10-15", StripeCustomerID: "cus_acme", UpdatedAt: at.Add(time.Hour)},
	} {
		if err := b.SetCustomer(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	got, err := b.ListCustomers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, c := range got {
		rows = append(rows, fmt.Sprintf("%s %s %s %q %q %q %s", c.Customer, c.Plan, c.Start, c.StripeCustomerID, c.TimeZone, c.Periods, c.UpdatedAt.Format(time.RFC3339)))
	}
	expect(t, "customers", rows, []string{
		`acme growth 2025-10-15 "cus_acme" "" "" 2025-10-02T04:04:05Z`,
		`globex starter 2025-01-31 "" "America/New_York" "anniversary" 2025-10-02T03:04:05Z`,
	})
	if err := b.RemoveCustomer(ctx, "globex"); err != nil {
		t.Fatal(err)
	}
	if err := b.RemoveCustomer(ctx, "globex"); keymeter.ErrorCode(err) != keymeter.ENOTFOUND {
		t.Errorf("removing a removed customer: %v, want ENOTFOUND", err)
	}
	if err := b.SetCustomer(ctx, keymeter.CustomerPlan{Customer: "x", Plan: "p", Start: "2025-13-01"}); keymeter.ErrorCode(err) != keymeter.EINVALID {
		t.Errorf("bad start date: %v, want EINVALID", err)
	}
	if got, err := b.ListCustomers(ctx); err != nil || len(got) != 1 || got[0].Customer != "acme" {
		t.Errorf("after removing: %+v, %v", got, err)
	}
}

// meterEvents are the events of the meter tests: acme owns k1 and k2,
// globex k3; k4 is nobody's.
func meterEvents(t *testing.T, s keymeter.Store) {
	t.Helper()
	_, err := s.ImportKeys(ctx, []keymeter.KeyAssignment{
		{KeyFingerprint: testKey("k1"), Customer: "acme"},
		{KeyFingerprint: testKey("k2"), Customer: "acme"},
		{KeyFingerprint: testKey("k3"), Customer: "globex"},
	})
	if err != nil {
		t.Fatal(err)
	}
	write(t, s, "obj1",
		ev{at: -time.Microsecond, id: "before", key: "k1", sent: 1000},
		ev{at: 0, id: "a", key: "k1", path: "/v1/items", status: 200, sent: 100, recv: 1},
		ev{at: time.Hour, id: "b", key: "k2", path: "/v1/items", status: 503, sent: 200, recv: 2},
		ev{at: 2 * time.Hour, id: "c", key: "k1", path: "/v2/items", status: 200, sent: 400, recv: 4},
		ev{at: 3 * time.Hour, id: "d", key: "k3", path: "/v1/items", status: 200, sent: 800, recv: 8},
		ev{at: 4 * time.Hour, id: "e", key: "k4", path: "/v1/items", status: 200, sent: 1600, recv: 16},
		ev{at: 5 * time.Hour, id: "f", path: "/v1/items", status: 200, sent: 3200, recv: 32},
		ev{at: 6 * time.Hour, id: "g", key: "k1", path: "/v1/items", status: 200, sent: 6400, recv: 64, source: keymeter.SourceAPIGateway},
		ev{at: 31 * 24 * time.Hour, id: "after", key: "k1", sent: 12800},
	)
}

// meters are the meters of the meter tests.
var meters = []keymeter.MeterSpec{
	{Name: "requests", Measure: keymeter.MeasureRequests, Filter: keymeter.EventFilter{Sources: []keymeter.Source{keymeter.SourceCloudFront}}},
	{Name: "egress", Measure: keymeter.MeasureBytesSent, Filter: keymeter.EventFilter{Sources: []keymeter.Source{keymeter.SourceCloudFront},
		Exclude: keymeter.EventMatch{Status: []keymeter.StatusRange{{Min: 500, Max: 599}}}}},
	{Name: "v1_uploads", Measure: keymeter.MeasureBytesReceived, Filter: keymeter.EventFilter{Include: keymeter.EventMatch{Path: []string{"/v1/*"}}}},
	{Name: "nothing", Measure: keymeter.MeasureRequests, Filter: keymeter.EventFilter{Include: keymeter.EventMatch{Status: []keymeter.StatusRange{{Min: 999, Max: 999}}}}},
}

func totals(t *testing.T, b keymeter.BillingStore, q keymeter.MeterQuery) []string {
	t.Helper()
	if q.From.IsZero() {
		q.From, q.To = day0, day0.AddDate(0, 1, 0)
	}
	if q.Meters == nil {
		q.Meters = meters
	}
	rows, err := b.MeterTotals(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rows {
		out = append(out, fmt.Sprintf("%s %s: %d %d", r.Customer, r.Meter, r.Events, r.Quantity))
	}
	return out
}

func testMeterTotals(t *testing.T, s keymeter.Store) {
	b := billingStore(t, s)
	meterEvents(t, s)
	expect(t, "every customer", totals(t, b, keymeter.MeterQuery{}), []string{
		"acme requests: 3 3",
		"acme egress: 2 500",     // a and c; b is a 503
		"acme v1_uploads: 3 67",  // a, b and g (API Gateway)
		"globex requests: 1 1",   // d
		"globex egress: 1 800",   //
		"globex v1_uploads: 1 8", // the unowned key and the keyless request count for nobody
	})
	expect(t, "one customer", totals(t, b, keymeter.MeterQuery{Customer: "globex"}), []string{
		"globex requests: 1 1", "globex egress: 1 800", "globex v1_uploads: 1 8",
	})
	expect(t, "half-open period", totals(t, b, keymeter.MeterQuery{From: day0.Add(time.Hour), To: day0.Add(3 * time.Hour), Customer: "acme"}),
		[]string{"acme requests: 2 2", "acme egress: 1 400", "acme v1_uploads: 1 2"})
	expect(t, "a meter without a filter", totals(t, b, keymeter.MeterQuery{Meters: []keymeter.MeterSpec{{Name: "all", Measure: keymeter.MeasureBytesSent}}}),
		[]string{"acme all: 4 7100", "globex all: 1 800"})
	expect(t, "no meters", totals(t, b, keymeter.MeterQuery{Meters: []keymeter.MeterSpec{}}), nil)
	expect(t, "unknown customer", totals(t, b, keymeter.MeterQuery{Customer: "initech"}), nil)
}

func testMeterTotalsAsOf(t *testing.T, s keymeter.Store) {
	b := billingStore(t, s)
	if w, err := b.LoadWatermark(ctx); err != nil || !w.IsZero() {
		t.Fatalf("watermark of an empty store: %v, %v", w, err)
	}
	meterEvents(t, s)
	w1, err := b.LoadWatermark(ctx)
	if err != nil || w1.IsZero() {
		t.Fatalf("watermark: %v, %v", w1, err)
	}
	time.Sleep(2 * time.Millisecond)
	write(t, s, "late", ev{at: 10 * time.Hour, id: "late1", key: "k2", path: "/v1/x", status: 200, sent: 5, recv: 7},
		ev{at: 0, id: "a", key: "k1", sent: 100}) // a duplicate: still loaded first
	w2, err := b.LoadWatermark(ctx)
	if err != nil || !w2.After(w1) {
		t.Fatalf("watermark after a later load: %v (before %v), %v", w2, w1, err)
	}
	expect(t, "as of the first watermark", totals(t, b, keymeter.MeterQuery{Customer: "acme", AsOf: w1}),
		[]string{"acme requests: 3 3", "acme egress: 2 500", "acme v1_uploads: 3 67"})
	expect(t, "as of the second", totals(t, b, keymeter.MeterQuery{Customer: "acme", AsOf: w2}),
		[]string{"acme requests: 4 4", "acme egress: 3 505", "acme v1_uploads: 4 74"})
	expect(t, "now", totals(t, b, keymeter.MeterQuery{Customer: "acme"}),
		[]string{"acme requests: 4 4", "acme egress: 3 505", "acme v1_uploads: 4 74"})
	expect(t, "as of before the first load", totals(t, b, keymeter.MeterQuery{AsOf: w1.Add(-time.Hour)}), nil)
}

func testMeterTotalsErrors(t *testing.T, s keymeter.Store) {
	b := billingStore(t, s)
	if _, err := b.MeterTotals(ctx, keymeter.MeterQuery{From: day0, To: day0, Meters: meters}); keymeter.ErrorCode(err) != keymeter.EINVALID {
		t.Errorf("empty period: %v, want EINVALID", err)
	}
	bad := []keymeter.MeterSpec{{Name: "m", Measure: "furlongs"}}
	if _, err := b.MeterTotals(ctx, keymeter.MeterQuery{From: day0, To: day0.Add(time.Hour), Meters: bad}); keymeter.ErrorCode(err) != keymeter.EINVALID {
		t.Errorf("unknown measure: %v, want EINVALID", err)
	}
}

func testInvoices(t *testing.T, s keymeter.Store) {
	b := billingStore(t, s)
	if n, err := b.LastInvoiceSeq(ctx); err != nil || n != 0 {
		t.Fatalf("empty store: %d, %v", n, err)
	}
	cutoff := time.Date(2025, 11, 2, 3, 4, 5, 123456000, time.UTC)
	doc := []byte("{\n  \"total\": \"1234\",\n  \"note\": \"caf\u00e9 \\u0000\"\n}\n")
	inv := func(customer, month string, seq int64) keymeter.FinalInvoice {
		return keymeter.FinalInvoice{Customer: customer, Month: month, Seq: seq, Number: fmt.Sprintf("KM-%06d", seq),
			Cutoff: cutoff, FinalizedAt: cutoff.Add(time.Hour), Document: doc}
	}
	if err := b.FinalizeInvoices(ctx, []keymeter.FinalInvoice{inv("globex", "2025-10", 1), inv("acme", "2025-10", 2)}); err != nil {
		t.Fatal(err)
	}
	if err := b.FinalizeInvoices(ctx, []keymeter.FinalInvoice{inv("acme", "2025-09", 3)}); err != nil {
		t.Fatal(err)
	}
	if n, err := b.LastInvoiceSeq(ctx); err != nil || n != 3 {
		t.Errorf("last sequence: %d, %v; want 3", n, err)
	}
	all, err := b.Invoices(ctx, keymeter.InvoiceFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, i := range all {
		got = append(got, fmt.Sprintf("%s %s %d %s %s %s", i.Customer, i.Month, i.Seq, i.Number, i.Cutoff.Format(time.RFC3339Nano), i.FinalizedAt.Format(time.RFC3339)))
		if !bytes.Equal(i.Document, doc) {
			t.Errorf("document of %s %s changed: %q", i.Customer, i.Month, i.Document)
		}
	}
	expect(t, "invoices", got, []string{
		"acme 2025-09 3 KM-000003 2025-11-02T03:04:05.123456Z 2025-11-02T04:04:05Z",
		"acme 2025-10 2 KM-000002 2025-11-02T03:04:05.123456Z 2025-11-02T04:04:05Z",
		"globex 2025-10 1 KM-000001 2025-11-02T03:04:05.123456Z 2025-11-02T04:04:05Z",
	})
	for _, f := range []struct {
		f    keymeter.InvoiceFilter
		want int
	}{{keymeter.InvoiceFilter{Customer: "acme"}, 2}, {keymeter.InvoiceFilter{Month: "2025-10"}, 2}, {keymeter.InvoiceFilter{Customer: "acme", Month: "2025-09"}, 1}, {keymeter.InvoiceFilter{Customer: "initech"}, 0}} {
		if got, err := b.Invoices(ctx, f.f); err != nil || len(got) != f.want {
			t.Errorf("Invoices(%+v): %d invoices, %v; want %d", f.f, len(got), err, f.want)
		}
	}

	// All or nothing: a batch with one conflicting invoice stores none.
	err = b.FinalizeInvoices(ctx, []keymeter.FinalInvoice{inv("initech", "2025-10", 4), inv("acme", "2025-10", 5)})
	if keymeter.ErrorCode(err) != keymeter.ECONFLICT {
		t.Errorf("a second invoice for the same month: %v, want ECONFLICT", err)
	}
	if err := b.FinalizeInvoices(ctx, []keymeter.FinalInvoice{inv("initech", "2025-10", 3)}); keymeter.ErrorCode(err) != keymeter.ECONFLICT {
		t.Errorf("a sequence number taken: %v, want ECONFLICT", err)
	}
	if got, err := b.Invoices(ctx, keymeter.InvoiceFilter{Customer: "initech"}); err != nil || len(got) != 0 {
		t.Errorf("conflicting batches stored %d invoices, %v", len(got), err)
	}
}
