// Package ingest turns log objects into stored events, exactly once. It is
// the one place that knows formats, sources and the store: it reads each
// object from its source, parses it with its format, attributes every
// request to an API key, hides the key, batches the rows and writes them
// through a keymeter.Writer, which skips rows already stored.
//
// Objects are read in parallel, one goroutine per object; a single writer
// goroutine owns the store's Writer. An object is recorded as ingested in
// the same transaction as its last rows, so that after a crash it is read
// again and the rows it already stored are skipped as duplicates. Streams
// (RunStream) are read from per-shard checkpoints that commit in the same
// transaction as the events of the records up to them.
package ingest

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/format/cloudfrontrt"
)

// Input is one object to ingest, with a way to read it.
type Input struct {
	Object keymeter.Object
	// Open returns the object's bytes as stored (possibly compressed).
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// Config tunes an ingest run. The zero value uses the defaults.
type Config struct {
	// Format is the name of the log format of the inputs (see
	// FormatNames). Default: "", each object is read with the format it
	// looks like (see detect.go); a stream (RunStream) is read as
	// "cloudfront-realtime". With a format named, an object that looks
	// like another format is refused (Summary.Failed) and not recorded.
	Format string
	// KeyParams are the query-string parameters that carry the API key, in
	// order of precedence (see keyFinder.redact), each made of letters,
	// digits and - . _ ~; they are matched in any letter case. Default:
	// DefaultKeyParams.
	KeyParams []string
	// KeyHeader is the request header that carries the API key, for
	// formats that log request headers (cloudfront-realtime); it takes
	// precedence over KeyParams and is matched case-insensitively.
	// Default: "x-api-key".
	KeyHeader string
	// RealtimeFields are the fields of the CloudFront real-time log
	// configuration, in any order (see cloudfrontrt.NewParser). Default:
	// every documented field.
	RealtimeFields []string
	// Secret keys the fingerprints of API keys. Required.
	Secret []byte
	// Workers is the number of objects read in parallel. Default: GOMAXPROCS.
	Workers int
	// BatchRows is the number of rows handed to the writer at once.
	BatchRows int
	// CommitRows is the number of rows after which the writer commits.
	// Default: 1 Mi rows for objects, 100 000 for streams.
	CommitRows int
	// CommitInterval is, for streams, the longest time read records wait
	// for a commit. Default: 1 s.
	CommitInterval time.Duration
	// Now returns the current time; it stamps rejects and bounds the time
	// of requests (FutureHorizon). Default: time.Now.
	Now func() time.Time
	// Progress, when set, is called from the writer goroutine after each
	// batch with the running totals.
	Progress func(Summary)
	// APIGateway configures the apigateway formats.
	APIGateway APIGateway
	// FutureHorizon is how far ahead of the time of reading (Now) a
	// request may be dated: a record dated later is rejected as "time in
	// the future". Default: DefaultFutureHorizon.
	FutureHorizon time.Duration
	// Reprocess reads every input again, whether or not it was ingested
	// before, and replaces what earlier reads of it stored (see Run).
	// The store's Writer must be a keymeter.Rereader.
	Reprocess bool
	// Check, with Reprocess, is called with the prepared transaction
	// (when the Writer is a keymeter.Preparer) and the run's summary just
	// before the commit; an error rolls the run back.
	Check func(ctx context.Context, tx keymeter.Preparer, sum *Summary) error
}

func (c *Config) setDefaults() {
	if len(c.KeyParams) == 0 {
		c.KeyParams = DefaultKeyParams
	}
	if c.KeyHeader == "" {
		c.KeyHeader = cloudfrontrt.DefaultKeyHeader
	}
	if c.CommitInterval <= 0 {
		c.CommitInterval = time.Second
	}
	if c.Workers <= 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	if c.BatchRows <= 0 {
		c.BatchRows = 8192
	}
	if c.CommitRows <= 0 {
		c.CommitRows = 1 << 20
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.FutureHorizon == 0 {
		c.FutureHorizon = DefaultFutureHorizon
	}
}

// maxPendingRejectBytes bounds the reject text held until a commit.
const maxPendingRejectBytes = 32 << 20

// Summary reports what a run did.
type Summary struct {
	Objects      int                             // inputs given
	Read         int                             // objects read, fully or partly
	Skipped      []Skipped                       // objects not read because they were ingested before
	Failed       []Failed                        // objects that could not be read, or only partly
	Lines        int64                           // records read (Events + Duplicates + Rejected)
	Events       int64                           // events stored
	Duplicates   int64                           // events skipped because they were already stored
	Rejected     int64                           // records rejected
	Unattributed [keymeter.NumAttributions]int64 // stored events by attribution; [0] is attributed
	// UnattributedByDay counts the stored events without a key by UTC day
	// and reason. The map is replaced, never modified, so copies of a
	// Summary stay as they were.
	UnattributedByDay map[keymeter.DayAttribution]int64
	// Lag is, for streams, how far the furthest-behind shard was behind
	// the stream's tip at its last read (Kinesis's MillisBehindLatest).
	Lag time.Duration
	// NotRecorded are objects read of which no record was stored (every
	// one rejected): they are not recorded as ingested, so that a later
	// run, with other flags, reads them again.
	NotRecorded []string
	// Retracted counts, with Config.Reprocess, the events of earlier
	// reads that were replaced; Changed is the span of event time of the
	// events retracted and stored (zero when none).
	Retracted int64
	Changed   [2]time.Time
}

// UnattributedTotal returns the number of stored events without a key.
func (s *Summary) UnattributedTotal() int64 {
	var n int64
	for _, v := range s.Unattributed[1:] {
		n += v
	}
	return n
}

// Skipped is an object that was not read again.
type Skipped struct {
	URI    string
	Reason string // e.g. "already ingested", "same content as other.gz"
}

// Failed is an object that could not be read, or only partly.
type Failed struct {
	URI    string
	Reason string
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

// New returns an Ingester writing to store.
func New(store keymeter.Store, cfg Config) (*Ingester, error) {
	if len(cfg.Secret) == 0 {
		return nil, errors.New("ingest: no fingerprint secret")
	}
	streamCommitRows := cfg.CommitRows
	if streamCommitRows <= 0 {
		streamCommitRows = 100_000
	}
	if cfg.FutureHorizon < 0 {
		return nil, keymeter.Errorf(keymeter.EINVALID, "the future horizon must be positive (got %s)", cfg.FutureHorizon)
	}
	cfg.setDefaults()
	f, err := lookupFormat(cfg.Format)
	if err != nil {
		return nil, err
	}
	// Check the configuration of every format that may read the inputs.
	for _, name := range FormatNames() {
		if g := formats[name]; g.Name == f.Name || f.NewParser == nil {
			if _, err := g.NewParser(&cfg); err != nil {
				return nil, err
			}
		}
	}
	if err := checkHeaderName(cfg.KeyHeader); err != nil {
		return nil, err
	}
	if err := checkKeyParams(cfg.KeyParams); err != nil {
		return nil, err
	}
	in := &Ingester{store: store, cfg: cfg, format: f, streamCommitRows: streamCommitRows, idSeed: recordIDSeed(cfg.Secret)}
	if rt, err := cloudfrontrt.NewParser(cfg.RealtimeFields); err == nil {
		in.rtFields = len(rt.Fields())
	}
	return in, nil
}

// message is what workers send the writer goroutine.
type message struct {
	object  *keymeter.Object       // the object read
	batch   *keymeter.Batch        // rows of one object, or nil
	rejects []keymeter.Reject      // rejected records of the same object
	finish  *keymeter.ObjectRecord // set on an object's last message
	skip    *Skipped
	fail    *Failed
	lines   int64
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
func (in *Ingester) Run(ctx context.Context, inputs []Input) (*Summary, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	w, err := in.store.NewWriter(ctx)
	if err != nil {
		return nil, err
	}
	defer w.Close()
	if _, ok := w.(keymeter.Rereader); in.cfg.Reprocess && !ok {
		return nil, keymeter.Errorf(keymeter.EINVALID, "this store cannot reprocess inputs")
	}

	sum := &Summary{Objects: len(inputs)}
	msgs := make(chan message, 2*in.cfg.Workers)
	free := make(chan *keymeter.Batch, 3*in.cfg.Workers+2)
	for range cap(free) {
		free <- &keymeter.Batch{Rows: make([]keymeter.Row, 0, in.cfg.BatchRows)}
	}

	jobs := make(chan Input)
	var wg sync.WaitGroup
	for range min(in.cfg.Workers, max(len(inputs), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wk := in.newWorker(msgs, free)
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

	werr := in.write(ctx, w, msgs, free, sum)
	if werr != nil {
		cancel(werr)
		for range msgs { // let the workers finish
		}
		return sum, werr
	}
	if err := context.Cause(ctx); err != nil && ctx.Err() != nil {
		return sum, err
	}
	return sum, nil
}

// write is the writer goroutine's loop: it writes what workers send and
// commits every CommitRows rows and at the end.
func (in *Ingester) write(ctx context.Context, w keymeter.Writer, msgs <-chan message, free chan<- *keymeter.Batch, sum *Summary) error {
	type tally struct{ events, dups, rejected int64 }
	perObject := map[string]*tally{}
	pending := 0      // rows and rejects since the last commit
	pendingBytes := 0 // bytes of reject text since the last commit
	committed := *sum
	rereader, _ := w.(keymeter.Rereader)
	reprocess := in.cfg.Reprocess
	var stop error                   // why a reprocessing run stops
	uncommitted := map[string]bool{} // objects with something written since the last commit, for errors
	var firstUncommitted []string    // the first three of them
	commitError := func(err error) error {
		return fmt.Errorf("commit what was read of %s: %w", namesOf(firstUncommitted, len(uncommitted)), err)
	}
	commit := func() error {
		if err := w.Commit(ctx); err != nil {
			return commitError(err)
		}
		clear(uncommitted)
		firstUncommitted = firstUncommitted[:0]
		return nil
	}
	for m := range msgs {
		if ctx.Err() != nil || stop != nil {
			if m.batch != nil {
				free <- m.batch
			}
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
		if m.batch != nil {
			var first, last int64 // the batch's span of event time, for Summary.Changed
			if reprocess && len(m.batch.Rows) > 0 {
				first, last = m.batch.Rows[0].Time, m.batch.Rows[0].Time
				for i := range m.batch.Rows {
					first, last = min(first, m.batch.Rows[i].Time), max(last, m.batch.Rows[i].Time)
				}
			}
			res, err := w.Write(ctx, m.batch)
			rows := len(m.batch.Rows)
			m.batch.Reset()
			free <- m.batch
			if err != nil {
				return fmt.Errorf("write %s: %w", uri, err)
			}
			if reprocess && res.Stored > 0 {
				sum.widen(time.UnixMicro(first).UTC(), time.UnixMicro(last).UTC())
			}
			t.events += int64(res.Stored)
			t.dups += int64(res.Duplicates)
			sum.Events += int64(res.Stored)
			sum.Duplicates += int64(res.Duplicates)
			for i, n := range res.ByAttribution {
				sum.Unattributed[i] += int64(n)
			}
			sum.addDays(res.UnattributedByDay)
			pending += rows
		}
		if len(m.rejects) > 0 {
			if err := w.Reject(ctx, m.rejects); err != nil {
				return fmt.Errorf("keep rejects of %s: %w", uri, err)
			}
			t.rejected += int64(len(m.rejects))
			sum.Rejected += int64(len(m.rejects))
			pending += len(m.rejects)
			for _, r := range m.rejects {
				pendingBytes += len(r.Text)
			}
		}
		sum.Lines += m.lines
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
				if err := w.FinishObject(ctx, rec); err != nil {
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
		if !reprocess && (pending >= in.cfg.CommitRows || pendingBytes >= maxPendingRejectBytes) {
			if err := commit(); err != nil {
				return err
			}
			pending, pendingBytes = 0, 0
			committed = *sum
		}
		if in.cfg.Progress != nil {
			in.cfg.Progress(*sum)
		}
	}
	if err := ctx.Err(); err != nil {
		*sum = committed
		return context.Cause(ctx)
	}
	// A reprocessing run that stops stores nothing: its counts are 0.
	rollback := func(err error) error {
		failed := sum.Failed
		*sum = committed
		sum.Failed = failed
		return err
	}
	if stop != nil {
		return rollback(fmt.Errorf("%w; nothing was replaced", stop))
	}
	if reprocess && in.cfg.Check != nil {
		p, ok := w.(keymeter.Preparer)
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
		*sum = committed
		return err
	}
	return nil
}

// widen extends s.Changed to [from, to].
func (s *Summary) widen(from, to time.Time) {
	if from.IsZero() {
		return
	}
	if s.Changed[0].IsZero() || from.Before(s.Changed[0]) {
		s.Changed[0] = from
	}
	if to.After(s.Changed[1]) {
		s.Changed[1] = to
	}
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
	in     *Ingester
	msgs   chan<- message
	free   chan *keymeter.Batch
	cur    Format   // the format of the object being read
	enc    *encoder // cur's encoder
	encs   map[keymeter.Source]*encoder
	keys   *keyFinder
	ev     keymeter.Event
	redact []byte
}

func (in *Ingester) newWorker(msgs chan<- message, free chan *keymeter.Batch) *worker {
	return &worker{
		in:   in,
		msgs: msgs,
		free: free,
		keys: newKeyFinder(in.cfg.KeyParams, in.cfg.Secret),
		encs: map[keymeter.Source]*encoder{},
	}
}

// use makes f the format of the object being read.
func (wk *worker) use(f Format) {
	wk.cur = f
	if wk.enc = wk.encs[f.Source]; wk.enc == nil {
		wk.enc = wk.in.newEncoderFor(wk.keys, f)
		wk.encs[f.Source] = wk.enc
	}
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

// read parses an object's records and sends them on in batches.
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
	wk.use(f)
	parser, err := f.NewParser(&wk.in.cfg)
	if err != nil {
		return err
	}
	source := f.Source
	now := wk.in.cfg.Now()
	limit := wk.in.futureLimit(now)
	batch := wk.newBatch(obj)
	var rejects []keymeter.Reject
	var lines, lineNo int64
	flush := func(final bool) error {
		m := message{object: obj, batch: batch, rejects: rejects, lines: lines}
		if len(batch.Rows) == 0 {
			wk.recycle(batch)
			m.batch = nil
		}
		if final {
			m.finish = rec
			if rec.Status != keymeter.ObjectComplete {
				m.fail = &Failed{URI: obj.URI, Reason: rec.Error}
			}
		}
		lines, rejects = 0, nil
		if err := wk.send(ctx, m); err != nil {
			return err
		}
		if !final {
			batch = wk.newBatch(obj)
		}
		return nil
	}
	reject := func(line []byte, err error) {
		r := keymeter.Reject{
			Source: source, Object: obj.URI, Line: lineNo,
			Reason: err.Error(), TextLen: int64(len(line)), At: wk.in.cfg.Now().UTC(),
		}
		var pe *keymeter.ParseError
		if errors.As(err, &pe) {
			r.Field, r.Reason = pe.Field, pe.Err.Error()
		}
		if tl := (*lineTooLong)(nil); errors.As(err, &tl) {
			r.TextLen = tl.n
		}
		r.Field, r.Reason = wk.enc.redactText(r.Field), wk.enc.redactText(r.Reason)
		r.Text = wk.redactLine(line)
		rejects = append(rejects, r)
		lines++
		rec.Lines++
	}

	if derr != nil {
		rec.Status, rec.Error = keymeter.ObjectPartial, "unreadable: "+readError(derr)
		return flush(true)
	}
	var records RecordReader = lineRecords{newLineReaderFrom(content)}
	if f.NewRecords != nil {
		records = f.NewRecords(content)
	}
	for {
		line, err := records.Next()
		if err == io.EOF {
			break
		}
		lineNo++
		var pe *keymeter.ParseError
		if errors.Is(err, errLineTooLong) || errors.As(err, &pe) {
			reject(line, err)
			continue
		}
		if err != nil {
			if len(line) > 0 {
				reject(line, errors.New("record cut short: the object could not be read past it"))
			}
			rec.Status, rec.Error = keymeter.ObjectPartial, readError(err)
			break
		}
		ok, perr := parser.Parse(line, &wk.ev)
		if ok && perr == nil && wk.ev.Time > limit {
			perr = wk.in.futureError(parser, &wk.ev, now)
		}
		if perr != nil {
			reject(line, perr)
		} else if ok {
			wk.enc.encode(&wk.ev, line, batch)
			lines++
			rec.Lines++
		}
		if batchFull(batch, wk.in.cfg.BatchRows) || len(rejects) >= 1024 {
			if err := flush(false); err != nil {
				return err
			}
		}
	}
	return flush(true)
}

func (wk *worker) newBatch(obj *keymeter.Object) *keymeter.Batch {
	b := <-wk.free
	b.Source = wk.cur.Source
	b.Object = obj
	return b
}

// recycle returns an unused batch to the pool; the pool has room for
// every batch, so this never blocks.
func (wk *worker) recycle(b *keymeter.Batch) {
	b.Reset()
	wk.free <- b
}

// redactLine returns a rejected line as text with every API key replaced
// by its fingerprint, cut to keymeter.MaxRejectText (keymeter.CutText).
func (wk *worker) redactLine(line []byte) string {
	wk.redact = wk.enc.redactRecord(wk.redact[:0], line)
	return keymeter.CutText(string(wk.redact), keymeter.MaxRejectText)
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

// maxBatchBytes bounds the per-row strings of a batch, so that batches of
// wide records (real-time logs with their headers) hold no more memory
// than batches of narrow ones.
const maxBatchBytes = 2 << 20

// batchFull reports whether a batch should be handed to the writer.
func batchFull(b *keymeter.Batch, rows int) bool {
	return len(b.Rows) >= rows || len(b.Rest) >= maxBatchBytes
}
