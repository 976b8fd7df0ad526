package keymeter

import "time"

// Object is one input file or stored object (a local file, an S3 object).
// Stores remember the objects they have ingested so that the same object
// is read only once, whatever its name.
type Object struct {
	URI     string    // file path or s3://bucket/key
	Size    int64     // bytes as stored (compressed)
	ModTime time.Time // last modification, zero when unknown
	// Digest is "sha256:" and the hex SHA-256 of the stored bytes; "" when
	// not computed (S3 objects are identified by ETag instead).
	Digest string
	ETag   string // S3 ETag; "" for files
}

// Object status values.
const (
	ObjectComplete = "complete" // every record was read
	ObjectPartial  = "partial"  // reading stopped early; Error says why
)

// ObjectRecord is what a store remembers about an ingested object.
type ObjectRecord struct {
	Object
	Status     string // ObjectComplete or ObjectPartial
	Error      string // why reading stopped, for partial objects
	IngestedAt time.Time
	Lines      int64 // records read (header lines excluded)
	Events     int64 // events stored
	Duplicates int64 // events skipped because they were stored before
	Rejected   int64 // records rejected
}

// Reject is a record that could not be ingested, kept for inspection.
type Reject struct {
	Source Source
	Object string // URI of the object it came from
	Line   int64  // 1-based line or record number
	Field  string // offending field, "" when not field-specific
	Reason string
	// Text is the record as read, with API keys redacted, made valid
	// UTF-8 (see ValidUTF8) and cut to MaxRejectText bytes.
	Text string
	// TextLen is the length of the record as read, in bytes: more than
	// len(Text) when Text was cut. 0 when unknown.
	TextLen int64
	At      time.Time // when it was rejected
}

// The most bytes of a rejected record, of the name of its offending
// field and of the reason that are kept; stores cut longer ones (at a
// character boundary, see CutText).
const (
	MaxRejectText   = 16 << 10
	MaxRejectField  = 256
	MaxRejectReason = 1 << 10
)

// RejectFilter selects rejects to list.
type RejectFilter struct {
	Object string // only from this object URI, when set
	Limit  int    // at most this many, newest first; 0 means no limit
}
