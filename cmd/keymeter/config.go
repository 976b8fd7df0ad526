package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/format/cloudfrontrt"
	"github.com/keymeter/keymeter/ingest"
	"github.com/keymeter/keymeter/lake"
	"github.com/keymeter/keymeter/report"
)

// Config is keymeter's configuration. It is read in this package only:
// defaults, then the config file, then the environment, then flags.
type Config struct {
	// Data is the data directory: the store, the fingerprint secret and,
	// by default, the config file live there.
	Data string `yaml:"data"`
	// KeyParams are the query-string parameters that carry the API key, in
	// order of precedence.
	KeyParams []string `yaml:"key_params"`
	// MemoryLimit caps the embedded database's memory ("512MB").
	MemoryLimit string `yaml:"memory_limit"`
	// APIGateway describes API Gateway access log templates.
	APIGateway apigatewayConfig `yaml:"apigateway"`
	// Billing is the billing config file (plans, meters, customers); a
	// relative path is relative to this file's directory. Default:
	// DATA/billing.yaml.
	Billing string `yaml:"billing"`
	// BillingGrace is how late events may arrive after a billing period
	// ends: invoice finalize refuses a period before its end plus this
	// ("36h"). Default: 24h.
	BillingGrace string `yaml:"billing_grace"`
	// KeyHeader is the request header that carries the API key in
	// CloudFront real-time logs (cs-headers).
	KeyHeader string `yaml:"key_header"`
	// RealtimeFields are the fields of the CloudFront real-time log
	// configuration, in any order; empty means all documented fields.
	RealtimeFields []string `yaml:"realtime_fields"`
	// FutureHorizon is how far ahead of the time of reading a request may
	// be dated ("24h"); later ones are rejected as "time in the future".
	// Default: 24h.
	FutureHorizon string `yaml:"future_horizon"`
	// DedupeWindow is how far apart, in whole UTC hours, the times of two
	// events with the same request ID may be for the later to be a copy
	// ("24h", the default; "0h": the same hour only).
	DedupeWindow string `yaml:"dedupe_window"`
	// Settle holds, per log (cloudfront, cloudfront-realtime,
	// apigateway), how long after the newest request it has delivered
	// its older requests are taken to have all arrived ("24h"): what a
	// source's watermark is behind its newest request. Defaults:
	// keymeter.DefaultSettle.
	Settle map[string]string `yaml:"settle"`
	// CoverageThreshold is the share of the standard log's requests the
	// real-time log must have a record of ("99%", the default) below
	// which usage and invoice warn that what they count from real-time
	// records is short.
	CoverageThreshold string `yaml:"coverage_threshold"`
	// Alerts are the alert rules and how their webhooks are delivered
	// (see config_alerts.go).
	Alerts alertsConfig `yaml:"alerts"`
	// Lake is where the Parquet lake of events is: a directory or an S3
	// prefix ("s3://bucket/prefix"). lake ddl reads its tables there by
	// default when it is on S3.
	Lake string `yaml:"lake"`
	// Serve configures keymeter serve (serve.go).
	Serve serveConfig `yaml:"serve"`

	path string // the config file read, if any
}

// defaultCoverageThreshold is coverage_threshold's default, in basis
// points: 99%.
const defaultCoverageThreshold = 9900

// settle returns the settling delays of the logs. They were validated.
func (cfg *Config) settle() keymeter.Settle {
	s := keymeter.DefaultSettle()
	for name, v := range cfg.Settle {
		src, _ := keymeter.ParseSource(name)
		s[src], _ = time.ParseDuration(v)
	}
	return s
}

// coverageThreshold returns coverage_threshold in basis points; it was
// validated.
func (cfg *Config) coverageThreshold() int64 {
	if cfg.CoverageThreshold == "" {
		return defaultCoverageThreshold
	}
	bp, _ := keymeter.ParsePercent(cfg.CoverageThreshold)
	return bp
}

// Environment variables keymeter reads.
const (
	envData   = "KEYMETER_DATA"
	envConfig = "KEYMETER_CONFIG"
)

// defaultDataDir returns $XDG_DATA_HOME/keymeter, or
// $HOME/.local/share/keymeter.
func defaultDataDir(getenv func(string) string) string {
	if x := getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "keymeter")
	}
	if home := getenv("HOME"); home != "" {
		return filepath.Join(home, ".local", "share", "keymeter")
	}
	return "keymeter-data"
}

// commonFlags are the flags every command that uses the store accepts.
type commonFlags struct {
	data         string
	config       string
	keyParams    string
	keyHeader    string
	fields       string
	horizon      string
	dedupeWindow string
}

