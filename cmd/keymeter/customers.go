package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/keymeter/keymeter/report"
	"github.com/keymeter/keymeter/service"
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
	cfg, bc, err := m.loadBilling(&b)
	if err != nil {
		return err
	}
	change := service.CustomerChange{Customer: pos[0]}
	for _, f := range []struct {
		name string
		dst  **string
		val  *string
	}{
		{"plan", &change.Plan, plan}, {"start", &change.Start, start}, {"stripe-id", &change.StripeID, stripe},
		{"time-zone", &change.TimeZone, tz}, {"periods", &change.Periods, periods},
	} {
		if set[f.name] {
			*f.dst = f.val
		}
	}
	a, err := m.service(cfg).SetCustomer(ctx, bc, change)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "%s: plan %s from %s (%s periods, %s)", pos[0], a.Plan, a.Start, a.Periods, a.Location)
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
	format := fs.String("format", report.FormatTable, "output `format`: table, json or csv")
	if _, err := parseQueryFlags(fs, format, args, false); err != nil {
		return err
	}
	cfg, bc, err := m.loadBilling(&b)
	if err != nil {
		return err
	}
	list, err := m.service(cfg).ListCustomers(ctx, bc)
	if err != nil {
		return err
	}
	return report.Customers(list).Write(m.Stdout, *format)
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
	if err := m.service(cfg).RemoveCustomer(ctx, pos[0]); err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "%s: the store's plan assignment is removed\n", pos[0])
	return nil
}
