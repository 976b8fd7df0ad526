package billing

import (
	"regexp"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // time zones resolve the same on hosts without zoneinfo

	"go.yaml.in/yaml/v3"

	"github.com/keymeter/keymeter"
)

// Config is a validated billing configuration: currency, billing time
// zone and period kind, meters, plans, customers' plan assignments and
// the cost-to-serve rates. testdata/example.yaml documents the file
// format with a complete, commented example.
type Config struct {
	Currency Currency
	// Location is the default billing time zone; Periods the default
	// period kind. Customers may override both.
	Location *time.Location
	Periods  PeriodKind
	// Meters, Plans and Customers are sorted by name (customer ID).
	Meters    []Meter
	Plans     []Plan
	Customers []Assignment
	// Costs are the cost-to-serve rates; nil when the currency is not USD
	// and the file gives none (the default rates are USD prices).
	Costs *Rates
}

// Meter returns the meter with the given name.
func (c *Config) Meter(name string) (*Meter, bool) {
	i, ok := slices.BinarySearchFunc(c.Meters, name, func(m Meter, n string) int { return strings.Compare(m.Name, n) })
	if !ok {
		return nil, false
	}
	return &c.Meters[i], true
}

// Plan returns the plan with the given name.
func (c *Config) Plan(name string) (*Plan, bool) {
	i, ok := slices.BinarySearchFunc(c.Plans, name, func(p Plan, n string) int { return strings.Compare(p.Name, n) })
	if !ok {
		return nil, false
	}
	return &c.Plans[i], true
}

// Customer returns the plan assignment of the customer with the given ID.
func (c *Config) Customer(id string) (*Assignment, bool) {
	i, ok := slices.BinarySearchFunc(c.Customers, id, func(a Assignment, n string) int { return strings.Compare(a.Customer, n) })
	if !ok {
		return nil, false
	}
	return &c.Customers[i], true
}

// lookup returns a customer's assignment and plan, or an ENOTFOUND error.
func (c *Config) lookup(customer string) (*Assignment, *Plan, error) {
	a, ok := c.Customer(customer)
	if !ok {
		return nil, nil, keymeter.Errorf(keymeter.ENOTFOUND, "customer %q is not in the billing config", customer)
	}
	p, ok := c.Plan(a.Plan)
	if !ok {
		return nil, nil, keymeter.Errorf(keymeter.ENOTFOUND, "plan %q of customer %q is not in the billing config", a.Plan, customer)
	}
	return a, p, nil
}

// Invoice rates a customer's usage for the billing period named month
// ("2025-10") on the customer's plan. usage holds raw quantities by
// meter name, counted over the period's [ActiveStart, End): use
// PeriodFor to get those bounds first.
func (c *Config) Invoice(customer, month string, usage map[string]keymeter.Int128) (*Invoice, error) {
	a, plan, err := c.lookup(customer)
	if err != nil {
		return nil, err
	}
	p, err := PeriodFor(a, month)
	if err != nil {
		return nil, err
	}
	return Rate(plan, p, usage, Options{Customer: customer})
}

// ParseConfig parses and validates a billing config file. It reports
// every problem it finds, not just the first, as a *ConfigError (whose
// code is EINVALID) listing each with its line number.
func ParseConfig(data []byte) (*Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &ConfigError{Problems: []Problem{{Message: strings.TrimPrefix(err.Error(), "yaml: ")}}}
	}
	c := &checker{}
	var root *yaml.Node
	if len(doc.Content) > 0 {
		root = doc.Content[0]
	}
	if isNull(root) {
		return nil, &ConfigError{Problems: []Problem{{Line: 1, Message: "the file is empty (want at least a currency)"}}}
	}
	l := loader{checker: c}
	cfg := l.config(root)
	if err := c.err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// loader builds a Config from the node tree, recording problems as it
// goes and carrying on with what it could read.
type loader struct {
	*checker
	currency  Currency
	currOK    bool
	meters    map[string]*Meter
	planNames map[string]bool
}

