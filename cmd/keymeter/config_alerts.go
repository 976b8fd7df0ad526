package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/alert"
	"github.com/keymeter/keymeter/billing"
	"github.com/keymeter/keymeter/service"
)

// alertsConfig is the alerts: section of the config file: the rules and
// how their webhooks are delivered.
type alertsConfig struct {
	Delivery alertDelivery `yaml:"delivery"`
	Rules    []alertRule   `yaml:"rules"`
}

// alertDelivery is alert.Policy in the config file's terms; empty
// settings take the policy's defaults.
type alertDelivery struct {
	Timeout     string `yaml:"timeout"`      // one request ("10s")
	BaseDelay   string `yaml:"base_delay"`   // first retry ("30s"), doubling
	MaxDelay    string `yaml:"max_delay"`    // cap of the delay ("1h")
	MaxAttempts int    `yaml:"max_attempts"` // attempts before a message is dead (30)
	MaxAge      string `yaml:"max_age"`      // age after which it is dead ("72h")
	Lease       string `yaml:"lease"`        // claim lease, longer than timeout
	Workers     int    `yaml:"workers"`      // messages sent at a time (4)
}

// alertRule is one rule in the config file. Thresholds and rearm are
// decimals (YAML numbers or strings) in the unit of the rule's kind:
// quantity in the meter's unit (requests, bytes, or GB for a meter
// counted in GB), percent in percent of the plan's included units,
// amount in the billing currency's major unit ("25.50" dollars). The
// webhook secret comes from a file or an environment variable, never
// from the config file itself.
type alertRule struct {
	Name       string   `yaml:"name"`
	Customer   string   `yaml:"customer"`
	Plan       string   `yaml:"plan"`
	Meter      string   `yaml:"meter"`
	Kind       string   `yaml:"kind"`
	Thresholds []string `yaml:"thresholds"`
	Rearm      string   `yaml:"rearm"`
	URL        string   `yaml:"url"`
	// SecretFile is a file holding the secret (surrounding white space is
	// trimmed), relative to the config file's directory; SecretEnv an
	// environment variable holding it. Exactly one is given.
	SecretFile string `yaml:"secret_file"`
	SecretEnv  string `yaml:"secret_env"`
}

