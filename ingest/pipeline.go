package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keymeter/keymeter"
)

// The pipeline every source drives. A front-end (Run for objects,
// RunStream for streams) reads its source, cuts it into records and says
// where each one is; the core does the rest, the same way whatever the
// source:
//
//   - a decoder, one per reading goroutine, parses each record, refuses
//     one dated beyond the future horizon, and either encodes its event
//     into a batch (attributing it and hiding its key) or builds its
//     reject (redacted and cut); it hands the writer chunks, a batch
//     and the rejects of the same records;
//   - a batchPool holds the batches between the readers and the writer,
//     bounding the memory in flight;
//   - a sink, owned by the one writer goroutine, writes chunks through
//     the store's Writer, accounts what the writes did in the Summary,
//     says when a commit is due and keeps the Summary as of the last
//     commit.
//
// A front-end adds only what its source needs: objects are recorded in
// the transaction of their last rows, a stream's shards are checkpointed
// in the transaction of their pages' events. A new source (a directory
// follower) is a new front-end over the same decoder, pool and sink.

// maxPendingRejectBytes bounds the reject text held until a commit.
const maxPendingRejectBytes = 32 << 20

// maxChunkRejects bounds the rejects of a chunk.
const maxChunkRejects = 1024

// maxBatchBytes bounds the per-row strings of a batch, so that batches of
// wide records (real-time logs with their headers) hold no more memory
// than batches of narrow ones.
const maxBatchBytes = 2 << 20

// batchFull reports whether a batch should be handed to the writer.
func batchFull(b *keymeter.Batch, rows int) bool {
	return b != nil && (len(b.Rows) >= rows || len(b.Rest) >= maxBatchBytes)
}

// batchPool holds the batches of a run: readers take them to fill, the
// writer puts them back once written. A reader waits when every batch is
// in flight.
type batchPool chan *keymeter.Batch

func newBatchPool(n, rows int) batchPool {
	p := make(batchPool, n)
	for range n {
		p <- &keymeter.Batch{Rows: make([]keymeter.Row, 0, rows)}
	}
	return p
}

// get takes an empty batch for the events of source read from obj.
func (p batchPool) get(source keymeter.Source, obj *keymeter.Object) *keymeter.Batch {
	b := <-p
	b.Source, b.Object = source, obj
	return b
}

// put empties b and returns it to the pool, which has room for every
// batch, so put never waits.
func (p batchPool) put(b *keymeter.Batch) {
	b.Reset()
	p <- b
}

// chunk is what a decoder hands the writer: the events of some records
// in a batch (nil when none was an event) and the rejects of others.
type chunk struct {
	batch   *keymeter.Batch
	rejects []keymeter.Reject
	records int64 // records encoded or rejected (not headers, comments, ...)
}

// decoder turns the records one reading goroutine reads into chunks.
type decoder struct {
	in   *Ingester
	pool batchPool
	keys *keyFinder
	// encs keeps one encoder per source, across the objects a worker
	// reads, so that dictionary entries already sent are not sent again.
	encs map[keymeter.Source]*encoder

	enc    *encoder // the current format's
	parser Parser
	source keymeter.Source
	obj    *keymeter.Object // what the batches are read from
	now    time.Time        // the time of reading, which bounds the time of requests
	limit  int64            // the latest request time accepted, in Unix microseconds

	ev     keymeter.Event
	redact []byte
	chunk  chunk
}

func (in *Ingester) newDecoder(pool batchPool) *decoder {
	return &decoder{
		in:   in,
		pool: pool,
		keys: newKeyFinder(in.cfg.KeyParams, in.cfg.Secret),
		encs: map[keymeter.Source]*encoder{},
	}
}

// use makes the decoder read records of format f with parser p, the
// parser of the object or stream obj.
func (d *decoder) use(f Format, p Parser, obj *keymeter.Object) {
	d.parser, d.source, d.obj = p, f.Source, obj
	if d.enc = d.encs[f.Source]; d.enc == nil {
		d.enc = d.in.newEncoderFor(d.keys, f)
		d.encs[f.Source] = d.enc
	}
}

