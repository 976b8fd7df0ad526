package main

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strings"

	"github.com/keymeter/keymeter"
)

const customersUsage = `Usage:
  keymeter customers set CUSTOMER [flags]   put a customer on a plan (or change its assignment)
  keymeter customers list [flags]           list customers, their plans and where the assignment comes from
  keymeter customers remove CUSTOMER        forget the store's assignment (the billing config's applies again)

An assignment set here overrides the customer's entry in the billing config's
customers: section as a whole. "set" starts from the customer's current
assignment, so "customers set acme --stripe-id cus_123" keeps acme's plan.
`

func (m *Main) runCustomers(ctx context.Context, args []string) error {
	return m.runSubcommand(ctx, "customers", customersUsage, args, []subcommand{
		{"set", m.runCustomersSet},
		{"list", m.runCustomersList},
		{"remove", m.runCustomersRemove},
	})
}

func (m *Main) runCustomersSet(ctx context.Context, args []string) error {
	fs := m.newFlagSet("customers set", "CUSTOMER [flags]",
		"Puts CUSTOMER (the name keys are imported under) on a billing plan from a start\n"+
			"date, in the store. A new customer needs --plan and --start; for a known one,\n"+
			"the flags given change its current assignment. An empty value clears\n"+
			"--stripe-id, --time-zone or --periods (the last two then follow the billing\n"+
			"config's defaults).")
	var b billingFlags
	b.register(fs)
	plan := fs.String("plan", "", "`plan` name, as in the billing config")
	start := fs.String("start", "", "first `day` on the plan, YYYY-MM-DD, in the customer's time zone")
	stripe := fs.String("stripe-id", "", "Stripe customer `ID` (cus_...) for keymeter export stripe")
	tz := fs.String("time-zone", "", "billing time `zone` (IANA, e.g. America/New_York); default: the billing config's")
	periods := fs.String("periods", "", "billing `periods`: calendar or anniversary; default: the billing config's")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || strings.TrimSpace(pos[0]) == "" {
		return &usageError{msg: "customers set: want exactly one CUSTOMER", hint: `Run "keymeter customers set -h" for its flags.`}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	s, err := m.loadBilling(&b)
	if err != nil {
		return err
	}
	db, err := s.cfg.openStore(ctx, false)
	if err != nil {
		return err
	}
	defer db.Close()
	stored, err := db.ListCustomers(ctx)
	if err != nil {
		return err
	}
	name := pos[0]
	cp := keymeter.CustomerPlan{Customer: name}
	if i := slices.IndexFunc(stored, func(c keymeter.CustomerPlan) bool { return c.Customer == name }); i >= 0 {
		cp = stored[i]
	} else if a, ok := s.billing.Customer(name); ok {
		cp = keymeter.CustomerPlan{Customer: name, Plan: a.Plan, Start: a.Start.String(), StripeCustomerID: a.StripeCustomerID}
		if a.Location != nil && a.Location.String() != s.billing.Location.String() {
			cp.TimeZone = a.Location.String()
		}
		if a.Periods != "" && a.Periods != s.billing.Periods {
			cp.Periods = string(a.Periods)
		}
	}
	for _, f := range []struct {
		name     string
		dst, val *string
	}{
		{"plan", &cp.Plan, plan}, {"start", &cp.Start, start}, {"stripe-id", &cp.StripeCustomerID, stripe},
		{"time-zone", &cp.TimeZone, tz}, {"periods", &cp.Periods, periods},
	} {
		if set[f.name] {
			*f.dst = strings.TrimSpace(*f.val)
		}
	}
	var problems []string
	if err := keymeter.CheckText("customer name", name); err != nil {
		problems = append(problems, err.Error())
	}
	if cp.Plan == "" {
		problems = append(problems, "--plan: a new customer needs a plan ("+planNames(s.billing)+")")
	}
	if cp.Start == "" {
		problems = append(problems, "--start: a new customer needs a start date (YYYY-MM-DD)")
	}
	if len(problems) == 0 {
		_, problems = s.assignment(cp)
	}
	if len(problems) > 0 {
		return keymeter.Errorf(keymeter.EINVALID, "customers set %s:\n  %s", name, strings.Join(problems, "\n  "))
	}
	cp.UpdatedAt = m.now().UTC()
	if err := db.SetCustomer(ctx, cp); err != nil {
		return err
	}
	a, _ := s.assignment(cp)
	fmt.Fprintf(m.Stdout, "%s: plan %s from %s (%s periods, %s)", name, a.Plan, a.Start, a.Periods, a.Location)
	if a.StripeCustomerID != "" {
		fmt.Fprintf(m.Stdout, ", Stripe customer %s", a.StripeCustomerID)
	}
	fmt.Fprintln(m.Stdout)
	return nil
}

func (m *Main) runCustomersList(ctx context.Context, args []string) error {
	fs := m.newFlagSet("customers list", "[flags]",
		"Lists every customer on a plan, from the billing config and the store (which\n"+
			"overrides it), and the customers that own keys but are on no plan.")
	var b billingFlags
	b.register(fs)
	format := fs.String("format", formatTable, "output `format`: table, json or csv")
	if _, err := parseQueryFlags(fs, format, args, false); err != nil {
		return err
	}
	s, err := m.loadBilling(&b)
	if err != nil {
		return err
	}
	inConfig := map[string]bool{}
	for _, a := range s.billing.Customers {
		inConfig[a.Customer] = true
	}
	var owners []string
	db, err := s.cfg.openStore(ctx, true)
	switch {
	case keymeter.ErrorCode(err) == keymeter.ENOTFOUND: // no store yet: the config's customers only
	case err != nil:
		return err
	default:
		defer db.Close()
		if err := s.mergeCustomers(ctx, db); err != nil {
			return err
		}
		keys, err := db.ListKeys(ctx)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if k.Customer != "" && !slices.Contains(owners, k.Customer) {
				owners = append(owners, k.Customer)
			}
		}
	}
	res := &result{cols: []string{"customer", "plan", "start", "periods", "time_zone", "stripe_customer_id", "source"}}
	for _, a := range s.billing.Customers {
		source := s.source[a.Customer]
		if source == "store" && inConfig[a.Customer] {
			source = "store, overrides config"
		}
		res.rows = append(res.rows, []cell{textCell(a.Customer), textCell(a.Plan), textCell(a.Start.String()),
			textCell(string(a.Periods)), textCell(a.Location.String()), optText(a.StripeCustomerID, a.StripeCustomerID == ""), textCell(source)})
	}
	for _, c := range owners {
		if _, ok := s.billing.Customer(c); !ok {
			res.rows = append(res.rows, []cell{textCell(c), nullCell(), nullCell(), nullCell(), nullCell(), nullCell(), textCell("keys only: on no plan")})
		}
	}
	return res.write(m.Stdout, *format)
}

func (m *Main) runCustomersRemove(ctx context.Context, args []string) error {
	fs := m.newFlagSet("customers remove", "CUSTOMER [flags]",
		"Deletes CUSTOMER's plan assignment from the store; an entry in the billing\n"+
			"config applies again. Finalized invoices are not touched.")
	var common commonFlags
	common.register(fs, false)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return &usageError{msg: "customers remove: want exactly one CUSTOMER"}
	}
	cfg, err := common.load(m.Getenv)
	if err != nil {
		return err
	}
	db, err := cfg.openStore(ctx, false)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.RemoveCustomer(ctx, pos[0]); err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "%s: the store's plan assignment is removed\n", pos[0])
	return nil
}
