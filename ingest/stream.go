package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"sort"
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

// streamMsg is what the stream reader sends the writer goroutine: the
// events of part of a page, and with the page's last part the shard's
// checkpoint after it.
type streamMsg struct {
	batch   *keymeter.Batch // nil when the page had no events left
	rejects []keymeter.Reject
	records int64 // records read (events, duplicates and rejects)
	shard   string
	seq     string // checkpoint of shard after this message; "" for none
	lag     int64  // the shard's MillisBehindLatest; -1 when not a page's end
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
func (in *Ingester) RunStream(ctx context.Context, s Stream) (*Summary, error) {
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
	defer w.Close()
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
	free := make(chan *keymeter.Batch, 6)
	for range cap(free) {
		free <- &keymeter.Batch{Rows: make([]keymeter.Row, 0, in.cfg.BatchRows)}
	}
	readCtx, stopReading := context.WithCancelCause(ctx)
	defer stopReading(nil)
	sum := &Summary{}
	done := make(chan error, 1)
	go func() {
		done <- in.writeStream(wctx, w, cw, s.Name(), msgs, free, sum, stopReading)
	}()
	keys := newKeyFinder(in.cfg.KeyParams, in.cfg.Secret)
	r := &streamReader{
		ctx: readCtx, in: in, format: f, stream: s.Name(), parser: parser, keys: keys, enc: in.newEncoderFor(keys, f),
		msgs: msgs, free: free, obj: &keymeter.Object{URI: "kinesis://" + s.Name()},
	}
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

// streamReader parses and encodes pages of records; ReadAll calls page
// from one goroutine at a time.
type streamReader struct {
	ctx     context.Context // done when reading must stop
	in      *Ingester
	format  Format
	stream  string
	parser  Parser
	keys    *keyFinder
	enc     *encoder
	msgs    chan<- streamMsg
	free    chan *keymeter.Batch
	obj     *keymeter.Object
	ev      keymeter.Event
	redact  []byte
	records RecordReader // reused for every Kinesis record, when the format has one
}

// page handles one page of a shard's records: a kinesis.ShardFunc.
func (r *streamReader) page(shard string, recs []kinesis.Record, lastSeq string, millisBehind int64) error {
	if len(recs) == 0 { // a lag report
		return r.send(streamMsg{shard: shard, lag: millisBehind})
	}
	batch := r.newBatch()
	var rejects []keymeter.Reject
	var records int64
	now := r.in.cfg.Now()
	limit := r.in.futureLimit(now)
	handle := func(rec *kinesis.Record, line []byte, err error) error {
		if err == nil {
			var ok bool
			if ok, err = r.parser.Parse(line, &r.ev); ok && err == nil && r.ev.Time > limit {
				err = r.in.futureError(r.parser, &r.ev, now)
			} else if ok && err == nil {
				r.enc.encode(&r.ev, line, batch)
				records++
			}
		}
		if err != nil {
			rejects = append(rejects, r.reject(shard, rec.SequenceNumber, line, err))
			records++
		}
		if batchFull(batch, r.in.cfg.BatchRows) || len(rejects) >= 1024 {
			if err := r.send(streamMsg{batch: batch, rejects: rejects, records: records, lag: -1}); err != nil {
				return err
			}
			batch, rejects, records = r.newBatch(), nil, 0
		}
		return nil
	}
	for i := range recs {
		if err := r.eachRecord(&recs[i], handle); err != nil {
			return err
		}
	}
	m := streamMsg{batch: batch, rejects: rejects, records: records, shard: shard, seq: lastSeq, lag: millisBehind}
	if len(batch.Rows) == 0 {
		batch.Reset()
		r.free <- batch
		m.batch = nil
	}
	return r.send(m)
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

func (r *streamReader) newBatch() *keymeter.Batch {
	b := <-r.free
	b.Source = r.format.Source
	b.Object = r.obj
	return b
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

// reject describes a record that cannot be ingested. It is placed by
// shard and sequence number: Object is kinesis://STREAM/SHARD#SEQUENCE
// and Line is 1.
func (r *streamReader) reject(shard, seq string, line []byte, err error) keymeter.Reject {
	line = bytes.TrimRight(line, "\r\n")
	rj := keymeter.Reject{
		Source: r.format.Source, Object: "kinesis://" + r.stream + "/" + shard + "#" + seq, Line: 1,
		Reason: err.Error(), TextLen: int64(len(line)), At: r.in.cfg.Now().UTC(),
	}
	var pe *keymeter.ParseError
	if errors.As(err, &pe) {
		rj.Field, rj.Reason = pe.Field, pe.Err.Error()
	}
	rj.Field, rj.Reason = r.enc.redactText(rj.Field), r.enc.redactText(rj.Reason)
	r.redact = r.enc.redactRecord(r.redact[:0], bytes.TrimRight(line, "\r\n"))
	rj.Text = keymeter.CutText(string(r.redact), keymeter.MaxRejectText)
	return rj
}

// writeStream is the writer goroutine of RunStream: it writes what the
// reader sends, sets each shard's checkpoint as its page is written, and
// commits every streamCommitRows rows, every CommitInterval while
// anything is pending, and at the end. On failure it stops the reader
// and drains its messages.
func (in *Ingester) writeStream(ctx context.Context, w keymeter.Writer, cw keymeter.Checkpointer, stream string,
	msgs <-chan streamMsg, free chan<- *keymeter.Batch, sum *Summary, stop context.CancelCauseFunc) error {
	fail := func(err error) error {
		stop(err)
		for m := range msgs {
			if m.batch != nil {
				m.batch.Reset()
				free <- m.batch
			}
		}
		return err
	}
	ticker := time.NewTicker(in.cfg.CommitInterval)
	defer ticker.Stop()
	pending, dirty := 0, false
	committed := *sum
	lags := map[string]int64{}
	commit := func() error {
		if !dirty {
			return nil
		}
		if err := w.Commit(ctx); err != nil {
			*sum = committed
			return fmt.Errorf("commit the records read from kinesis://%s: %w", stream, err)
		}
		pending, dirty = 0, false
		committed = *sum
		return nil
	}
	for {
		select {
		case <-ticker.C:
			if err := commit(); err != nil {
				return fail(err)
			}
			if in.cfg.Progress != nil {
				in.cfg.Progress(*sum)
			}
		case m, ok := <-msgs:
			if !ok {
				return commit()
			}
			if err := in.writeStreamMsg(ctx, w, cw, stream, m, free, sum); err != nil {
				*sum = committed
				return fail(err)
			}
			if m.lag >= 0 && m.shard != "" {
				lags[m.shard] = m.lag
				sum.Lag = 0
				for _, l := range lags {
					sum.Lag = max(sum.Lag, time.Duration(l)*time.Millisecond)
				}
			}
			if m.batch != nil || len(m.rejects) > 0 || m.seq != "" {
				dirty = true
				pending += len(m.rejects)
			}
			if m.batch != nil {
				pending += len(m.batch.Rows)
				m.batch.Reset()
				free <- m.batch
			}
			if pending >= in.streamCommitRows {
				if err := commit(); err != nil {
					return fail(err)
				}
			}
			if in.cfg.Progress != nil {
				in.cfg.Progress(*sum)
			}
		}
	}
}

// writeStreamMsg writes one message's events and rejects, and sets its
// checkpoint.
func (in *Ingester) writeStreamMsg(ctx context.Context, w keymeter.Writer, cw keymeter.Checkpointer, stream string,
	m streamMsg, free chan<- *keymeter.Batch, sum *Summary) error {
	if m.batch != nil {
		res, err := w.Write(ctx, m.batch)
		if err != nil {
			return fmt.Errorf("write %s: %w", stream, err)
		}
		sum.Events += int64(res.Stored)
		sum.Duplicates += int64(res.Duplicates)
		for i, n := range res.ByAttribution {
			sum.Unattributed[i] += int64(n)
		}
		sum.addDays(res.UnattributedByDay)
	}
	if len(m.rejects) > 0 {
		if err := w.Reject(ctx, m.rejects); err != nil {
			return fmt.Errorf("keep rejects of %s: %w", stream, err)
		}
		sum.Rejected += int64(len(m.rejects))
	}
	sum.Lines += m.records
	if m.seq != "" {
		if err := cw.SetCheckpoint(ctx, stream, m.shard, m.seq); err != nil {
			return fmt.Errorf("checkpoint %s of %s: %w", m.shard, stream, err)
		}
	}
	return nil
}

// addDays adds per-day counts of unattributed events to s, in a new map.
func (s *Summary) addDays(days map[keymeter.DayAttribution]int) {
	if len(days) == 0 {
		return
	}
	m := maps.Clone(s.UnattributedByDay)
	if m == nil {
		m = make(map[keymeter.DayAttribution]int64, len(days))
	}
	for k, n := range days {
		m[k] += int64(n)
	}
	s.UnattributedByDay = m
}

// DayCount is a number of events on one UTC day.
type DayCount struct {
	Day   time.Time // midnight UTC
	Count int64
}

// UnattributedDays returns the stored events without a key for reason a
// (keymeter.KeyTruncated, say) per UTC day, in day order.
func (s *Summary) UnattributedDays(a keymeter.Attribution) []DayCount {
	var out []DayCount
	for k, n := range s.UnattributedByDay {
		if k.Attribution == a && n > 0 {
			out = append(out, DayCount{Day: time.Unix(int64(k.Day)*86400, 0).UTC(), Count: n})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Day.Before(out[j].Day) })
	return out
}