// readAt says that the records that follow are read at now: requests
// dated more than the future horizon after it are rejected.
func (d *decoder) readAt(now time.Time) {
	d.now, d.limit = now, d.in.futureLimit(now)
}

// decode parses one record and encodes its event into the chunk. It
// returns the error that rejects the record (see reject), and nil when
// the record was encoded or is not an event (a header, a comment).
func (d *decoder) decode(record []byte) error {
	ok, err := d.parser.Parse(record, &d.ev)
	switch {
	case err != nil || !ok:
		return err
	case d.ev.Time > d.limit:
		return d.in.futureError(d.parser, &d.ev, d.now)
	}
	if d.chunk.batch == nil {
		d.chunk.batch = d.pool.get(d.source, d.obj)
	}
	d.enc.encode(&d.ev, record, d.chunk.batch)
	d.chunk.records++
	return nil
}

// reject keeps a record that cannot be ingested, with its place (object
// and line), the reason err gives and the field it names, and its text
// as read, every key in them hidden and the text cut to
// keymeter.MaxRejectText (keymeter.CutText).
func (d *decoder) reject(object string, line int64, record []byte, err error) {
	r := keymeter.Reject{
		Source: d.source, Object: object, Line: line,
		Reason: err.Error(), TextLen: int64(len(record)), At: d.in.cfg.Now().UTC(),
	}
	var pe *keymeter.ParseError
	if errors.As(err, &pe) {
		r.Field, r.Reason = pe.Field, pe.Err.Error()
	}
	if tl := (*lineTooLong)(nil); errors.As(err, &tl) {
		r.TextLen = tl.n
	}
	r.Field, r.Reason = d.enc.redactText(r.Field), d.enc.redactText(r.Reason)
	d.redact = d.enc.redactRecord(d.redact[:0], record)
	r.Text = keymeter.CutText(string(d.redact), keymeter.MaxRejectText)
	d.chunk.rejects = append(d.chunk.rejects, r)
	d.chunk.records++
}

// full reports whether the chunk should go to the writer now.
func (d *decoder) full() bool {
	return batchFull(d.chunk.batch, d.in.cfg.BatchRows) || len(d.chunk.rejects) >= maxChunkRejects
}

// take returns the chunk filled so far and starts another.
func (d *decoder) take() chunk {
	c := d.chunk
	d.chunk = chunk{}
	return c
}

// sink is the writer goroutine's end of the pipeline: it writes chunks
// through the store's Writer, accounts for them in the Summary and
// commits.
type sink struct {
	w          keymeter.Writer
	pool       batchPool
	sum        *Summary
	committed  Summary // *sum as of the last commit
	commitRows int
	progress   func(Summary)
	// changed says to widen Summary.Changed to the events stored
	// (Config.Reprocess).
	changed bool
	// hook runs inside each commit (Config.OnCommit); span is the event
	// time, in Unix microseconds, of the rows written since the last
	// commit, when hook is set.
	hook     CommitHook
	span     [2]int64
	spanRows bool

	pending      int  // rows and rejects written since the last commit
	pendingBytes int  // bytes of their reject text
	dirty        bool // something was written or set since the last commit
}

func (in *Ingester) newSink(w keymeter.Writer, pool batchPool, sum *Summary, commitRows int) *sink {
	return &sink{w: w, pool: pool, sum: sum, committed: *sum, commitRows: commitRows, progress: in.cfg.Progress, hook: in.cfg.OnCommit}
}

