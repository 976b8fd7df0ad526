package service_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/service"
)

// TestCloseError checks that an operation fails when its store cannot be
// closed, instead of dropping the error.
func TestCloseError(t *testing.T) {
	e, _ := loaded(t, 100)
	broken := errors.New("the disk is full")
	e.wrap = func(st *service.Stores) {
		closeDB := st.Close
		st.Close = func() error { return errors.Join(closeDB(), broken) }
	}
	_, err := e.svc.Usage(context.Background(), service.UsageRequest{Query: keymeter.UsageQuery{From: oct[0], To: oct[1]}})
	if !errors.Is(err, broken) {
		t.Errorf("usage whose store failed to close: %v; want the error of closing", err)
	}
	err = e.svc.RemoveCustomer(context.Background(), "nobody")
	if keymeter.ErrorCode(err) != keymeter.ENOTFOUND || !errors.Is(err, broken) {
		t.Errorf("a failing operation whose store failed to close: %v; want both errors", err)
	}
}

// TestUnbilledError checks that a failure to find the customers on no
// plan fails the invoices instead of being dropped.
func TestUnbilledError(t *testing.T) {
	e, _ := loaded(t, 300)
	broken := errors.New("usage is broken")
	e.wrap = func(st *service.Stores) { st.Usage = failingUsage{st.Usage, broken} }
	_, err := e.svc.Invoices(context.Background(), parseBilling(t, sampleBilling), service.InvoiceRequest{Month: "2025-10", CoverageThreshold: -1})
	if !errors.Is(err, broken) {
		t.Errorf("invoices whose check of unbilled customers failed: %v; want its error", err)
	}
}

// failingUsage fails the usage queries grouped by customer and source
// (the check of unbilled customers).
type failingUsage struct {
	service.UsageReader
	err error
}

func (f failingUsage) Usage(ctx context.Context, q keymeter.UsageQuery) ([]keymeter.UsageRow, error) {
	if slices.Equal(q.By, []keymeter.Dimension{keymeter.DimCustomer, keymeter.DimSource}) {
		return nil, f.err
	}
	return f.UsageReader.Usage(ctx, q)
}