var (
	currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)
	nameRE       = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]*$`)
)

func (l *loader) config(root *yaml.Node) *Config {
	f := l.mapping(root, "", []string{"currency", "minor_units", "time_zone", "periods", "meters", "plans", "customers", "costs"})
	if f == nil {
		return nil
	}
	cfg := &Config{Location: time.UTC, Periods: Calendar}
	l.loadCurrency(f)
	cfg.Currency = l.currency
	if e, ok := f.get("time_zone"); ok {
		if loc, ok := l.location(e.val, "time_zone"); ok {
			cfg.Location = loc
		}
	}
	if e, ok := f.get("periods"); ok {
		if k, ok := l.periodKind(e.val, "periods"); ok {
			cfg.Periods = k
		}
	}

	// A meter or plan with problems is still defined: what names it is
	// checked against it, and is not reported as naming an unknown one.
	if e, ok := f.get("meters"); ok {
		for _, m := range l.mapping(e.val, "meters", nil).entries() {
			cfg.Meters = append(cfg.Meters, l.meter(m, join("meters", m.key.Value)))
		}
	}
	slices.SortFunc(cfg.Meters, func(a, b Meter) int { return strings.Compare(a.Name, b.Name) })
	l.meters = map[string]*Meter{}
	for i := range cfg.Meters {
		l.meters[cfg.Meters[i].Name] = &cfg.Meters[i]
	}

	var plans []field
	if e, ok := f.get("plans"); ok {
		plans = l.mapping(e.val, "plans", nil).entries()
	}
	l.planNames = map[string]bool{}
	for _, p := range plans {
		l.planNames[p.key.Value] = true
	}
	for _, p := range plans {
		cfg.Plans = append(cfg.Plans, l.plan(p, join("plans", p.key.Value)))
	}
	slices.SortFunc(cfg.Plans, func(a, b Plan) int { return strings.Compare(a.Name, b.Name) })

	if e, ok := f.get("customers"); ok {
		for _, c := range l.mapping(e.val, "customers", nil).entries() {
			a := l.customer(c, join("customers", c.key.Value))
			if a.Location == nil {
				a.Location = cfg.Location
			}
			if a.Periods == "" {
				a.Periods = cfg.Periods
			}
			cfg.Customers = append(cfg.Customers, a)
		}
	}
	slices.SortFunc(cfg.Customers, func(a, b Assignment) int { return strings.Compare(a.Customer, b.Customer) })

	if e, ok := f.get("costs"); ok {
		cfg.Costs = l.costs(e, "costs")
	} else if l.currOK && l.currency.Code == "USD" {
		cfg.Costs = DefaultRates()
	}
	return cfg
}

func (l *loader) loadCurrency(f *fields) {
	e, ok := f.get("currency")
	if !ok {
		l.errf(f.node, "currency", "missing: every amount needs a currency, e.g. currency: USD")
		return
	}
	code, ok := l.scalar(e.val, "currency")
	if !ok {
		return
	}
	if !currencyCode.MatchString(code) {
		l.errf(e.val, "currency", "%q is not an ISO 4217 code (three capital letters, e.g. USD)", code)
		return
	}
	cur, known := KnownCurrency(code)
	if mu, ok := f.get("minor_units"); ok {
		n, ok := l.decimal(mu.val, "minor_units")
		v, isInt := n.Int64()
		switch {
		case !ok:
			return
		case !isInt || v < 0 || v > 4:
			l.errf(mu.val, "minor_units", "want 0 to 4 digits (got %s)", n)
			return
		case known && int32(v) != cur.MinorUnits:
			l.errf(mu.val, "minor_units", "%s has %d minor-unit digits, not %d", code, cur.MinorUnits, v)
			return
		}
		cur = Currency{Code: code, MinorUnits: int32(v)}
	} else if !known {
		l.errf(e.val, "currency", "keymeter does not know how many minor-unit digits %s has: add minor_units", code)
		return
	}
	l.currency, l.currOK = cur, true
}

func (l *loader) location(n *yaml.Node, path string) (*time.Location, bool) {
	name, ok := l.scalar(n, path)
	if !ok {
		return nil, false
	}
	loc, err := time.LoadLocation(name)
	if err != nil || name == "" || name == "Local" {
		l.errf(n, path, "unknown time zone %q (want an IANA name such as UTC or America/New_York)", name)
		return nil, false
	}
	return loc, true
}

func (l *loader) periodKind(n *yaml.Node, path string) (PeriodKind, bool) {
	s, ok := l.scalar(n, path)
	if !ok {
		return "", false
	}
	switch k := PeriodKind(s); k {
	case Calendar, Anniversary:
		return k, true
	}
	l.errf(n, path, "unknown period kind %q (want calendar or anniversary)", s)
	return "", false
}

func (l *loader) checkName(key *yaml.Node, path, what string) {
	if !nameRE.MatchString(key.Value) {
		l.errf(key, path, "%s names use letters, digits and _ . : - only", what)
	}
}

// str reads an optional string field.
func (l *loader) str(f *fields, key, path string) string {
	if e, ok := f.get(key); ok {
		s, _ := l.scalar(e.val, join(path, key))
		return s
	}
	return ""
}

func (l *loader) customer(e field, path string) Assignment {
	a := Assignment{Customer: e.key.Value}
	f := l.mapping(e.val, path, []string{"plan", "start", "stripe_customer_id", "time_zone", "periods"})
	if f == nil {
		if isNull(e.val) {
			l.errf(e.key, path, "missing: a customer needs a plan and a start date")
		}
		return a
	}
	if pe, found := f.get("plan"); !found {
		l.errf(e.key, join(path, "plan"), "missing")
	} else if s, ok := l.scalar(pe.val, join(path, "plan")); ok {
		if !l.planNames[s] {
			l.errf(pe.val, join(path, "plan"), "unknown plan %q (define it under plans)", s)
		}
		a.Plan = s
	}
	if se, found := f.get("start"); !found {
		l.errf(e.key, join(path, "start"), "missing (the first day on the plan, YYYY-MM-DD)")
	} else if s, ok := l.scalar(se.val, join(path, "start")); ok {
		d, err := ParseDate(s)
		if err != nil {
			l.errf(se.val, join(path, "start"), "%v", err)
		}
		a.Start = d
	}
	if se, found := f.get("stripe_customer_id"); found {
		if s, ok := l.scalar(se.val, join(path, "stripe_customer_id")); ok {
			if !strings.HasPrefix(s, "cus_") || len(s) < 5 {
				l.errf(se.val, join(path, "stripe_customer_id"), "%q is not a Stripe customer ID (cus_...)", s)
			}
			a.StripeCustomerID = s
		}
	}
	if te, found := f.get("time_zone"); found {
		a.Location, _ = l.location(te.val, join(path, "time_zone"))
	}
	if pe, found := f.get("periods"); found {
		a.Periods, _ = l.periodKind(pe.val, join(path, "periods"))
	}
	return a
}
