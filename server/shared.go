package server

import (
	"context"
	"sync"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/service"
)

// Shared makes one open store the store of every operation of the
// process: an Opener that hands out the same Stores without closing them.
//
// DuckDB lets one process read and write a database concurrently, but
// two writers of the same tables conflict, and the store allows one
// Writer at a time: operations that write (Write access) therefore hold
// the write lock from Open until their Close, one at a time, in the order
// they asked; reads (Read and Query) run beside them and beside each
// other. Ad-hoc SQL (Query) runs with QueryTimeout, after which DuckDB
// interrupts it, so a slow query cannot hold the database.
type Shared struct {
	stores *service.Stores
	lock   chan struct{} // the write lock: a token in the channel is free

	// QueryTimeout bounds every ad-hoc SQL query; 0: no bound.
	QueryTimeout time.Duration
	// OnCommit, when set, is called after each commit of an ingest writer
	// with how long the commit took.
	OnCommit func(time.Duration)

	mu        sync.Mutex
	lastWrite time.Time // when the write lock was last released
	writing   bool
}

// NewShared returns the shared opener of st, which stays open until the
// caller closes it (st.Close is never called by Shared).
func NewShared(st *service.Stores) *Shared {
	s := &Shared{stores: st, lock: make(chan struct{}, 1), lastWrite: time.Now()}
	s.lock <- struct{}{}
	return s
}

// Open implements service.Opener.
func (s *Shared) Open(ctx context.Context, access service.Access) (*service.Stores, error) {
	st := *s.stores
	st.Close = nil
	switch access {
	case service.Write:
		if err := s.acquire(ctx); err != nil {
			return nil, err
		}
		var once sync.Once
		st.Close = func() error {
			once.Do(s.release)
			return nil
		}
		if st.Ingest != nil {
			st.Ingest = s.observed(st.Ingest)
		}
	case service.Query:
		if st.SQL != nil && s.QueryTimeout > 0 {
			st.SQL = timedSQL{st.SQL, s.QueryTimeout}
		}
	}
	return &st, nil
}

// Lock takes the write lock for fn (a CHECKPOINT, a maintenance task).
func (s *Shared) Lock(ctx context.Context, fn func() error) error {
	if err := s.acquire(ctx); err != nil {
		return err
	}
	defer s.release()
	return fn()
}

// IdleSince returns when the last writer released the store, and false
// while one holds it.
func (s *Shared) IdleSince() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastWrite, !s.writing
}

func (s *Shared) acquire(ctx context.Context) error {
	select {
	case <-s.lock:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.mu.Lock()
	s.writing = true
	s.mu.Unlock()
	return nil
}

func (s *Shared) release() {
	s.mu.Lock()
	s.writing = false
	s.lastWrite = time.Now()
	s.mu.Unlock()
	s.lock <- struct{}{}
}

// observed wraps an ingest store so that its writers' commits are timed.
func (s *Shared) observed(st keymeter.Store) keymeter.Store {
	if s.OnCommit == nil {
		return st
	}
	cr, ok := st.(keymeter.CheckpointReader)
	if !ok {
		return st
	}
	return observedStore{Store: st, CheckpointReader: cr, onCommit: s.OnCommit}
}

// observedStore is an ingest store whose writers report their commits.
type observedStore struct {
	keymeter.Store
	keymeter.CheckpointReader
	onCommit func(time.Duration)
}

// fullWriter is every ability of the DuckDB store's writer that ingest
// looks for.
type fullWriter interface {
	keymeter.Writer
	keymeter.Rereader
	keymeter.Preparer
	keymeter.Checkpointer
}

func (o observedStore) NewWriter(ctx context.Context) (keymeter.Writer, error) {
	w, err := o.Store.NewWriter(ctx)
	if err != nil {
		return nil, err
	}
	fw, ok := w.(fullWriter)
	if !ok {
		return w, nil
	}
	return &observedWriter{fullWriter: fw, onCommit: o.onCommit}, nil
}

// observedWriter times each Commit.
type observedWriter struct {
	fullWriter
	onCommit func(time.Duration)
}

func (w *observedWriter) Commit(ctx context.Context) error {
	start := time.Now()
	err := w.fullWriter.Commit(ctx)
	if err == nil {
		w.onCommit(time.Since(start))
	}
	return err
}

// timedSQL runs each query with a deadline.
type timedSQL struct {
	keymeter.SQLQuerier
	timeout time.Duration
}

func (q timedSQL) StreamSQL(ctx context.Context, query string, w keymeter.RowWriter) error {
	ctx, cancel := context.WithTimeoutCause(ctx, q.timeout, errQueryTimeout{q.timeout})
	defer cancel()
	err := q.SQLQuerier.StreamSQL(ctx, query, w)
	if err != nil && context.Cause(ctx) != nil && ctx.Err() != nil {
		if cause, ok := context.Cause(ctx).(errQueryTimeout); ok {
			return keymeter.Errorf(keymeter.EINVALID, "%s", cause.Error())
		}
	}
	return err
}

// errQueryTimeout is the cause of a query's deadline.
type errQueryTimeout struct{ d time.Duration }

func (e errQueryTimeout) Error() string {
	return "the query ran longer than the server's query timeout (" + e.d.String() + ") and was interrupted; narrow it, or raise serve.query_timeout"
}
