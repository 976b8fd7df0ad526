package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/source/kinesis"
)

// Stream is a stream of records read from per-shard checkpoints: a
// Kinesis data stream, as *kinesis.Stream reads it. It is defined here,
// where it is used, so that tests can stand in for Kinesis.
type Stream interface {
	// Name names the stream; its checkpoints are stored under this name.
	Name() string
	// ReadAll reads every shard from its checkpoint (the sequence number
	// of the last record stored; from the oldest record kept for a shard
	// without one), calling fn with each page of records, never
	// concurrently, and returns when caught up, or when ctx is done when
	// it follows the stream. See kinesis.Stream.ReadAll.
	ReadAll(ctx context.Context, checkpoints map[string]string, fn kinesis.ShardFunc) error
}

// The stream front-end of the pipeline (see pipeline.go): one reader,
// called by the Stream with each page of records, decodes them, and one
// writer goroutine writes the chunks and sets each shard's checkpoint in
// the transaction of its page's events.

// streamMsg is what the stream reader sends the writer goroutine: a
// chunk of a page, and with the page's last chunk the shard's checkpoint
// after it.
type streamMsg struct {
	chunk
	shard string
	seq   string // checkpoint of shard after this message; "" for none
	lag   int64  // the shard's MillisBehindLatest; -1 when not a page's end
}

// RunStream ingests a stream from its stored checkpoints. Each page of
// records is parsed, attributed and encoded, and the shard's checkpoint
// after the page is committed in the same transaction as the page's
// events, so that a crash or kill at any point neither loses a record
// nor counts one twice: records read but not committed are read again on
// the next run, and those already stored are skipped as duplicates.
//
// The writer commits every CommitRows rows (default 100 000) and at
// least every CommitInterval (default 1 s) while records arrive, so that
// a follower's events become visible promptly.
//
// RunStream returns when the stream's ReadAll does. When it stops because
// ctx is done (the way to stop a follower), everything read is committed
// first, and RunStream returns the summary with ctx's error. The store
// must keep checkpoints (keymeter.CheckpointReader, and a Writer that is
// a keymeter.Checkpointer); otherwise RunStream returns an EINVALID
// error.
func (in *Ingester) RunStream(ctx context.Context, s Stream) (_ *Summary, err error) {
	reader, ok := in.store.(keymeter.CheckpointReader)
	if !ok {
		return nil, keymeter.Errorf(keymeter.EINVALID, "this store cannot keep stream checkpoints")
	}
	checkpoints, err := reader.Checkpoints(ctx, s.Name())
	if err != nil {
		return nil, err
	}
	// The writer outlives ctx: what was read before ctx ended is committed.
	wctx := context.WithoutCancel(ctx)
	w, err := in.store.NewWriter(wctx)
	if err != nil {
		return nil, err
	}
	defer func() { err = closeWriter(w, err) }()
	cw, ok := w.(keymeter.Checkpointer)
	if !ok {
		return nil, keymeter.Errorf(keymeter.EINVALID, "this store cannot keep stream checkpoints")
	}
	f := in.format
	if f.NewParser == nil {
		f = formats["cloudfront-realtime"] // what CloudFront writes to Kinesis
	}
	parser, err := f.NewParser(&in.cfg)
	if err != nil {
		return nil, err
	}

	msgs := make(chan streamMsg, 4)
	pool := newBatchPool(6, in.cfg.BatchRows)
	readCtx, stopReading := context.WithCancelCause(ctx)
	defer stopReading(nil)
	sum := &Summary{}
	done := make(chan error, 1)
	go func() {
		done <- in.writeStream(wctx, in.newSink(w, pool, sum, in.streamCommitRows), cw, s.Name(), msgs, stopReading)
	}()
	r := &streamReader{ctx: readCtx, in: in, format: f, stream: s.Name(), dec: in.newDecoder(pool), msgs: msgs}
	r.dec.use(f, parser, &keymeter.Object{URI: "kinesis://" + s.Name()})
	rerr := s.ReadAll(readCtx, checkpoints, r.page)
	close(msgs)
	if werr := <-done; werr != nil {
		return sum, werr
	}
	if rerr != nil {
		if ctx.Err() != nil {
			return sum, context.Cause(ctx)
		}
		return sum, rerr
	}
	return sum, nil
}

// isGzip reports whether b starts with the gzip magic number.
func isGzip(b []byte) bool {
	return len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b
}

// streamReader decodes pages of records; ReadAll calls page from one
// goroutine at a time.
type streamReader struct {
	ctx     context.Context // done when reading must stop
	in      *Ingester
	format  Format
	stream  string
	dec     *decoder
	msgs    chan<- streamMsg
	records RecordReader // reused for every Kinesis record, when the format has one
}

