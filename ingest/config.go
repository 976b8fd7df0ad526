package ingest

import (
	"context"
	"runtime"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/format/cloudfrontrt"
)

// Config tunes an ingest run. The zero value uses the defaults.
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
	// Default: "x-api-key".
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
	// CommitRows is the number of rows after which the writer commits.
	// Default: 1 Mi rows for objects, 100 000 for streams.
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