func (c *commonFlags) register(fs *flag.FlagSet, withKeyParams bool) {
	fs.StringVar(&c.data, "data", "", "data `directory` (default $"+envData+" or $XDG_DATA_HOME/keymeter or ~/.local/share/keymeter)")
	fs.StringVar(&c.config, "config", "", "config `file` (default $"+envConfig+" or DATA/keymeter.yaml)")
	if withKeyParams {
		fs.StringVar(&c.keyParams, "key-param", "", "comma-separated query `parameters` that carry the API key (default "+strings.Join(ingest.DefaultKeyParams, ",")+")")
		fs.StringVar(&c.keyHeader, "key-header", "", "request `header` that carries the API key in real-time logs, before the query string (default "+cloudfrontrt.DefaultKeyHeader+")")
		fs.StringVar(&c.fields, "fields", "", "comma-separated `fields` of the real-time log configuration, in any order (default: all documented fields)")
		fs.StringVar(&c.horizon, "future-horizon", "", "reject requests dated more than this `duration` after the time of reading (default "+hours(ingest.DefaultFutureHorizon)+")")
		fs.StringVar(&c.dedupeWindow, "dedupe-window", "", "how far apart, in whole `hours`, two events with the same request ID may be to count once (default "+hours(keymeter.DefaultDedupeWindow)+"; 0h: the same hour)")
	}
}

