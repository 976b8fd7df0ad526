package ingest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/format/cloudfront"
	"github.com/keymeter/keymeter/format/cloudfrontrt"
)

// Config tunes an ingest run. The zero value uses the defaults, and
// every default is declared here or by the format that owns the setting;
// Problems and Validate say what is wrong with the rest.
type Config struct {
	// Format is the name of the log format of the inputs (see
	// FormatNames). Default: "", each object is read with the format it
	// looks like (see detect.go); a stream (RunStream) is read as
	// "cloudfront-realtime". With a format named, an object that looks
	// like another format is refused (Summary.Failed) and not recorded.
	Format string
	// KeyParams are the query-string parameters that carry the API key, in
	// order of precedence (see keyFinder.redact), each made of letters,
	// digits and - . _ ~; they are matched in any letter case. Default:
	// DefaultKeyParams.
	KeyParams []string
	// KeyHeader is the request header that carries the API key, for
	// formats that log request headers (cloudfront-realtime); it takes
	// precedence over KeyParams and is matched case-insensitively.
	// Default: cloudfrontrt.DefaultKeyHeader ("x-api-key").
	KeyHeader string
	// RealtimeFields are the fields of the CloudFront real-time log
	// configuration, in any order (see cloudfrontrt.NewParser). Default:
	// every documented field.
	RealtimeFields []string
	// Secret keys the fingerprints of API keys. Required.
	Secret []byte
	// Workers is the number of objects read in parallel. Default: GOMAXPROCS.
	Workers int
	// BatchRows is the number of rows handed to the writer at once.
	BatchRows int
	// CommitRows is the number of rows and rejects after which the writer
	// commits; it commits sooner when 32 MiB of reject text is pending.
	// Default: 1 Mi for objects, 100 000 for streams.
	CommitRows int
	// CommitInterval is, for streams, the longest time read records wait
	// for a commit. Default: 1 s.
	CommitInterval time.Duration
	// Now returns the current time; it stamps rejects and bounds the time
	// of requests (FutureHorizon). Default: time.Now.
	Now func() time.Time
	// Progress, when set, is called from the writer goroutine after each
	// batch with the running totals.
	Progress func(Summary)
	// APIGateway configures the apigateway formats.
	APIGateway APIGateway
	// FutureHorizon is how far ahead of the time of reading (Now) a
	// request may be dated: a record dated later is rejected as "time in
	// the future". Default: DefaultFutureHorizon.
	FutureHorizon time.Duration
	// Reprocess reads every input again, whether or not it was ingested
	// before, and replaces what earlier reads of it stored (see Run).
	// The store's Writer must be a keymeter.Rereader.
	Reprocess bool
	// Check, with Reprocess, is called with the prepared transaction
	// (when the Writer is a keymeter.Preparer) and the run's summary just
	// before the commit; an error rolls the run back.
	Check func(ctx context.Context, tx keymeter.Preparer, sum *Summary) error
	// OnCommit, when set, runs inside the transaction of every commit
	// that stores or retracts events, just before it commits: the
	// alerts' evaluation (see CommitHook). The Writer must then be a
	// keymeter.Preparer. An error rolls the commit back and ends the run.
	OnCommit CommitHook
}

// CommitHook is what a run does inside each commit's transaction, so
// that what it derives from the data commits with the data.
type CommitHook interface {
	// InCommit is called with the run's writer, prepared (everything
	// written is in its open transaction, and its MeterTotals count it),
	// and the span [first, last] of event time of the events the
	// transaction stores or retracts. It may write through the writer's
	// own abilities; the commit follows when it returns nil.
	InCommit(ctx context.Context, w keymeter.Preparer, first, last time.Time) error
}

