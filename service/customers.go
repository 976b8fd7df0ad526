package service

import (
	"context"
	"slices"
	"strings"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/billing"
)

// CustomerChange is what `customers set` changes of a customer's
// assignment: each field given (non-nil) replaces the current value; an
// empty one clears it (the time zone and periods then follow the billing
// config's defaults).
type CustomerChange struct {
	Customer                                 string
	Plan, Start, StripeID, TimeZone, Periods *string
}

// SetCustomer puts a customer on a plan from a start date, in the store,
// starting from its current assignment: the store's, else the billing
// config's. A new customer needs a plan and a start. It returns the
// assignment as it now applies, and an EINVALID error listing every
// problem (an unknown plan, a bad date, time zone, period kind or Stripe
// ID).
func (s *Service) SetCustomer(ctx context.Context, b *Billing, c CustomerChange) (_ billing.Assignment, err error) {
	setup := newBillingSetup(b)
	st, err := s.open(ctx, Write)
	if err != nil {
		return billing.Assignment{}, err
	}
	defer done(st, &err)
	stored, err := st.Customers.ListCustomers(ctx)
	if err != nil {
		return billing.Assignment{}, err
	}
	name := c.Customer
	cp := keymeter.CustomerPlan{Customer: name}
	if i := slices.IndexFunc(stored, func(c keymeter.CustomerPlan) bool { return c.Customer == name }); i >= 0 {
		cp = stored[i]
	} else if a, ok := setup.billing.Customer(name); ok {
		cp = keymeter.CustomerPlan{Customer: name, Plan: a.Plan, Start: a.Start.String(), StripeCustomerID: a.StripeCustomerID}
		if a.Location != nil && a.Location.String() != setup.billing.Location.String() {
			cp.TimeZone = a.Location.String()
		}
		if a.Periods != "" && a.Periods != setup.billing.Periods {
			cp.Periods = string(a.Periods)
		}
	}
	for _, f := range []struct {
		dst, val *string
	}{
		{&cp.Plan, c.Plan}, {&cp.Start, c.Start}, {&cp.StripeCustomerID, c.StripeID},
		{&cp.TimeZone, c.TimeZone}, {&cp.Periods, c.Periods},
	} {
		if f.val != nil {
			*f.dst = strings.TrimSpace(*f.val)
		}
	}
	var problems []string
	if err := keymeter.CheckText("customer name", name); err != nil {
		problems = append(problems, err.Error())
	}
	if cp.Plan == "" {
		problems = append(problems, "--plan: a new customer needs a plan ("+planNames(setup.billing)+")")
	}
	if cp.Start == "" {
		problems = append(problems, "--start: a new customer needs a start date (YYYY-MM-DD)")
	}
	if len(problems) == 0 {
		_, problems = setup.assignment(cp)
	}
	if len(problems) > 0 {
		return billing.Assignment{}, keymeter.Errorf(keymeter.EINVALID, "customers set %s:\n  %s", name, strings.Join(problems, "\n  "))
	}
	cp.UpdatedAt = s.now().UTC()
	if err := st.Customers.SetCustomer(ctx, cp); err != nil {
		return billing.Assignment{}, err
	}
	a, _ := setup.assignment(cp) // checked above
	return a, nil
}

// CustomerListing is one customer of ListCustomers.
type CustomerListing struct {
	Customer string
	// Assignment is the customer's plan assignment; nil for a customer
	// that owns keys but is on no plan.
	Assignment *billing.Assignment
	// Source says where the assignment comes from: "config", "store",
	// "store, overrides config", or "keys only: on no plan".
	Source string
}

// ListCustomers lists every customer on a plan, from the billing config
// and the store (which overrides it), ordered by name, then the
// customers that own keys but are on no plan. Without a store yet, it
// lists the billing config's customers. It returns an EINVALID error
// when an assignment in the store does not fit the billing config.
func (s *Service) ListCustomers(ctx context.Context, b *Billing) (_ []CustomerListing, err error) {
	setup := newBillingSetup(b)
	inConfig := map[string]bool{}
	for _, a := range setup.billing.Customers {
		inConfig[a.Customer] = true
	}
	var owners []string
	st, err := s.open(ctx, Read)
	switch {
	case keymeter.ErrorCode(err) == keymeter.ENOTFOUND: // no store yet: the config's customers only
		err = nil
	case err != nil:
		return nil, err
	default:
		defer done(st, &err)
		if err := setup.mergeCustomers(ctx, st.Customers); err != nil {
			return nil, err
		}
		keys, err := st.Keys.ListKeys(ctx)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			if k.Customer != "" && !slices.Contains(owners, k.Customer) {
				owners = append(owners, k.Customer)
			}
		}
	}
	var out []CustomerListing
	for i := range setup.billing.Customers {
		a := &setup.billing.Customers[i]
		source := setup.source[a.Customer]
		if source == "store" && inConfig[a.Customer] {
			source = "store, overrides config"
		}
		out = append(out, CustomerListing{Customer: a.Customer, Assignment: a, Source: source})
	}
	for _, c := range owners {
		if _, ok := setup.billing.Customer(c); !ok {
			out = append(out, CustomerListing{Customer: c, Source: "keys only: on no plan"})
		}
	}
	return out, nil
}

// RemoveCustomer deletes a customer's plan assignment from the store;
// the billing config's entry, if any, applies again. It returns an
// ENOTFOUND error when the store has none.
func (s *Service) RemoveCustomer(ctx context.Context, customer string) (err error) {
	st, err := s.open(ctx, Write)
	if err != nil {
		return err
	}
	defer done(st, &err)
	return st.Customers.RemoveCustomer(ctx, customer)
}