// write writes a chunk's events and rejects, read from what (named in
// errors), returns the batch to the pool, and accounts for both in the
// Summary. It returns what the store did with the events.
func (s *sink) write(ctx context.Context, c chunk, what string) (keymeter.WriteResult, error) {
	var res keymeter.WriteResult
	if b := c.batch; b != nil {
		var first, last int64 // the batch's span of event time, for Summary.Changed and the hook
		if (s.changed || s.hook != nil) && len(b.Rows) > 0 {
			first, last = b.Rows[0].Time, b.Rows[0].Time
			for i := range b.Rows {
				first, last = min(first, b.Rows[i].Time), max(last, b.Rows[i].Time)
			}
		}
		var err error
		res, err = s.w.Write(ctx, b)
		rows := len(b.Rows)
		s.pool.put(b)
		if err != nil {
			return res, fmt.Errorf("write %s: %w", what, err)
		}
		if s.changed && res.Stored > 0 {
			s.sum.widen(time.UnixMicro(first).UTC(), time.UnixMicro(last).UTC())
		}
		if s.hook != nil && res.Stored > 0 {
			if !s.spanRows {
				s.span, s.spanRows = [2]int64{first, last}, true
			} else {
				s.span = [2]int64{min(s.span[0], first), max(s.span[1], last)}
			}
		}
		s.sum.add(res)
		s.pending += rows
		s.dirty = true
	}
	if len(c.rejects) > 0 {
		if err := s.w.Reject(ctx, c.rejects); err != nil {
			return res, fmt.Errorf("keep rejects of %s: %w", what, err)
		}
		s.sum.Rejected += int64(len(c.rejects))
		s.pending += len(c.rejects)
		for _, r := range c.rejects {
			s.pendingBytes += len(r.Text)
		}
		s.dirty = true
	}
	s.sum.Lines += c.records
	return res, nil
}

// discard returns the batch of a chunk that is not written to the pool.
func (s *sink) discard(c chunk) {
	if c.batch != nil {
		s.pool.put(c.batch)
	}
}

// due reports whether enough is pending to commit: CommitRows rows and
// rejects, or rejects whose text would hold too much memory.
func (s *sink) due() bool {
	return s.pending >= s.commitRows || s.pendingBytes >= maxPendingRejectBytes
}

// commit commits what was written and remembers the Summary as of it.
func (s *sink) commit(ctx context.Context) error {
	if err := s.inCommit(ctx); err != nil {
		return err
	}
	if err := s.w.Commit(ctx); err != nil {
		return err
	}
	s.spanRows = false
	s.pending, s.pendingBytes, s.dirty = 0, 0, false
	s.committed = *s.sum
	return nil
}

// inCommit runs the commit hook, when there is one and the transaction
// stores or retracts events, inside the prepared transaction. An error
// rolls the transaction back (the writer's Close does).
func (s *sink) inCommit(ctx context.Context) error {
	if s.hook == nil {
		return nil
	}
	var first, last time.Time
	if s.spanRows {
		first, last = time.UnixMicro(s.span[0]).UTC(), time.UnixMicro(s.span[1]).UTC()
	}
	if s.changed && !s.sum.Changed[0].IsZero() {
		if first.IsZero() || s.sum.Changed[0].Before(first) {
			first = s.sum.Changed[0]
		}
		if s.sum.Changed[1].After(last) {
			last = s.sum.Changed[1]
		}
	}
	if first.IsZero() {
		return nil
	}
	p, ok := s.w.(keymeter.Preparer)
	if !ok {
		return keymeter.Errorf(keymeter.EINVALID, "this store cannot run a hook inside its commits")
	}
	if err := p.Prepare(ctx); err != nil {
		return err
	}
	if err := s.hook.InCommit(ctx, p, first, last); err != nil {
		return fmt.Errorf("in the commit: %w", err)
	}
	return nil
}

// restore sets the Summary back to what was committed, when the rest is
// lost.
func (s *sink) restore() {
	*s.sum = s.committed
}

// closeWriter closes a run's writer, which rolls back what was not
// committed, and adds the error it returns to the run's, err.
func closeWriter(w keymeter.Writer, err error) error {
	if cerr := w.Close(); cerr != nil {
		return errors.Join(err, fmt.Errorf("close the store's writer: %w", cerr))
	}
	return err
}

// report calls Config.Progress with the running totals.
func (s *sink) report() {
	if s.progress != nil {
		s.progress(*s.sum)
	}
}
