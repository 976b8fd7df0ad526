package service

import (
	"context"

	"github.com/keymeter/keymeter"
)

// CustomerKeys returns the keys customer owns, once per owner span, as
// ListKeys lists them: what a customer's token may see of the keys. It
// returns Open's errors.
func (s *Service) CustomerKeys(ctx context.Context, customer string) ([]keymeter.Key, error) {
	keys, err := s.ListKeys(ctx, false)
	if err != nil {
		return nil, err
	}
	var out []keymeter.Key
	for _, k := range keys {
		if k.Customer == customer {
			out = append(out, k)
		}
	}
	return out, nil
}

// Customer returns one customer's listing (see ListCustomers). It
// returns an ENOTFOUND error for a customer that is on no plan and owns
// no key.
func (s *Service) Customer(ctx context.Context, b *Billing, customer string) (*CustomerListing, error) {
	list, err := s.ListCustomers(ctx, b)
	if err != nil {
		return nil, err
	}
	for i := range list {
		if list[i].Customer == customer {
			return &list[i], nil
		}
	}
	return nil, keymeter.Errorf(keymeter.ENOTFOUND, "no customer %q: it is on no plan and owns no key", customer)
}

// FinalInvoices returns the finalized invoices f selects (every
// customer's when f.Customer is "", every month's when f.Month is ""),
// ordered by customer then month, as they were frozen. Without a store
// yet there are none.
func (s *Service) FinalInvoices(ctx context.Context, f keymeter.InvoiceFilter) (_ []keymeter.FinalInvoice, err error) {
	st, err := s.open(ctx, Read)
	if keymeter.ErrorCode(err) == keymeter.ENOTFOUND {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer done(st, &err)
	return st.Invoices.Invoices(ctx, f)
}
