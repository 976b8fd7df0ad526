package ingest

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/keymeter/keymeter"
)

// The object front-end of the pipeline (see pipeline.go): workers read
// objects in parallel, one goroutine per object, each with its own
// decoder, and one writer goroutine writes their chunks and records each
// object in the transaction of its last rows.

// message is what workers send the writer goroutine: a chunk of an
// object's records, or what became of an object.
type message struct {
	chunk
	object *keymeter.Object       // the object read
	finish *keymeter.ObjectRecord // set on an object's last message
	skip   *Skipped
	fail   *Failed
}

// Run ingests the inputs and returns what it did. Objects that cannot be
// read are reported in the summary and do not stop the run; Run returns
// an error only when the store fails or ctx is cancelled, with the summary
// of what was committed before.
//
// With Config.Reprocess, the run is one transaction that replaces what
// earlier reads of its inputs stored (keymeter.Rereader), all or
// nothing: an input that cannot be read completely, or of which every
// record is rejected, stops it with an EPARTIAL error and nothing is
// replaced, and so does an error of Config.Check.
func (in *Ingester) Run(ctx context.Context, inputs []Input) (_ *Summary, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	w, err := in.store.NewWriter(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { err = closeWriter(w, err) }()
	if _, ok := w.(keymeter.Rereader); in.cfg.Reprocess && !ok {
		return nil, keymeter.Errorf(keymeter.EINVALID, "this store cannot reprocess inputs")
	}

	sum := &Summary{Objects: len(inputs)}
	msgs := make(chan message, 2*in.cfg.Workers)
	pool := newBatchPool(3*in.cfg.Workers+2, in.cfg.BatchRows)
	s := in.newSink(w, pool, sum, in.cfg.CommitRows)
	s.changed = in.cfg.Reprocess

	jobs := make(chan Input)
	var wg sync.WaitGroup
	for range min(in.cfg.Workers, max(len(inputs), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wk := &worker{in: in, msgs: msgs, dec: in.newDecoder(pool)}
			for inp := range jobs {
				if err := wk.object(ctx, inp); err != nil {
					cancel(err)
					return
				}
			}
		}()
	}
	go func() {
		defer close(jobs)
		for _, inp := range inputs {
			select {
			case jobs <- inp:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		wg.Wait()
		close(msgs)
	}()

	werr := in.write(ctx, s, msgs)
	if werr != nil {
		cancel(werr)
		for m := range msgs { // let the workers finish
			s.discard(m.chunk)
		}
		return sum, werr
	}
	if err := context.Cause(ctx); err != nil && ctx.Err() != nil {
		return sum, err
	}
	return sum, nil
}

// write is the writer goroutine's loop: it writes what workers send,
// records each object with its last rows, and commits every CommitRows
// rows and at the end.
func (in *Ingester) write(ctx context.Context, s *sink, msgs <-chan message) error {
	type tally struct{ events, dups, rejected int64 }
	perObject := map[string]*tally{}
	sum := s.sum
	rereader, _ := s.w.(keymeter.Rereader)
	reprocess := in.cfg.Reprocess
	var stop error                   // why a reprocessing run stops
	uncommitted := map[string]bool{} // objects with something written since the last commit, for errors
	var firstUncommitted []string    // the first three of them
	commitError := func(err error) error {
		return fmt.Errorf("commit what was read of %s: %w", namesOf(firstUncommitted, len(uncommitted)), err)
	}
	commit := func() error {
		if err := s.commit(ctx); err != nil {
			return commitError(err)
		}
		clear(uncommitted)
		firstUncommitted = firstUncommitted[:0]
		return nil
	}
	for m := range msgs {
		if ctx.Err() != nil || stop != nil {
			s.discard(m.chunk)
			continue
		}
		switch {
		case m.skip != nil:
			sum.Skipped = append(sum.Skipped, *m.skip)
			continue
		case m.fail != nil && m.finish == nil:
			sum.Failed = append(sum.Failed, *m.fail)
			if reprocess {
				stop = keymeter.Errorf(keymeter.EPARTIAL, "%s: %s", m.fail.URI, m.fail.Reason)
			}
			continue
		}
		uri := ""
		if m.object != nil {
			uri = m.object.URI
		}
		t := perObject[uri]
		if t == nil {
			// The object's first message: what earlier reads of it left
			// goes in the transaction that writes it (keymeter.Rereader:
			// its rejects, and with Reprocess its events).
			t = &tally{}
			perObject[uri] = t
			if rereader != nil && m.object != nil {
				ret, err := rereader.Reread(ctx, *m.object, reprocess)
				if err != nil {
					s.discard(m.chunk)
					return fmt.Errorf("read %s again: %w", uri, err)
				}
				sum.Retracted += ret.Events
				sum.widen(ret.From, ret.To)
			}
		}
		if !uncommitted[uri] {
			uncommitted[uri] = true
			if len(firstUncommitted) < 3 {
				firstUncommitted = append(firstUncommitted, uri)
			}
		}
		res, err := s.write(ctx, m.chunk, uri)
		if err != nil {
			return err
		}
		t.events += int64(res.Stored)
		t.dups += int64(res.Duplicates)
		t.rejected += int64(len(m.rejects))
		if m.finish != nil {
			rec := *m.finish
			rec.Events, rec.Duplicates, rec.Rejected = t.events, t.dups, t.rejected
			delete(perObject, uri)
			// An object none of whose records was stored, every one
			// rejected, is not recorded as ingested: it was most likely
			// read with the wrong flags, and the next run reads it again.
			// One whose records were all stored before is recorded.
			nothing := rec.Events == 0 && rec.Duplicates == 0 && rec.Rejected > 0
			switch {
			case nothing && reprocess:
				stop = keymeter.Errorf(keymeter.EPARTIAL, "%s: every one of its %d records was rejected (see keymeter rejects)", uri, rec.Rejected)
			case nothing:
				sum.NotRecorded = append(sum.NotRecorded, uri)
			default:
				if err := s.w.FinishObject(ctx, rec); err != nil {
					return fmt.Errorf("record %s: %w", uri, err)
				}
			}
			sum.Read++
			if m.fail != nil {
				sum.Failed = append(sum.Failed, *m.fail)
				if reprocess && stop == nil {
					stop = keymeter.Errorf(keymeter.EPARTIAL, "%s could not be read completely: %s", uri, m.fail.Reason)
				}
			}
		}
		// Rejects are held in memory until the commit: commit early when a
		// file full of bad lines would make them large. A reprocessing
		// run commits once, at the end.
		if !reprocess && s.due() {
			if err := commit(); err != nil {
				return err
			}
		}
		s.report()
	}
	if err := ctx.Err(); err != nil {
		s.restore()
		return context.Cause(ctx)
	}
	// A reprocessing run that stops stores nothing: its counts are 0.
	rollback := func(err error) error {
		failed := sum.Failed
		s.restore()
		sum.Failed = failed
		return err
	}
	if stop != nil {
		return rollback(fmt.Errorf("%w; nothing was replaced", stop))
	}
	if reprocess && in.cfg.Check != nil {
		p, ok := s.w.(keymeter.Preparer)
		if !ok {
			return keymeter.Errorf(keymeter.EINVALID, "this store cannot check a run before it commits")
		}
		if err := p.Prepare(ctx); err != nil {
			return rollback(commitError(err))
		}
		if err := in.cfg.Check(ctx, p, sum); err != nil {
			return rollback(err)
		}
	}
	if err := commit(); err != nil {
		s.restore()
		return err
	}
	return nil
}

// namesOf names the n objects of a failed commit by the first of them.
func namesOf(first []string, n int) string {
	switch {
	case n == 0:
		return "no object"
	case n > len(first):
		return strings.Join(first, ", ") + fmt.Sprintf(" and %d more objects", n-len(first))
	}
	return strings.Join(first, ", ")
}

// worker reads objects, one at a time.
type worker struct {
	in   *Ingester
	msgs chan<- message
	dec  *decoder
}

func (wk *worker) send(ctx context.Context, m message) error {
	select {
	case wk.msgs <- m:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// object ingests one input. It returns an error only when the run must
// stop; problems with the object itself are sent to the writer.
func (wk *worker) object(ctx context.Context, inp Input) error {
	obj := inp.Object
	uri := obj.URI
	if skip := wk.in.format.Skip; skip != nil {
		if reason := skip(uri); reason != "" {
			return wk.send(ctx, message{skip: &Skipped{URI: uri, Reason: reason}})
		}
	}
	reprocess := wk.in.cfg.Reprocess // read it whether or not it was ingested
	if prev, err := wk.in.store.FindObject(ctx, obj); err != nil {
		return fmt.Errorf("look up %s: %w", uri, err)
	} else if prev != nil && !reprocess {
		return wk.send(ctx, message{skip: &Skipped{URI: uri, Reason: skipReason(obj, prev)}})
	}
	if obj.Digest == "" && obj.ETag == "" {
		digest, err := digestOf(ctx, inp)
		if err != nil {
			return wk.send(ctx, message{fail: &Failed{URI: uri, Reason: "unreadable: " + readError(err)}})
		}
		obj.Digest = digest
		if prev, err := wk.in.store.FindObject(ctx, obj); err != nil {
			return fmt.Errorf("look up %s: %w", uri, err)
		} else if prev != nil && !reprocess {
			return wk.send(ctx, message{skip: &Skipped{URI: uri, Reason: skipReason(obj, prev)}})
		}
		if other := wk.in.claim(digest, uri); other != "" {
			return wk.send(ctx, message{skip: &Skipped{URI: uri, Reason: "same content as " + other + ", read in this run"}})
		}
	}
	rc, err := inp.Open(ctx)
	if err != nil {
		return wk.send(ctx, message{fail: &Failed{URI: uri, Reason: "unreadable: " + readError(err)}})
	}
	defer rc.Close()
	return wk.read(ctx, &obj, rc)
}

func skipReason(obj keymeter.Object, prev *keymeter.ObjectRecord) string {
	reason := "already ingested"
	if prev.URI != obj.URI {
		reason = "same content as " + prev.URI + ", already ingested"
	}
	if prev.Status == keymeter.ObjectPartial {
		reason += " (partly: " + prev.Error + ")"
	}
	return reason
}

// read parses an object's records and sends them on in chunks.
func (wk *worker) read(ctx context.Context, obj *keymeter.Object, rc io.Reader) error {
	rec := &keymeter.ObjectRecord{Object: *obj, Status: keymeter.ObjectComplete}
	// Decompress, and recognise the format from a prefix of the content,
	// peeked through the buffer the records are then read from.
	br := bufio.NewReaderSize(rc, 64<<10)
	src, derr := decompress(br)
	var content *bufio.Reader
	f := wk.in.format
	if derr == nil {
		content = bufio.NewReaderSize(&stickyReader{r: src}, 256<<10)
		prefix, _ := content.Peek(sniffLen) // a read error comes back while reading
		var why string
		if f, why = wk.in.choose(sniff(prefix, wk.in.rtFields)); why != "" {
			return wk.send(ctx, message{fail: &Failed{URI: obj.URI, Reason: why}})
		}
	} else if f.NewParser == nil {
		f = formats["cloudfront"]
	}
	parser, err := f.NewParser(&wk.in.cfg)
	if err != nil {
		return err
	}
	d := wk.dec
	d.use(f, parser, obj)
	d.readAt(wk.in.cfg.Now())
	flush := func(final bool) error {
		m := message{chunk: d.take(), object: obj}
		rec.Lines += m.records
		if final {
			m.finish = rec
			if rec.Status != keymeter.ObjectComplete {
				m.fail = &Failed{URI: obj.URI, Reason: rec.Error}
			}
		}
		return wk.send(ctx, m)
	}

	if derr != nil {
		rec.Status, rec.Error = keymeter.ObjectPartial, "unreadable: "+readError(derr)
		return flush(true)
	}
	var records RecordReader = lineRecords{newLineReaderFrom(content)}
	if f.NewRecords != nil {
		records = f.NewRecords(content)
	}
	var lineNo int64
	for {
		line, err := records.Next()
		if err == io.EOF {
			break
		}
		lineNo++
		var pe *keymeter.ParseError
		if errors.Is(err, errLineTooLong) || errors.As(err, &pe) {
			d.reject(obj.URI, lineNo, line, err)
			continue
		}
		if err != nil {
			if len(line) > 0 {
				d.reject(obj.URI, lineNo, line, errors.New("record cut short: the object could not be read past it"))
			}
			rec.Status, rec.Error = keymeter.ObjectPartial, readError(err)
			break
		}
		if err := d.decode(line); err != nil {
			d.reject(obj.URI, lineNo, line, err)
		}
		if d.full() {
			if err := flush(false); err != nil {
				return err
			}
		}
	}
	return flush(true)
}

// stickyReader returns the first error of r again on every later read,
// so that an error a peek consumed comes back to the reader of the
// records.
type stickyReader struct {
	r   io.Reader
	err error
}

func (s *stickyReader) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.r.Read(p)
	s.err = err
	return n, err
}

// digestOf returns "sha256:<hex>" of an input's bytes.
func digestOf(ctx context.Context, inp Input) (string, error) {
	rc, err := inp.Open(ctx)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
