package dashboard

import (
	"math/big"
	"net/http"
	"time"

	"github.com/keymeter/keymeter"
)

// IngestionPage shows each configured source: where reading stands, how
// far behind it is, how fast it goes and what went wrong. Admin only.
type IngestionPage struct {
	Frame
	Sources []SourceStatus
}

// Source states.
const (
	SourceRunning  = "running"  // reading, or waiting for new data
	SourceFailing  = "failing"  // the last attempt failed; retrying
	SourceStopped  = "stopped"  // not reading (draining, or shut down)
	SourceStarting = "starting" // not read yet
)

// SourceStatus is one source's state, as keymeter serve tracks it.
type SourceStatus struct {
	// Name is the source as configured: s3://bucket/prefix,
	// kinesis://stream, a directory.
	Name string
	// Format is the log format read ("cloudfront", ...); "" when each
	// object's is detected.
	Format string
	// State is one of SourceRunning, SourceFailing, SourceStopped,
	// SourceStarting.
	State string
	// Positions say where reading stands: the last object listed (S3, a
	// directory), or one per shard (Kinesis).
	Positions []Position
	// Lag is how far reading is behind the newest data the source has
	// (Kinesis: behind the shard's tip; S3 and directories: the age of the
	// oldest object not yet read; 0 when caught up).
	Lag time.Duration
	// NewestEvent is the time of the newest request committed from the
	// source, LastCommit when the last commit was.
	NewestEvent time.Time
	LastCommit  time.Time
	// Lines read, Events stored, Duplicates skipped and Rejects kept,
	// since the server started.
	Lines, Events, Duplicates, Rejects int64
	// LineRate and EventRate are the recent rates: so many in a window.
	LineRate, EventRate Rate
	// LastError is the last error reading the source, at LastErrorAt; ""
	// when there was none since the server started.
	LastError   string
	LastErrorAt time.Time
}

// Position is where reading one part of a source stands.
type Position struct {
	// Part names the part: a Kinesis shard ID; "" for a source read as
	// one (S3, a directory).
	Part string
	// At is the position: the last object read, a sequence number.
	At string
	// Lag is the part's own lag, when it has one.
	Lag time.Duration
}

// Rate is Count things over Window, exactly: shown per second.
type Rate struct {
	Count  int64
	Window time.Duration
}

// PerSecond returns the rate per second, rounded half up to one decimal
// ("1234.5"), computed exactly; "" for an empty window.
func (r Rate) PerSecond() string {
	if r.Window <= 0 {
		return ""
	}
	num := new(big.Int).Mul(big.NewInt(r.Count), big.NewInt(10*int64(time.Second)))
	return decimalString(roundDiv(num, big.NewInt(int64(r.Window))), 1)
}

func (p *IngestionPage) spec() pageSpec {
	return pageSpec{template: "ingestion", title: "Ingestion", status: http.StatusOK, frame: p.Frame, nav: "ingestion", admin: true, data: p}
}

// RejectsPage lists rejected records, newest first. Admin only.
type RejectsPage struct {
	Frame
	// Rejects are the records listed; their text has API keys replaced
	// by fingerprints already (ingest does it before anything is kept).
	Rejects []keymeter.Reject
	// Total counts every reject kept, which may be more than listed.
	Total int64
	// Object filters the list to one object's rejects when set.
	Object string
	// Next is the URL of the next page of the list, when there is one.
	Next string
}

func (p *RejectsPage) spec() pageSpec {
	return pageSpec{template: "rejects", title: "Rejects", status: http.StatusOK, frame: p.Frame, nav: "rejects", admin: true, data: p}
}
