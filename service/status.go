package service

import "time"

// SourceStatus is what a running server knows of one of its sources: an
// S3 prefix it polls, a Kinesis stream it follows or a local directory it
// watches. keymeter serve fills it; the HTTP API and the dashboard show it.
type SourceStatus struct {
	// Name is the source as configured: s3://bucket/prefix/,
	// kinesis://stream, or a directory's path.
	Name string `json:"name"`
	// Kind is "s3", "kinesis" or "dir".
	Kind string `json:"kind"`
	// Position says where reading stands, in the source's own terms: the
	// last object read, or each shard's sequence number.
	Position string `json:"position,omitempty"`
	// Lag is how far behind the newest data reading is: for Kinesis the
	// largest MillisBehindLatest of its shards, for S3 and directories the
	// age of the oldest object not yet read (0: caught up).
	Lag time.Duration `json:"lag_ns"`
	// Totals since the server started.
	Lines      int64 `json:"lines"`
	Events     int64 `json:"events"`
	Duplicates int64 `json:"duplicates"`
	Rejects    int64 `json:"rejects"`
	// LinesPerSecond is the recent reading rate (over the last minute).
	LinesPerSecond int64 `json:"lines_per_second"`
	// LastCommit is when the source's data last committed (zero: never).
	LastCommit time.Time `json:"last_commit,omitzero"`
	// LastError is the last error reading the source, and when; empty when
	// the last attempt succeeded.
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
}
