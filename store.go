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

// CheckDedupeWindow returns an error unless d can be a dedupe window: a
// whole number of hours, not negative (0: the same hour only).
func CheckDedupeWindow(d time.Duration) error {
	if d < 0 || d%time.Hour != 0 {
		return Errorf(EINVALID, "the dedupe window %s is not a whole number of hours", d)
	}
	return nil
}

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

// Rereader is the optional ability of a Writer to replace what earlier
// reads of an object left, so that an object read again keeps nothing
// stale and a mistake can be corrected. The writer's caller calls it
// when an object is read from its start, before the object's first rows
// and rejects are written; what it drops goes at the next Commit, in the
// transaction that keeps the first of the new read's, and a later Commit
// of the same read keeps what the first kept.
type Rereader interface {
	// Reread says that object o is read again from its start. Without
	// retract, it drops the rejects kept from earlier reads of o.URI
	// unless one of them was recorded as ingested completely
	// (ObjectComplete): reads that stored nothing, were cut short (a
	// truncated file completed later) or crashed reject their bad records
	// again in this read, which replaces their rejects; the rejects of a
	// complete read stay with the events it stored. With retract (ingest
	// --reprocess) it also retracts the events stored from earlier reads
	// of o (its URI, or another URI of the same Digest) and drops all
	// their rejects and object records: retracted events leave every
	// question of current knowledge, stay for questions as of an earlier
	// time, and their IDs are free again, so that the new read's rows are
	// stored, not skipped as duplicates. It reports what it retracted.
	Reread(ctx context.Context, o Object, retract bool) (Retraction, error)
}

// Retraction is what a Rereader retracted.
type Retraction struct {
	Events int64
	// From and To are the times of the earliest and the latest event
	// retracted; zero when none was.
	From, To time.Time
}

// Preparer is the optional ability of a Writer to write everything
// pending into its open transaction without committing it, so that the
// transaction can be checked before Commit makes it durable or Close
// rolls it back. After Prepare, MeterTotals answers from the
// transaction's state, and only Commit and Close may follow.
type Preparer interface {
	Prepare(ctx context.Context) error
	MeterTotals(ctx context.Context, q MeterQuery) ([]MeterTotal, error)
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

// KeyStore keeps API key fingerprints and the history of the customers
// that own them. Ownership is recorded, never rewritten: an assignment
// takes effect from its From on, and every question asked as of an
// earlier time sees the owners known then.
type KeyStore interface {
	// ImportKeys assigns keys to customers from each assignment's From
	// on, adding unknown keys, in one transaction. An assignment that
	// changes nothing (the key belongs to the customer from From on
	// already) records nothing, so importing again is harmless. When the
	// same key is listed twice, the last assignment counts.
	ImportKeys(ctx context.Context, keys []KeyAssignment) (KeyImport, error)
	// ListKeys returns every known key once per owner span, and once
	// without a customer for the time no one owned it if it has events
	// then (or if no one ever owned it), ordered by customer, fingerprint
	// and From, unassigned spans last.
	ListKeys(ctx context.Context) ([]Key, error)
	// OwnerSpans returns every key's owner spans as currently known,
	// ordered by key ID and From.
	OwnerSpans(ctx context.Context) ([]OwnerSpan, error)
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

// SQLQuerier runs ad-hoc SQL over a store's tables and views.
type SQLQuerier interface {
	// StreamSQL runs one read query and hands its result to w as it is
	// read, so that memory stays bounded whatever the result's size. A
	// query that is not a single read (one that writes, reads files that
	// are not the store's, attaches, loads, sets, ...) is refused with an
	// EINVALID error before it runs, as is invalid SQL. An error returned
	// by w stops the query and is returned.
	StreamSQL(ctx context.Context, query string, w RowWriter) error
}

// RowWriter receives the result of an ad-hoc query as it streams: Begin
// once with the column names, then Row once per row, in order.
//
// Row's values hold one value per column: nil (NULL), bool, int64,
// uint64, *big.Int, float64, string, []byte, time.Time (in UTC), a
// decimal as a string with its scale ("12.50"), or a json.RawMessage
// (lists, structs, maps and JSON values). The slice is reused for the
// next row; the values in it are the callee's to keep.
type RowWriter interface {
	Begin(columns []string) error
	Row(values []any) error
}

// Table is the result of an ad-hoc query held in memory: named columns
// and rows of values (of the types RowWriter lists). It is a RowWriter,
// for results known to be small; stream the others.
type Table struct {
	Columns []string
	Rows    [][]any
}

// Begin implements RowWriter.
func (t *Table) Begin(columns []string) error {
	t.Columns = columns
	return nil
}

// Row implements RowWriter: it keeps a copy of values.
func (t *Table) Row(values []any) error {
	t.Rows = append(t.Rows, append([]any(nil), values...))
	return nil
}
