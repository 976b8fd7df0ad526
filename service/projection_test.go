package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/billing"
	"github.com/keymeter/keymeter/service"
)

// TestProjectDraft checks the projection of the current period's draft:
// each meter's usage so far × the period's length / the time elapsed,
// rounded half up, rated on the plan; none once the invoice is final.
func TestProjectDraft(t *testing.T) {
	ctx := context.Background()
	e, _ := loaded(t, 2000)
	b := parseBilling(t, sampleBilling)
	e.now = time.Date(2025, 10, 11, 0, 0, 0, 0, time.UTC) // 10 of October's 31 days
	dp, err := e.svc.ProjectDraft(ctx, b, "customer-01")
	if err != nil {
		t.Fatal(err)
	}
	if dp.Projected == nil {
		t.Fatal("no projection on 11 October")
	}
	so := service.DocumentUsage(dp.Document)["requests"]
	proj := service.DocumentUsage(dp.Projected)["requests"]
	n, _ := so.RawQuantity.Int64()
	if n == 0 {
		t.Fatal("no requests so far")
	}
	if want := keymeter.NewInt128((n*31 + 5) / 10); proj.RawQuantity != want {
		t.Errorf("projected %s requests from %d over 10 of 31 days, want %s", proj.RawQuantity, n, want)
	}
	// basic: 10.00 a period and 0.01 a request, in cents.
	if want := billing.NewDecimal(1000+(n*31+5)/10, 0); dp.Projected.Total.String() != want.String() {
		t.Errorf("projected total %s, want %s", dp.Projected.Total, want)
	}
	if dp.Basis != "usage of the 10 days so far × 31 days/10 days" {
		t.Errorf("basis %q", dp.Basis)
	}
	_, err = e.svc.ProjectDraft(ctx, b, "customer-03")
	wantCode(t, "customer on no plan", err, keymeter.ENOTFOUND, "customer-03")

	e.now = time.Date(2025, 10, 20, 0, 0, 0, 0, time.UTC)
	if _, err := e.svc.Finalize(ctx, b, service.FinalizeRequest{Month: "2025-10", Customer: "customer-01", Force: true}); err != nil {
		t.Fatal(err)
	}
	if dp, err := e.svc.ProjectDraft(ctx, b, "customer-01"); err != nil || dp.Projected != nil || dp.Document.Status != "final" {
		t.Errorf("a final invoice: %+v, %v; want it without projection", dp, err)
	}
}
