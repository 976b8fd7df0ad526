package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
)

// totalsTests check that totals are exact whatever the values stored.
var totalsTests = []struct {
	name string
	fn   func(t *testing.T, s keymeter.Store)
}{
	{"TotalsBeyond64Bits", testTotalsBeyond64Bits},
}

// testTotalsBeyond64Bits stores twelve events of one day whose bytes add
// up beyond 64 bits, in two transactions: the writes succeed, and usage
// from whole days (rollups, where a store keeps them) and from other
// periods gives the exact totals.
func testTotalsBeyond64Bits(t *testing.T, s keymeter.Store) {
	if _, err := s.ImportKeys(ctx, []keymeter.KeyAssignment{{KeyFingerprint: testKey("k1"), Customer: "acme"}}); err != nil {
		t.Fatal(err)
	}
	var events []ev
	for i := range 12 {
		events = append(events, ev{at: time.Hour + time.Duration(i)*time.Minute, id: fmt.Sprint("big", i), key: "k1",
			sent: 999_999_999_999_999_999, recv: 999_999_999_999_999_999, ms: 2_147_483_647})
	}
	write(t, s, "/a.gz", events[:7]...)
	write(t, s, "/b.gz", events[7:]...)
	const total = "11999999999999999988"
	want := []string{"acme: 12 " + total + " " + total}
	expect(t, "by customer", usage(t, s, keymeter.UsageQuery{By: []keymeter.Dimension{keymeter.DimCustomer}}), want)
	expect(t, "by customer, from a microsecond in", usage(t, s, keymeter.UsageQuery{From: day0.Add(time.Microsecond), To: day0.AddDate(0, 1, 0),
		By: []keymeter.Dimension{keymeter.DimCustomer}}), want)
	expect(t, "by path", usage(t, s, keymeter.UsageQuery{By: []keymeter.Dimension{keymeter.DimPath}}), []string{"/v1/items: 12 " + total + " " + total})
	rows, err := s.Usage(ctx, keymeter.UsageQuery{From: day0, To: day0.AddDate(0, 0, 1)})
	if err != nil || len(rows) != 1 || rows[0].TimeTaken.Sum.String() != "25769803764" {
		t.Errorf("latency sum: %+v, %v", rows, err)
	}
	if bs, ok := s.(keymeter.BillingStore); ok {
		mt, err := bs.MeterTotals(ctx, keymeter.MeterQuery{From: day0, To: day0.AddDate(0, 1, 0), Meters: []keymeter.MeterSpec{
			{Name: "egress", Measure: keymeter.MeasureBytesSent}, {Name: "ingress", Measure: keymeter.MeasureBytesReceived}}})
		if err != nil || fmt.Sprint(mt) != "[{acme egress 12 "+total+"} {acme ingress 12 "+total+"}]" {
			t.Errorf("meter totals: %v, %v", mt, err)
		}
	}
}
