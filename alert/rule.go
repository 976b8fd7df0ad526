package alert

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/billing"
)

// Kind is what a rule's thresholds are compared with.
type Kind string

// Threshold kinds.
const (
	// Quantity compares the meter's raw period-to-date count: requests,
	// or bytes. Thresholds and the margin are whole numbers.
	Quantity Kind = "quantity"
	// Percent compares the quantity as a percentage of the units the
	// customer's plan includes on the meter: 80 is 80 %. The margin is in
	// percentage points.
	Percent Kind = "percent"
	// Amount compares the meter's period-to-date amount on the draft
	// invoice, in minor units of the plan's currency (cents), as billing
	// rates it. The margin is in minor units too.
	Amount Kind = "amount"
)

// MinSecretLen is the shortest webhook secret a rule accepts, in bytes.
const MinSecretLen = 16

// Rule watches one meter of a customer, or of every customer on a plan,
// and sends a webhook when the period-to-date value reaches one of its
// thresholds. A Rule is plain data: cmd/keymeter reads it from the
// config, converting units (GB to bytes, dollars to cents) exactly.
type Rule struct {
	// Name identifies the rule. It is part of every crossing's state and
	// idempotency key, so renaming a rule makes it a new rule.
	Name string
	// Exactly one of Customer and Plan is set: the rule applies to that
	// customer, or to every customer on that plan.
	Customer string
	Plan     string
	// Meter is the billing meter whose usage is watched.
	Meter string
	// Kind says what the thresholds measure.
	Kind Kind
	// Thresholds are positive and strictly increasing; each fires on its
	// own. Quantity thresholds are whole numbers.
	Thresholds []billing.Decimal
	// Rearm is the hysteresis margin, in the unit of Kind: after a
	// threshold fires, it fires again in the same period only once the
	// value has fallen below the threshold minus Rearm. Zero means never
	// in the same period: each threshold fires at most once per period.
	// It must be less than the smallest threshold.
	Rearm billing.Decimal
	// URL is where the webhook is POSTed: an absolute http or https URL,
	// without user:password (credentials would be kept in the outbox).
	URL string
	// Secret signs the webhooks (see Sign); at least MinSecretLen bytes.
	// It is never stored in the outbox: the deliverer looks it up by
	// rule name when it sends.
	Secret []byte
}

// appliesTo reports whether r watches customer, who is on plan.
func (r *Rule) appliesTo(customer, plan string) bool {
	if r.Customer != "" {
		return r.Customer == customer
	}
	return plan != "" && r.Plan == plan
}

// Rules is a set of rules, as the config lists them.
type Rules []Rule

// Secrets returns the webhook secret of each rule by name, for
// Deliverer.Secrets. The map shares the rules' secret slices.
func (rs Rules) Secrets() map[string][]byte {
	m := make(map[string][]byte, len(rs))
	for i := range rs {
		m[rs[i].Name] = rs[i].Secret
	}
	return m
}

// Problem is one thing wrong with a rule.
type Problem struct {
	Index int    // position of the rule in the list, from 0
	Rule  string // the rule's name, "" when it has none
	Field string // "thresholds[1]", "url", ...; "" for the rule as a whole
	// Message says what is wrong, for people.
	Message string
}

// String returns `rules[2] (acme-80): thresholds[1]: must be positive`.
func (p Problem) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "rules[%d]", p.Index)
	if p.Rule != "" {
		fmt.Fprintf(&b, " (%s)", p.Rule)
	}
	b.WriteString(": ")
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// ValidationError lists every problem found in a set of rules, in rule
// order. It unwraps to an EINVALID *keymeter.Error with the same message.
type ValidationError struct {
	Problems []Problem
}