// page handles one page of a shard's records: a kinesis.ShardFunc.
func (r *streamReader) page(shard string, recs []kinesis.Record, lastSeq string, millisBehind int64) error {
	if len(recs) == 0 { // a lag report
		return r.send(streamMsg{shard: shard, lag: millisBehind})
	}
	d := r.dec
	d.readAt(r.in.cfg.Now())
	handle := func(rec *kinesis.Record, line []byte, err error) error {
		if err == nil {
			err = d.decode(line)
		}
		if err != nil {
			// A record is placed by shard and sequence number: Object
			// is kinesis://STREAM/SHARD#SEQUENCE and Line is 1.
			d.reject("kinesis://"+r.stream+"/"+shard+"#"+rec.SequenceNumber, 1, bytes.TrimRight(line, "\r\n"), err)
		}
		if d.full() {
			return r.send(streamMsg{chunk: d.take(), lag: -1})
		}
		return nil
	}
	for i := range recs {
		if err := r.eachRecord(&recs[i], handle); err != nil {
			return err
		}
	}
	return r.send(streamMsg{chunk: d.take(), shard: shard, seq: lastSeq, lag: millisBehind})
}

// eachRecord calls fn with each log record in a Kinesis record: its lines
// (a CloudFront real-time record is one line, ended by a newline), or
// what the format's record reader finds in it (a CloudWatch Logs
// subscription payload holds many log events). A record reader's error
// rejects what it could not read, and reading goes on with the next
// Kinesis record: one bad record never stops a stream.
func (r *streamReader) eachRecord(rec *kinesis.Record, fn func(*kinesis.Record, []byte, error) error) error {
	newRecords := r.format.NewRecords
	if newRecords == nil && r.format.Source == keymeter.SourceAPIGateway && isGzip(rec.Data) {
		// API Gateway's lines reach Kinesis only through a CloudWatch
		// Logs subscription: one gzip payload per record.
		newRecords = newCloudWatchRecords
	}
	if newRecords == nil {
		for data := rec.Data; len(data) > 0; {
			line := data
			if i := bytes.IndexByte(data, '\n'); i >= 0 {
				line, data = data[:i+1], data[i+1:]
			} else {
				data = nil
			}
			if err := fn(rec, line, nil); err != nil {
				return err
			}
		}
		return nil
	}
	if r.records == nil {
		r.records = newRecords(bytes.NewReader(rec.Data))
	} else if rs, ok := r.records.(interface{ Reset(io.Reader) }); ok {
		rs.Reset(bytes.NewReader(rec.Data))
	} else {
		r.records = newRecords(bytes.NewReader(rec.Data))
	}
	for {
		line, err := r.records.Next()
		if err == io.EOF {
			return nil
		}
		var pe *keymeter.ParseError
		if err != nil && !errors.As(err, &pe) {
			return fn(rec, line, fmt.Errorf("unreadable record: %w", err))
		}
		if err := fn(rec, line, err); err != nil {
			return err
		}
	}
}

func (r *streamReader) send(m streamMsg) error {
	select {
	case r.msgs <- m:
		return nil
	default:
	}
	// The writer is busy; wait for it, unless reading must stop. (The
	// records not sent are read again by the next run: their checkpoint
	// was not committed.)
	select {
	case r.msgs <- m:
		return nil
	case <-r.ctx.Done():
		return context.Cause(r.ctx)
	}
}

// writeStream is the writer goroutine of RunStream: it writes what the
// reader sends, sets each shard's checkpoint as its page is written, and
// commits every streamCommitRows rows, every CommitInterval while
// anything is pending, and at the end. On failure it stops the reader
// and drains its messages.
func (in *Ingester) writeStream(ctx context.Context, s *sink, cw keymeter.Checkpointer, stream string,
	msgs <-chan streamMsg, stop context.CancelCauseFunc) error {
	fail := func(err error) error {
		stop(err)
		for m := range msgs {
			s.discard(m.chunk)
		}
		return err
	}
	ticker := time.NewTicker(in.cfg.CommitInterval)
	defer ticker.Stop()
	lags := map[string]int64{}
	commit := func() error {
		if !s.dirty {
			return nil
		}
		if err := s.commit(ctx); err != nil {
			s.restore()
			return fmt.Errorf("commit the records read from kinesis://%s: %w", stream, err)
		}
		return nil
	}
	for {
		select {
		case <-ticker.C:
			if err := commit(); err != nil {
				return fail(err)
			}
			s.report()
		case m, ok := <-msgs:
			if !ok {
				return commit()
			}
			if err := writeStreamMsg(ctx, s, cw, stream, m); err != nil {
				s.restore()
				return fail(err)
			}
			if m.lag >= 0 && m.shard != "" {
				lags[m.shard] = m.lag
				s.sum.Lag = 0
				for _, l := range lags {
					s.sum.Lag = max(s.sum.Lag, time.Duration(l)*time.Millisecond)
				}
			}
			if s.due() {
				if err := commit(); err != nil {
					return fail(err)
				}
			}
			s.report()
		}
	}
}

// writeStreamMsg writes one message's events and rejects, and sets its
// checkpoint.
func writeStreamMsg(ctx context.Context, s *sink, cw keymeter.Checkpointer, stream string, m streamMsg) error {
	if _, err := s.write(ctx, m.chunk, stream); err != nil {
		return err
	}
	if m.seq != "" {
		if err := cw.SetCheckpoint(ctx, stream, m.shard, m.seq); err != nil {
			return fmt.Errorf("checkpoint %s of %s: %w", m.shard, stream, err)
		}
		s.dirty = true
	}
	return nil
}