// load builds the configuration from the defaults, the config file, the
// environment and the flags, and validates it.
func (c *commonFlags) load(getenv func(string) string) (*Config, error) {
	cfg := &Config{Data: defaultDataDir(getenv)}
	dataFromEnvOrFlag := ""
	if v := getenv(envData); v != "" {
		dataFromEnvOrFlag = v
	}
	if c.data != "" {
		dataFromEnvOrFlag = c.data
	}
	path, explicit := c.config, c.config != ""
	if path == "" {
		path, explicit = getenv(envConfig), getenv(envConfig) != ""
	}
	if path == "" {
		dir := cfg.Data
		if dataFromEnvOrFlag != "" {
			dir = dataFromEnvOrFlag
		}
		path = filepath.Join(dir, "keymeter.yaml")
	}
	if err := cfg.readFile(path, explicit); err != nil {
		return nil, err
	}
	if dataFromEnvOrFlag != "" {
		cfg.Data = dataFromEnvOrFlag
	}
	// Unset settings keep their zero values: their owners (ingest, the
	// formats, the store) default them.
	if c.keyParams != "" {
		cfg.KeyParams = splitList(c.keyParams)
	}
	if c.keyHeader != "" {
		cfg.KeyHeader = c.keyHeader
	}
	if c.fields != "" {
		cfg.RealtimeFields = splitList(c.fields)
	}
	if c.horizon != "" {
		cfg.FutureHorizon = c.horizon
	}
	if c.dedupeWindow != "" {
		cfg.DedupeWindow = c.dedupeWindow
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// readFile reads the YAML config file at path. A missing file is an error
// only when it was named explicitly.
func (cfg *Config) readFile(path string, explicit bool) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		return nil
	}
	if err != nil {
		return keymeter.Errorf(keymeter.EINVALID, "config file: %v", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return keymeter.Errorf(keymeter.EINVALID, "config file %s: %v", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	cfg.path = path
	return nil
}

// Validate reports every problem with the configuration at once. The
// settings of ingest and of the formats are checked by their owner
// (ingest.Config.Problems); Validate parses the text of the config file
// and says each problem in its terms.
func (cfg *Config) Validate() error {
	var problems []string
	if strings.TrimSpace(cfg.Data) == "" {
		problems = append(problems, "data: the data directory must not be empty")
	}
	if cfg.BillingGrace != "" {
		if d, err := time.ParseDuration(cfg.BillingGrace); err != nil || d < 0 {
			problems = append(problems, fmt.Sprintf("billing_grace: %q is not a duration such as 24h or 90m", cfg.BillingGrace))
		}
	}
	settings := cfg.ingestSettings()
	ingestProblems := map[string][]string{}
	for _, p := range settings.Problems() {
		ingestProblems[p.Setting] = append(ingestProblems[p.Setting], cfg.describe(p)...)
	}
	if cfg.FutureHorizon != "" {
		// 0 would be the default to ingest: an explicit 0 is refused here.
		if d, err := time.ParseDuration(cfg.FutureHorizon); err != nil || d == 0 {
			ingestProblems[ingest.SettingFutureHorizon] = cfg.describe(&ingest.ConfigError{Setting: ingest.SettingFutureHorizon})
		}
	}
	problems = append(problems, ingestProblems[ingest.SettingFutureHorizon]...)
	if _, err := cfg.dedupeWindow(); err != nil {
		problems = append(problems, err.Error())
	}
	for _, name := range slices.Sorted(maps.Keys(cfg.Settle)) {
		src, err := keymeter.ParseSource(name)
		if err != nil || !slices.Contains(keymeter.Sources(), src) {
			problems = append(problems, fmt.Sprintf("settle: %q is not a log (want cloudfront, cloudfront-realtime or apigateway)", name))
			continue
		}
		if d, err := time.ParseDuration(cfg.Settle[name]); err != nil || d < 0 {
			problems = append(problems, fmt.Sprintf("settle.%s: %q is not a duration such as 24h or 15m", name, cfg.Settle[name]))
		}
	}
	if cfg.CoverageThreshold != "" {
		if _, err := keymeter.ParsePercent(cfg.CoverageThreshold); err != nil {
			problems = append(problems, "coverage_threshold: "+err.Error())
		}
	}
	if strings.HasPrefix(cfg.Lake, "s3://") {
		if _, err := lake.DDL(cfg.Lake); err != nil {
			problems = append(problems, "lake: "+strings.TrimPrefix(err.Error(), "lake location "))
		}
	}
	problems = append(problems, ingestProblems[ingest.SettingKeyParams]...)
	problems = append(problems, ingestProblems[ingest.SettingAPIGatewayTemplate]...)
	problems = append(problems, cfg.APIGateway.problems()...)
	problems = append(problems, ingestProblems[ingest.SettingAPIGatewayMapping]...)
	problems = append(problems, ingestProblems[ingest.SettingKeyHeader]...)
	problems = append(problems, ingestProblems[ingest.SettingRealtimeFields]...)
	problems = append(problems, cfg.Alerts.problems()...)
	problems = append(problems, cfg.Serve.problems()...)
	if len(problems) > 0 {
		where := "configuration"
		if cfg.path != "" {
			where = cfg.path
		}
		return keymeter.Errorf(keymeter.EINVALID, "%s:\n  %s", where, strings.Join(problems, "\n  "))
	}
	return nil
}

// ingestSettings returns the settings of the configuration that ingest
// owns, as an ingest.Config that reads every format, to be checked.
func (cfg *Config) ingestSettings() ingest.Config {
	return ingest.Config{
		KeyParams:      cfg.KeyParams,
		KeyHeader:      cfg.KeyHeader,
		RealtimeFields: cfg.RealtimeFields,
		FutureHorizon:  cfg.futureHorizon(),
		APIGateway:     cfg.APIGateway.ingestConfig(),
	}
}

// describe says a problem of an ingest setting in the config file's
// terms.
func (cfg *Config) describe(p *ingest.ConfigError) []string {
	switch p.Setting {
	case ingest.SettingKeyParams:
		return []string{fmt.Sprintf("key_params[%d]: %v", p.Index, p.Err)}
	case ingest.SettingKeyHeader:
		return []string{fmt.Sprintf("key_header: %v", p.Err)}
	case ingest.SettingRealtimeFields:
		return []string{fmt.Sprintf("realtime_fields: %v", p.Err)}
	case ingest.SettingFutureHorizon:
		return []string{fmt.Sprintf("future_horizon: %q is not a positive duration such as 24h or 90m", cfg.FutureHorizon)}
	case ingest.SettingAPIGatewayTemplate:
		return []string{fmt.Sprintf("apigateway.template: %v", p.Err)}
	case ingest.SettingAPIGatewayMapping:
		return mappingProblems(p.Err)
	}
	return []string{p.Error()}
}

// hours writes a whole number of hours as the flags take them ("24h").
func hours(d time.Duration) string {
	return fmt.Sprintf("%dh", d/time.Hour)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// futureHorizon returns the future_horizon setting; 0 for the default.
// The setting was validated.
func (cfg *Config) futureHorizon() time.Duration {
	d, _ := time.ParseDuration(cfg.FutureHorizon)
	return d
}

// secretPath is the fingerprint secret in the data directory.
func (cfg *Config) secretPath() string {
	return filepath.Join(cfg.Data, "secret")
}

// dedupeWindow returns the dedupe window as duckdb.Options takes it: 0
// for the default, negative for the same hour only.
func (cfg *Config) dedupeWindow() (time.Duration, error) {
	if cfg.DedupeWindow == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(cfg.DedupeWindow)
	if err == nil {
		err = keymeter.CheckDedupeWindow(d)
	}
	if err != nil {
		return 0, fmt.Errorf("dedupe_window: %q is not a whole number of hours such as 24h or 0h", cfg.DedupeWindow)
	}
	if d == 0 {
		return -1, nil
	}
	return d, nil
}

// parseQueryFlags parses the flags of a command that only reads the
// store and checks its --format. It returns the positional arguments, of
// which there must be none unless allowArgs.
func parseQueryFlags(fs *flag.FlagSet, format *string, args []string, allowArgs bool) ([]string, error) {
	pos, err := parseFlags(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) > 0 && !allowArgs {
		return nil, &usageError{msg: fmt.Sprintf("%s: unexpected argument %q", strings.TrimPrefix(fs.Name(), "keymeter "), pos[0])}
	}
	return pos, report.CheckFormat(*format)
}