// problems checks the alerts: section on its own (the billing config and
// the secrets are checked when the rules are used), each problem placed
// in its setting: "alerts.rules[1] (acme-80): thresholds[0]: ...".
func (a *alertsConfig) problems() []string {
	var out []string
	d := &a.Delivery
	for _, f := range []struct{ name, v string }{{"timeout", d.Timeout}, {"base_delay", d.BaseDelay}, {"max_delay", d.MaxDelay},
		{"max_age", d.MaxAge}, {"lease", d.Lease}} {
		if f.v == "" {
			continue
		}
		if v, err := time.ParseDuration(f.v); err != nil || v <= 0 {
			out = append(out, fmt.Sprintf("alerts.delivery.%s: %q is not a positive duration such as 30s or 1h", f.name, f.v))
		}
	}
	if d.MaxAttempts < 0 {
		out = append(out, fmt.Sprintf("alerts.delivery.max_attempts: %d is negative", d.MaxAttempts))
	}
	if d.Workers < 0 {
		out = append(out, fmt.Sprintf("alerts.delivery.workers: %d is negative", d.Workers))
	}
	if len(out) == 0 {
		if err := a.policy().Validate(); err != nil {
			out = append(out, "alerts.delivery: "+strings.TrimPrefix(strings.TrimPrefix(err.Error(), "EINVALID: "), "alert delivery: "))
		}
	}
	// The rules on their own, with a stand-in secret and without unit
	// conversion: the real ones are checked when the rules are used.
	rules := make(alert.Rules, len(a.Rules))
	for i, r := range a.Rules {
		where := alertWhere(i, r.Name)
		rules[i] = alert.Rule{Name: r.Name, Customer: r.Customer, Plan: r.Plan, Meter: r.Meter, Kind: alert.Kind(r.Kind), URL: r.URL,
			Secret: []byte(strings.Repeat("x", alert.MinSecretLen))}
		for j, t := range r.Thresholds {
			v, err := billing.ParseDecimal(strings.TrimSpace(t))
			if err != nil {
				out = append(out, fmt.Sprintf("%s: thresholds[%d]: %q is not a decimal number", where, j, t))
				v = billing.DecimalFromInt(1)
			}
			rules[i].Thresholds = append(rules[i].Thresholds, v)
		}
		if r.Rearm != "" {
			v, err := billing.ParseDecimal(strings.TrimSpace(r.Rearm))
			if err != nil {
				out = append(out, fmt.Sprintf("%s: rearm: %q is not a decimal number", where, r.Rearm))
			} else {
				rules[i].Rearm = v
			}
		}
		if rules[i].Kind == alert.Quantity {
			// A quantity may be a fraction of the meter's unit (0.5 GB):
			// whether it is a whole number of bytes is checked with the
			// billing config. Scaled by one power of ten, the values keep
			// their order.
			scale := rules[i].Rearm.Scale()
			for _, t := range rules[i].Thresholds {
				scale = max(scale, t.Scale())
			}
			for j := range rules[i].Thresholds {
				rules[i].Thresholds[j] = rules[i].Thresholds[j].Shift(scale)
			}
			rules[i].Rearm = rules[i].Rearm.Shift(scale)
		}
		switch {
		case r.SecretFile == "" && r.SecretEnv == "":
			out = append(out, where+": secret: missing: give secret_file (a file holding it) or secret_env (a variable holding it)")
		case r.SecretFile != "" && r.SecretEnv != "":
			out = append(out, where+": secret: give secret_file or secret_env, not both")
		}
	}
	out = append(out, ruleProblems(rules.Validate(nil))...)
	return out
}

// alertWhere names rule i in messages: "alerts.rules[1] (acme-80)".
func alertWhere(i int, name string) string {
	if name == "" {
		return fmt.Sprintf("alerts.rules[%d]", i)
	}
	return fmt.Sprintf("alerts.rules[%d] (%s)", i, name)
}

// ruleProblems says the problems of an alert.Rules.Validate error in the
// config file's terms.
func ruleProblems(err error) []string {
	ve, ok := err.(*alert.ValidationError)
	if !ok {
		if err != nil {
			return []string{"alerts.rules: " + err.Error()}
		}
		return nil
	}
	out := make([]string, len(ve.Problems))
	for i, p := range ve.Problems {
		out[i] = "alerts." + p.String()
	}
	return out
}

// policy returns the delivery settings as alert.Policy; they were
// validated.
func (a *alertsConfig) policy() alert.Policy {
	d := &a.Delivery
	dur := func(s string) time.Duration {
		v, _ := time.ParseDuration(s)
		return v
	}
	return alert.Policy{Timeout: dur(d.Timeout), BaseDelay: dur(d.BaseDelay), MaxDelay: dur(d.MaxDelay), MaxAttempts: d.MaxAttempts,
		MaxAge: dur(d.MaxAge), Lease: dur(d.Lease), Workers: d.Workers}
}

// alertsLoader returns the service's loader of the alert rules: nil
// when the config has none. On first use it reads the billing config
// (as the billing commands find it, without a flag) and the secrets,
// and converts the thresholds to the units alert compares (bytes, minor
// units of the currency) exactly.
func (cfg *Config) alertsLoader(getenv func(string) string) func() (*service.Alerts, error) {
	if len(cfg.Alerts.Rules) == 0 {
		return nil
	}
	var (
		once bool
		a    *service.Alerts
		err  error
	)
	return func() (*service.Alerts, error) {
		if !once {
			once = true
			a, err = cfg.loadAlerts(getenv)
		}
		return a, err
	}
}

