// Package service is keymeter's application core: every operation the
// command line offers, and the HTTP server will, over one store. It
// ingests (files, S3 listings and followers, Kinesis streams, and
// reprocessing with its check of finalized invoices), reports usage with
// its completeness, coverage and reconciliation, keeps keys and
// customers, builds invoices (drafts, finalizing with its rules, late
// adjustments), estimates costs and margins, exports to Stripe, lists
// rejects, runs ad-hoc SQL, and keeps the fingerprint secret.
//
// It takes the store through small interfaces (Stores, filled by the
// Opener the caller gives), its settings as plain fields, and a clock
// (Service.Now). It returns typed results and keymeter.Error codes, and
// never prints, formats output or chooses an exit code: package report
// encodes its results, cmd/keymeter and the HTTP server present them.
package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/billing"
)

// Service runs keymeter's operations. The zero value is not usable: Open
// is required.
type Service struct {
	// Open opens the store for one operation, which closes it before it
	// returns (a follower opens it for each of its runs).
	Open Opener
	// Now is the clock: what "this month" is, when a period closes,
	// finalizing times, and ingest's time of reading. Default: time.Now.
	Now func() time.Time
	// Settle holds the logs' settling delays, from which watermarks are
	// computed. Default (nil): keymeter.DefaultSettle.
	Settle keymeter.Settle
	// Grace is how late events may arrive after a billing period ends:
	// its invoices can be finalized from its end plus Grace on.
	Grace time.Duration
	// SecretFile is the file of the fingerprint secret, created on first
	// use (see Secret).
	SecretFile string
	// Alerts returns the alert rules and their delivery settings, loaded
	// on first use; nil, or a nil *Alerts, when there are none. With
	// rules, every ingest evaluates them in each commit (see alerts.go).
	Alerts func() (*Alerts, error)
}

// Access says what an operation does with the store it opens.
type Access int

const (
	// Read only reads: the store must exist, else Open returns an
	// ENOTFOUND error.
	Read Access = iota
	// Write reads and writes: the store is created when it does not exist.
	Write
	// Query runs ad-hoc SQL: it reads only, and nothing but the store's
	// own data may be reached (no files, no attaching, no settings).
	Query
)

// Opener opens the store. It returns an ENOTFOUND error for Read or
// Query access when there is no store, and an ECONFLICT error when the
// store is busy (another process writes it).
type Opener func(ctx context.Context, access Access) (*Stores, error)

// Stores are the abilities of an open store that the operations use,
// each a small interface. A backend fills every field with itself (see
// cmd/keymeter/store.go); an operation uses only those it needs, and a
// field may be nil for a store that is not offered the operations that
// need it.
type Stores struct {
	// Ingest is the store ingest runs write to (ingest.New).
	Ingest keymeter.Store
	// Secrets ties the store to the fingerprint secret.
	Secrets SecretChecker
	// Usage answers usage questions and says how complete they are.
	Usage UsageReader
	// Meters totals billing meters.
	Meters keymeter.MeterTotaler
	// Queries writes, for each usage line of an invoice, the query that
	// reproduces its quantity in the store's own language; nil leaves
	// invoices without them.
	Queries keymeter.QueryTexter
	// Coverage compares CloudFront's real-time log with its standard log.
	Coverage keymeter.CoverageReporter
	// Reconciler compares the edge and the origin.
	Reconciler keymeter.Reconciler
	// Keys keeps API keys and their owners.
	Keys keymeter.KeyStore
	// Customers keeps customers' plan assignments.
	Customers keymeter.CustomerStore
	// Invoices keeps finalized invoices.
	Invoices keymeter.InvoiceStore
	// Rejects lists rejected records.
	Rejects keymeter.RejectLister
	// Tokens keeps the HTTP API's tokens; when nil, the tokens operations
	// use Ingest if it is a keymeter.TokenStore.
	Tokens keymeter.TokenStore
	// SQL runs ad-hoc queries (opened with Query access).
	SQL keymeter.SQLQuerier
	// Alerts keeps the alert state and the webhook outbox.
	Alerts AlertStore
	// Close releases the store; nil when there is nothing to release.
	Close func() error
}

// UsageReader answers usage questions and reports how far each source's
// events reach, for watermarks and the choice of default sources.
type UsageReader interface {
	// Usage returns one row per group (see keymeter.UsageQuerier); an
	// EINVALID error for an empty or inverted period.
	Usage(ctx context.Context, q keymeter.UsageQuery) ([]keymeter.UsageRow, error)
	// Progress and SourcesIn are keymeter.ProgressReader's.
	Progress(ctx context.Context) ([]keymeter.SourceProgress, error)
	SourcesIn(ctx context.Context, from, to time.Time) ([]keymeter.Source, error)
}

// SecretChecker is a store's ability to tie itself to the fingerprint
// secret its keys were fingerprinted with.
type SecretChecker interface {
	// CheckSecret records check, a value derived from the secret, on
	// first use (a store opened read-only records nothing), and returns
	// an ECONFLICT error when a later check differs: the store was built
	// with another secret, and its fingerprints would not match.
	CheckSecret(ctx context.Context, check string) error
}

// Billing is the billing configuration (plans, meters, customers, cost
// rates) of the operations that rate usage, as the caller loaded it. The
// service never changes it: customers' assignments kept in the store are
// merged into a copy.
type Billing struct {
	Config *billing.Config
	// Path is the file it was read from, which messages name.
	Path string
}

// now returns the current time from s's clock.
func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// settle returns the settling delays.
func (s *Service) settle() keymeter.Settle {
	if s.Settle == nil {
		return keymeter.DefaultSettle()
	}
	return s.Settle
}

// open opens the store for an operation; close the result with done.
func (s *Service) open(ctx context.Context, access Access) (*Stores, error) {
	if s.Open == nil {
		return nil, errors.New("service: no store opener")
	}
	return s.Open(ctx, access)
}

// done closes st and joins the error of closing it to *err, so that an
// operation that succeeded still fails when its store could not be
// closed (a write-back, a checkpoint). Use it deferred.
func done(st *Stores, err *error) {
	if st == nil || st.Close == nil {
		return
	}
	if cerr := st.Close(); cerr != nil {
		*err = errors.Join(*err, fmt.Errorf("close store: %w", cerr))
	}
}
