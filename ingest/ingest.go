// Package ingest turns log objects into stored events, exactly once. It is
// the one place that knows formats, sources and the store: it reads each
// object from its source, parses it with its format, attributes every
// request to an API key, hides the key, batches the rows and writes them
// through a keymeter.Writer, which skips rows already stored.
//
// Objects and streams go through one pipeline (pipeline.go): a
// front-end per kind of source cuts it into records and places them, and
// the same decoders parse, attribute, hide keys and build rejects, and
// the same writer goroutine, the only owner of the store's Writer,
// writes, accounts and commits. Objects (Run) are read in parallel, one
// goroutine per object, and each is recorded as ingested in the same
// transaction as its last rows, so that after a crash it is read again
// and the rows it already stored are skipped as duplicates. Streams
// (RunStream) are read from per-shard checkpoints that commit in the same
// transaction as the events of the records up to them.
package ingest

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/format/cloudfrontrt"
)

// Input is one object to ingest, with a way to read it.
type Input struct {
	Object keymeter.Object
	// Open returns the object's bytes as stored (possibly compressed).
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// Ingester runs ingest jobs against a store.
type Ingester struct {
	store  keymeter.Store
	cfg    Config
	format Format // the format asked for; without NewParser when detecting
	// rtFields is the number of configured real-time log fields, which
	// real-time records must have to be detected as such.
	rtFields int

	mu      sync.Mutex
	claimed map[string]string // digest to URI of the objects read in this run

	streamCommitRows int
	idSeed           uint64 // keys the IDs of records without a request ID
}

// claim records that this run reads the object with the given digest,
// and returns the URI of another object with the same content that it
// already reads, if any.
func (in *Ingester) claim(digest, uri string) string {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.claimed == nil {
		in.claimed = map[string]string{}
	}
	if other, ok := in.claimed[digest]; ok {
		return other
	}
	in.claimed[digest] = uri
	return ""
}

// New returns an Ingester writing to store. It refuses a configuration
// with problems (Config.Validate), reporting all of them, and one
// without a Secret.
func New(store keymeter.Store, cfg Config) (*Ingester, error) {
	if len(cfg.Secret) == 0 {
		return nil, errors.New("ingest: no fingerprint secret")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	streamCommitRows := cfg.CommitRows
	if streamCommitRows <= 0 {
		streamCommitRows = 100_000
	}
	cfg.setDefaults()
	f, err := lookupFormat(cfg.Format)
	if err != nil {
		return nil, err
	}
	in := &Ingester{store: store, cfg: cfg, format: f, streamCommitRows: streamCommitRows, idSeed: recordIDSeed(cfg.Secret)}
	if rt, err := cloudfrontrt.NewParser(cfg.RealtimeFields); err == nil {
		in.rtFields = len(rt.Fields())
	}
	return in, nil
}
