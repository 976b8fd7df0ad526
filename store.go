package keymeter

import (
	"context"
	"io"
	"time"
)

// Writer writes one ingest run's output. Everything written is invisible
// to other readers and lost on a crash until Commit returns; Commit makes
// it durable at once. A Writer is used by one goroutine at a time.
type Writer interface {
	// Write stores the batch's rows, skipping rows whose (Source, ID) is
	// already stored, or written before, with a time in a UTC hour at most
	// the store's dedupe window (DefaultDedupeWindow) from the row's, and
	// the dictionary entries and key fingerprints the rows reference.
	// Whether a row is a duplicate does not depend on how rows were
	// batched, committed or split across runs.
	Write(ctx context.Context, b *Batch) (WriteResult, error)
	// Reject keeps rejected records for inspection.
	Reject(ctx context.Context, rejects []Reject) error
	// FinishObject records that an object has been read, so that
	// FindObject reports it from the next Commit on.
	FinishObject(ctx context.Context, rec ObjectRecord) error
	// Commit makes everything written since the previous Commit durable.
	Commit(ctx context.Context) error
	// Close rolls back anything not committed and releases the writer.
	Close() error
}

// DefaultDedupeWindow is how far apart the times of two events of a
// source with the same request ID may be, in whole UTC hours, for the
// later one to be a copy: a redelivered record carries its original's
// time, and a day catches copies whose time was shifted by hours.
// Copies further apart count as distinct requests.
const DefaultDedupeWindow = 24 * time.Hour

// WriteResult counts what Write did with a batch's rows.
type WriteResult struct {
	Stored     int // rows stored
	Duplicates int // rows skipped as already stored
	// ByAttribution counts the stored rows by attribution outcome.
	ByAttribution [NumAttributions]int
	// UnattributedByDay counts the stored rows without a key by UTC day
	// and reason (NoKey, KeyTruncated); nil when every stored row has a
	// key.
	UnattributedByDay map[DayAttribution]int
}

// DayAttribution is a UTC day, in days since 1970-01-01, and an
// attribution outcome: what WriteResult.UnattributedByDay counts by.
type DayAttribution struct {
	Day         int32
	Attribution Attribution
}

// DayOf returns the UTC day, in days since 1970-01-01, of a Row.Time.
func DayOf(unixMicro int64) int32 {
	const microsPerDay = 86400 * 1e6
	d := unixMicro / microsPerDay
	if unixMicro < 0 && unixMicro%microsPerDay != 0 {
		d--
	}
	return int32(d)
}

// Checkpointer is the optional ability of a Writer to keep the read
// position of a stream with the events read up to it, so that reading
// resumes exactly where the stored events end (see source/kinesis).
type Checkpointer interface {
	// SetCheckpoint records that the events of the records of a stream's
	// shard up to and including sequence number sequence are written. It
	// becomes durable at the next Commit, in the same transaction as
	// those events, and is lost with them if the writer is closed first.
	// The last checkpoint set for a shard before a Commit wins.
	SetCheckpoint(ctx context.Context, stream, shard, sequence string) error
}

// RejectReplacer is the optional ability of a Writer to replace the
// rejects of an earlier read of an object by those of a new one, so that
// an object read again (a truncated file completed later, a file that
// grew) keeps no stale rejects.
type RejectReplacer interface {
	// ReplaceRejects says that the object uri is being read again from
	// its start and will reject its bad records again: the rejects kept
	// from earlier reads of it are dropped at the next Commit, in the
	// transaction that keeps the first of this read's.
	ReplaceRejects(ctx context.Context, uri string) error
}

// CheckpointReader is the optional ability of a Store to read back the
// checkpoints its writers committed.
type CheckpointReader interface {
	// Checkpoints returns the committed checkpoint of each shard of
	// stream, by shard ID: empty (not nil) when there is none.
	Checkpoints(ctx context.Context, stream string) (map[string]string, error)
}

// ObjectFinder finds previously ingested objects.
type ObjectFinder interface {
	// FindObject returns the record of an ingested object with the same
	// Digest as o (when o.Digest is set), or else with the same URI, Size,
	// ModTime and ETag. It returns nil, nil when there is none.
	FindObject(ctx context.Context, o Object) (*ObjectRecord, error)
}

// KeyStore keeps API key fingerprints and the customers that own them.
type KeyStore interface {
	// ImportKeys assigns keys to customers, adding unknown keys. It is
	// idempotent.
	ImportKeys(ctx context.Context, keys []KeyAssignment) (KeyImport, error)
	// ListKeys returns every known key, ordered by customer then
	// fingerprint, unassigned keys last.
	ListKeys(ctx context.Context) ([]Key, error)
}

// UsageQuerier answers usage questions.
type UsageQuerier interface {
	// Usage returns one row per group, ordered by the group columns with
	// nulls last. It returns an EINVALID error for an empty or inverted
	// period.
	Usage(ctx context.Context, q UsageQuery) ([]UsageRow, error)
}

// RejectLister lists rejected records.
type RejectLister interface {
	Rejects(ctx context.Context, f RejectFilter) ([]Reject, error)
}

// Store is a keymeter backend: the embedded DuckDB store by default.
// Every backend passes the contract suite in store/storetest.
type Store interface {
	// NewWriter starts a write session. A store allows one at a time and
	// returns an ECONFLICT error while another is open.
	NewWriter(ctx context.Context) (Writer, error)
	ObjectFinder
	KeyStore
	UsageQuerier
	RejectLister
	io.Closer
}

// Table is the result of an ad-hoc query: named columns and rows of
// values (nil, bool, int64, uint64, *big.Int, float64, string, []byte,
// time.Time, or a decimal rendered as string).
type Table struct {
	Columns []string
	Rows    [][]any
}

// SQLQuerier runs read-only SQL over a store's tables and views.
type SQLQuerier interface {
	QuerySQL(ctx context.Context, query string) (*Table, error)
}
