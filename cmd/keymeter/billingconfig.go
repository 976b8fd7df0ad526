package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/billing"
	"github.com/keymeter/keymeter/service"
)

// envBilling names the billing config file.
const envBilling = "KEYMETER_BILLING"

// defaultGrace is how late events may arrive after a period ends before
// its invoice may be finalized.
const defaultGrace = 24 * time.Hour

// billingFlags are the flags of every billing command.
type billingFlags struct {
	commonFlags
	billing string
}

func (b *billingFlags) register(fs *flag.FlagSet) {
	b.commonFlags.register(fs, false)
	fs.StringVar(&b.billing, "billing", "", "billing config `file` (default $"+envBilling+", billing: in the config file, or DATA/billing.yaml)")
}

// loadBilling loads keymeter's configuration and the billing config.
// The billing config file is the --billing flag, else $KEYMETER_BILLING,
// else billing: in keymeter's config file (relative to that file), else
// DATA/billing.yaml. Every problem in it is reported at once, with line
// numbers, as an EINVALID error.
func (m *Main) loadBilling(b *billingFlags) (*Config, *service.Billing, error) {
	cfg, err := b.load(m.Getenv)
	if err != nil {
		return nil, nil, err
	}
	bc, err := cfg.loadBilling(b.billing, m.Getenv)
	if err != nil {
		return nil, nil, err
	}
	return cfg, bc, nil
}

// loadBilling reads the billing config file: flag, else
// $KEYMETER_BILLING, else billing: in the config file, else
// DATA/billing.yaml.
func (cfg *Config) loadBilling(flagPath string, getenv func(string) string) (*service.Billing, error) {
	path, explicit := flagPath, flagPath != ""
	if path == "" {
		path, explicit = getenv(envBilling), getenv(envBilling) != ""
	}
	if path == "" && cfg.Billing != "" {
		path, explicit = cfg.Billing, true
		if !filepath.IsAbs(path) && cfg.path != "" {
			path = filepath.Join(filepath.Dir(cfg.path), path)
		}
	}
	if path == "" {
		path = filepath.Join(cfg.Data, "billing.yaml")
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		return nil, keymeter.Errorf(keymeter.ENOTFOUND, "no billing config: write %s (plans, meters and customers; see the README) or pass --billing FILE", path)
	}
	if err != nil {
		return nil, keymeter.Errorf(keymeter.EINVALID, "billing config: %v", err)
	}
	bc, err := billing.ParseConfig(data)
	if err != nil {
		var ce *billing.ConfigError
		if errors.As(err, &ce) {
			lines := make([]string, len(ce.Problems))
			for i, p := range ce.Problems {
				lines[i] = p.String()
			}
			what := "a problem"
			if len(lines) > 1 {
				what = fmt.Sprintf("%d problems", len(lines))
			}
			return nil, keymeter.Errorf(keymeter.EINVALID, "billing config %s has %s; nothing was billed:\n  %s", path, what, strings.Join(lines, "\n  "))
		}
		return nil, err
	}
	return &service.Billing{Config: bc, Path: path}, nil
}

// grace returns the allowed lateness of events: billing_grace, 24h by
// default.
func (cfg *Config) grace() time.Duration {
	if d, err := time.ParseDuration(cfg.BillingGrace); err == nil && cfg.BillingGrace != "" {
		return d
	}
	return defaultGrace
}

// coverageThresholdFlag returns the coverage threshold in basis points:
// the flag's value when given, else the config's.
func (cfg *Config) coverageThresholdFlag(flag string) (int64, error) {
	if flag == "" {
		return cfg.coverageThreshold(), nil
	}
	bp, err := keymeter.ParsePercent(flag)
	if err != nil {
		return 0, keymeter.Errorf(keymeter.EINVALID, "--coverage-threshold %v", err)
	}
	return bp, nil
}