func (c *Config) setDefaults() {
	if len(c.KeyParams) == 0 {
		c.KeyParams = DefaultKeyParams
	}
	if c.KeyHeader == "" {
		c.KeyHeader = cloudfrontrt.DefaultKeyHeader
	}
	if c.CommitInterval <= 0 {
		c.CommitInterval = time.Second
	}
	if c.Workers <= 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	if c.BatchRows <= 0 {
		c.BatchRows = 8192
	}
	if c.CommitRows <= 0 {
		c.CommitRows = 1 << 20
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.FutureHorizon == 0 {
		c.FutureHorizon = DefaultFutureHorizon
	}
}

// Settings of a Config that can be wrong (ConfigError.Setting).
const (
	SettingFormat             = "Format"
	SettingKeyParams          = "KeyParams"
	SettingKeyHeader          = "KeyHeader"
	SettingRealtimeFields     = "RealtimeFields"
	SettingFutureHorizon      = "FutureHorizon"
	SettingAPIGatewayTemplate = "APIGateway.Template"
	SettingAPIGatewayMapping  = "APIGateway.Mapping"
)

// ConfigError is one problem with a Config: the setting it is in and
// what is wrong with it.
type ConfigError struct {
	Setting string // one of the Setting constants
	Index   int    // for KeyParams, the position of the parameter; else 0
	// Err says what is wrong, following the setting's name: `"a=b" is
	// not a query parameter name ...`. It wraps the format's own error
	// when there is one (an *apigateway.MappingError, say).
	Err error
}

// Error returns the setting and what is wrong with it.
func (e *ConfigError) Error() string {
	if e.Setting == SettingKeyParams {
		return fmt.Sprintf("%s[%d]: %v", e.Setting, e.Index, e.Err)
	}
	return e.Setting + ": " + e.Err.Error()
}

// Unwrap returns Err.
func (e *ConfigError) Unwrap() error { return e.Err }

// Problems returns every problem with the configuration, in the order
// of Config's fields, or nil. Unset settings take their defaults, which
// are valid. The settings of a format are checked when it may read the
// inputs: with Format "" (detection), every format's. The Secret is not
// checked: New requires it.
func (c *Config) Problems() []*ConfigError {
	var out []*ConfigError
	problem := func(setting string, index int, err error) {
		out = append(out, &ConfigError{Setting: setting, Index: index, Err: err})
	}
	f, err := lookupFormat(c.Format)
	if err != nil {
		problem(SettingFormat, 0, err)
	}
	reads := func(source keymeter.Source) bool { return f.NewParser == nil || f.Source == source }
	for i, p := range c.KeyParams {
		if !cloudfront.IsParamName(p) {
			problem(SettingKeyParams, i, fmt.Errorf("%q is not a query parameter name keymeter can find (letters, digits and - . _ ~)", p))
		}
	}
	if c.KeyHeader != "" && !cloudfrontrt.IsHeaderName(c.KeyHeader) {
		problem(SettingKeyHeader, 0, fmt.Errorf("%q is not an HTTP header name", c.KeyHeader))
	}
	if reads(keymeter.SourceCloudFrontRealtime) {
		if _, err := cloudfrontrt.NewParser(c.RealtimeFields); err != nil {
			problem(SettingRealtimeFields, 0, err)
		}
	}
	if c.FutureHorizon < 0 {
		problem(SettingFutureHorizon, 0, fmt.Errorf("must be positive (got %s)", c.FutureHorizon))
	}
	if reads(keymeter.SourceAPIGateway) {
		out = append(out, c.APIGateway.problems()...)
	}
	return out
}

// Validate reports every problem with the configuration at once (see
// Problems): nil, or an EINVALID error that wraps a *ConfigError per
// problem, one a line.
func (c *Config) Validate() error {
	return joinProblems(c.Problems())
}

func joinProblems(problems []*ConfigError) error {
	if len(problems) == 0 {
		return nil
	}
	errs := make([]error, len(problems))
	for i, p := range problems {
		errs[i] = p
	}
	return keymeter.Errorf(keymeter.EINVALID, "%w", errors.Join(errs...))
}