// loadAlerts reads the billing config and the secrets and returns the
// rules converted, every problem reported at once as an EINVALID error.
func (cfg *Config) loadAlerts(getenv func(string) string) (*service.Alerts, error) {
	bc, err := cfg.loadBilling("", getenv)
	if err != nil {
		return nil, fmt.Errorf("alert rules: %w", err)
	}
	var problems []string
	rules := make(alert.Rules, len(cfg.Alerts.Rules))
	for i, r := range cfg.Alerts.Rules {
		where := alertWhere(i, r.Name)
		rule := alert.Rule{Name: r.Name, Customer: r.Customer, Plan: r.Plan, Meter: r.Meter, Kind: alert.Kind(r.Kind), URL: r.URL}
		secret, err := cfg.alertSecret(r, getenv)
		if err != nil {
			problems = append(problems, where+": secret: "+err.Error())
		}
		rule.Secret = secret
		conv := func(field, s string) billing.Decimal {
			v, _ := billing.ParseDecimal(strings.TrimSpace(s)) // validated
			out, err := toAlertUnit(bc.Config, rule.Kind, rule.Meter, v)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: %s: %v", where, field, err))
			}
			return out
		}
		for j, t := range r.Thresholds {
			rule.Thresholds = append(rule.Thresholds, conv(fmt.Sprintf("thresholds[%d]", j), t))
		}
		if r.Rearm != "" {
			rule.Rearm = conv("rearm", r.Rearm)
		}
		rules[i] = rule
	}
	if len(problems) == 0 {
		problems = ruleProblems(rules.Validate(nil))
	}
	if len(problems) > 0 {
		where := "configuration"
		if cfg.path != "" {
			where = cfg.path
		}
		return nil, keymeter.Errorf(keymeter.EINVALID, "%s:\n  %s", where, strings.Join(problems, "\n  "))
	}
	return &service.Alerts{Rules: rules, Billing: bc, Policy: cfg.Alerts.policy()}, nil
}

// toAlertUnit converts a threshold or margin from the config's unit to
// alert's: a quantity in the meter's unit to requests or bytes (which
// must come out whole), an amount in major units to minor units.
func toAlertUnit(bc *billing.Config, kind alert.Kind, meter string, v billing.Decimal) (billing.Decimal, error) {
	switch kind {
	case alert.Quantity:
		m, ok := bc.Meter(meter)
		if !ok {
			return v, nil // Validate reports the meter
		}
		raw := v.Mul(billing.DecimalFromInt(max(m.Unit.Bytes, 1)))
		if !raw.Reduce().IsInteger() {
			return v, fmt.Errorf("%s %s is not a whole number of %s", v, m.Unit.Name, unitWord(m))
		}
		return raw.Reduce(), nil
	case alert.Amount:
		minor := bc.Currency.ToMinor(v)
		if !minor.Reduce().IsInteger() {
			return v, fmt.Errorf("%s is not a whole number of minor units of %s", v, bc.Currency.Code)
		}
		return minor.Reduce(), nil
	}
	return v, nil
}

func unitWord(m *billing.Meter) string {
	if m.Measure == billing.MeasureRequests {
		return "requests"
	}
	return "bytes"
}

// alertSecret reads a rule's webhook secret from its file or variable.
func (cfg *Config) alertSecret(r alertRule, getenv func(string) string) ([]byte, error) {
	if r.SecretEnv != "" {
		v := strings.TrimSpace(getenv(r.SecretEnv))
		if v == "" {
			return nil, fmt.Errorf("$%s is not set", r.SecretEnv)
		}
		return []byte(v), nil
	}
	path := r.SecretFile
	if !filepath.IsAbs(path) && cfg.path != "" {
		path = filepath.Join(filepath.Dir(cfg.path), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read secret_file: %v", err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return nil, fmt.Errorf("secret_file %s is empty", path)
	}
	return []byte(s), nil
}