// Error lists the problems, one per line after a summary.
func (e *ValidationError) Error() string {
	if len(e.Problems) == 1 {
		return "alert rules: " + e.Problems[0].String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "alert rules: %d problems:", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Unwrap returns the EINVALID application error.
func (e *ValidationError) Unwrap() error {
	return &keymeter.Error{Code: keymeter.EINVALID, Message: e.Error()}
}

// nameRE is billing's rule for names: letters, digits, _ . : -.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]*$`)

// Validate reports every problem with the rules at once, as a
// *ValidationError, or returns nil. With cfg, it also checks the rules
// against the billing config: the meter, plan and customer exist, and a
// percent or amount rule's plan (the customer's plan, for a customer
// rule) prices the meter, with included units for percent. cfg should
// then hold every customer, the config's merged with the store's. With a
// nil cfg only the rules themselves are checked.
func (rs Rules) Validate(cfg *billing.Config) error {
	v := validator{}
	names := make(map[string]int, len(rs))
	for i := range rs {
		r := &rs[i]
		v.index, v.rule = i, r.Name
		switch {
		case r.Name == "":
			v.errf("name", "missing")
		case !nameRE.MatchString(r.Name):
			v.errf("name", "%q is not a name (letters, digits, _ . : -, starting with a letter or digit)", r.Name)
		default:
			if j, dup := names[r.Name]; dup {
				v.errf("name", "also the name of rules[%d]", j)
			} else {
				names[r.Name] = i
			}
		}
		v.rule1(r, cfg)
	}
	if len(v.problems) == 0 {
		return nil
	}
	return &ValidationError{Problems: v.problems}
}

type validator struct {
	index    int
	rule     string
	problems []Problem
}

func (v *validator) errf(field, format string, args ...any) {
	v.problems = append(v.problems, Problem{Index: v.index, Rule: v.rule, Field: field, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) rule1(r *Rule, cfg *billing.Config) {
	switch {
	case r.Customer == "" && r.Plan == "":
		v.errf("", "names neither a customer nor a plan")
	case r.Customer != "" && r.Plan != "":
		v.errf("", "names both a customer (%q) and a plan (%q); give one", r.Customer, r.Plan)
	}
	if r.Meter == "" {
		v.errf("meter", "missing")
	}
	kindOK := true
	switch r.Kind {
	case Quantity, Percent, Amount:
	case "":
		v.errf("kind", "missing (quantity, percent or amount)")
		kindOK = false
	default:
		v.errf("kind", "%q is not quantity, percent or amount", r.Kind)
		kindOK = false
	}
	v.thresholds(r)
	v.webhook(r)
	if cfg != nil && kindOK {
		v.references(r, cfg)
	}
}

func (v *validator) thresholds(r *Rule) {
	if len(r.Thresholds) == 0 {
		v.errf("thresholds", "missing: give at least one")
	}
	for i, t := range r.Thresholds {
		field := fmt.Sprintf("thresholds[%d]", i)
		switch {
		case t.Sign() <= 0:
			v.errf(field, "%s: must be positive", t)
		case r.Kind == Quantity && !t.IsInteger():
			v.errf(field, "%s: a quantity threshold is a whole number of requests or bytes", t)
		case i > 0 && t.Cmp(r.Thresholds[i-1]) <= 0:
			v.errf(field, "%s: thresholds must increase (follows %s)", t, r.Thresholds[i-1])
		}
	}
	switch {
	case r.Rearm.Sign() < 0:
		v.errf("rearm", "%s: must not be negative", r.Rearm)
	case r.Kind == Quantity && !r.Rearm.IsInteger():
		v.errf("rearm", "%s: a quantity margin is a whole number of requests or bytes", r.Rearm)
	case r.Rearm.Sign() > 0 && len(r.Thresholds) > 0 && r.Rearm.Cmp(r.Thresholds[0]) >= 0:
		v.errf("rearm", "%s: must be less than the smallest threshold (%s), or the rule could never re-arm", r.Rearm, r.Thresholds[0])
	}
}

func (v *validator) webhook(r *Rule) {
	if r.URL == "" {
		v.errf("url", "missing")
	} else if u, err := url.Parse(r.URL); err != nil {
		v.errf("url", "%q is not a URL", r.URL)
	} else {
		switch {
		case u.Scheme != "http" && u.Scheme != "https":
			v.errf("url", "%q: want an http:// or https:// URL", r.URL)
		case u.Host == "":
			v.errf("url", "%q has no host", r.URL)
		case u.User != nil:
			v.errf("url", "must not carry a user or password (the URL is kept in the outbox); the secret authenticates keymeter")
		case u.Fragment != "":
			v.errf("url", "%q: a fragment is never sent; remove it", r.URL)
		}
	}
	if len(r.Secret) == 0 {
		v.errf("secret", "missing")
	} else if len(r.Secret) < MinSecretLen {
		v.errf("secret", "too short: %d bytes, want at least %d", len(r.Secret), MinSecretLen)
	}
}

// references checks r against the billing config.
func (v *validator) references(r *Rule, cfg *billing.Config) {
	meterOK := r.Meter != ""
	if meterOK {
		if _, ok := cfg.Meter(r.Meter); !ok {
			v.errf("meter", "%q is not a meter of the billing config", r.Meter)
			meterOK = false
		}
	}
	plan := r.Plan
	if r.Customer != "" && r.Plan == "" {
		a, ok := cfg.Customer(r.Customer)
		if !ok {
			v.errf("customer", "%q is not a customer", r.Customer)
			return
		}
		plan = a.Plan
	}
	if plan == "" {
		return
	}
	p, ok := cfg.Plan(plan)
	if !ok {
		if r.Plan != "" {
			v.errf("plan", "%q is not a plan of the billing config", plan)
		}
		return
	}
	if !meterOK || r.Kind == Quantity {
		return
	}
	price := priceOf(p, r.Meter)
	whose := fmt.Sprintf("plan %q", p.Name)
	if r.Customer != "" {
		whose = fmt.Sprintf("customer %q's plan %q", r.Customer, p.Name)
	}
	switch {
	case price == nil:
		v.errf("meter", "%s does not price meter %q, so its %s stays 0", whose, r.Meter, r.Kind)
	case r.Kind == Percent && price.Included.Sign() <= 0:
		v.errf("kind", "%s includes no units of meter %q, so there is no percentage to watch", whose, r.Meter)
	}
}

// priceOf returns the plan's price on meter, or nil.
func priceOf(p *billing.Plan, meter string) *billing.Price {
	for i := range p.Prices {
		if p.Prices[i].Meter.Name == meter {
			return &p.Prices[i]
		}
	}
	return nil
}
