package lake

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"slices"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/snappy"

	"github.com/keymeter/keymeter"
)

// Row group sizes: what Athena and Trino read well.
const (
	MinRowGroupRows     = 128 << 10
	MaxRowGroupRows     = 1 << 20
	DefaultRowGroupRows = MaxRowGroupRows
)

// Options configure how files are written. The zero value is the
// default: row groups of up to DefaultRowGroupRows rows, zstd.
type Options struct {
	// RowGroupRows is the most rows a row group holds, between
	// MinRowGroupRows and MaxRowGroupRows; 0 means DefaultRowGroupRows. A
	// file with fewer rows has one smaller row group.
	RowGroupRows int
	// Compression is "zstd" (the default) or "snappy".
	Compression string
}

// Validate reports every problem with o at once.
func (o Options) Validate() error {
	var errs []error
	if o.RowGroupRows != 0 && (o.RowGroupRows < MinRowGroupRows || o.RowGroupRows > MaxRowGroupRows) {
		errs = append(errs, fmt.Errorf("row group size %d: want %d to %d rows", o.RowGroupRows, MinRowGroupRows, MaxRowGroupRows))
	}
	switch o.Compression {
	case "", "zstd", "snappy":
	default:
		errs = append(errs, fmt.Errorf("compression %q: want zstd or snappy", o.Compression))
	}
	if err := errors.Join(errs...); err != nil {
		return keymeter.Errorf(keymeter.EINVALID, "lake options: %v", err)
	}
	return nil
}

func (o Options) codec() compress.Codec {
	if o.Compression == "snappy" {
		return &snappy.Codec{}
	}
	return sharedZstd
}

// sharedZstd is the zstd codec of every writer: its encoder is safe for
// concurrent use and costs memory to create.
var sharedZstd = newZstdCodec()

func (o Options) rowGroupRows() int64 {
	return int64(cmp.Or(o.RowGroupRows, DefaultRowGroupRows))
}

// config returns the parquet writer options for table t.
func (o Options) config(t *Table) []parquet.WriterOption {
	opts := []parquet.WriterOption{
		t.schema,
		parquet.DataPageVersion(1),
		parquet.Compression(o.codec()),
		parquet.MaxRowsPerRowGroup(o.rowGroupRows()),
		// A column whose values do not repeat falls back to plain
		// encoding instead of growing a dictionary without bound. 4 MiB
		// holds the distinct query strings and times of day of a busy
		// day (at 1 MiB they fell back, at 3 more bytes a row); it is
		// also what each dictionary column of an open file may hold in
		// memory.
		parquet.DictionaryMaxBytes(4 << 20),
	}
	for _, c := range t.Columns {
		if c.NoBounds {
			opts = append(opts, parquet.SkipPageBounds(c.Name), parquet.SkipPageStatistics(c.Name))
		}
	}
	return opts
}

// Entry describes one lake file: what a manifest lists.
type Entry struct {
	Table string
	// Date is the partition's day, at 00:00 UTC.
	Date time.Time
	// Path is the file's path under the Root.
	Path  string
	Rows  int64
	Bytes int64
	// MinTime and MaxTime are the earliest and latest event times in the
	// file, UTC.
	MinTime, MaxTime time.Time
	// Checksum is the hex SHA-256 of the file's bytes.
	Checksum string
}

// Writer writes batches of events into a Root. Several goroutines may
// use one Writer, each with its own Batch: batches write files of their
// own, so that writing scales with the cores.
type Writer struct {
	root Root
	opts Options
}

// NewWriter returns a Writer into root.
func NewWriter(root Root, opts Options) (*Writer, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return &Writer{root: root, opts: opts}, nil
}

// Batch is the events of one store transaction, written as one file per
// table and day. A Batch is used by one goroutine.
//
// The files' names derive from the batch key alone, so a batch that is
// written again after a crash or an error (the same key) replaces the
// files of the attempt before, which no manifest lists. A key must
// therefore never be reused for other events once a manifest lists its
// files.
type Batch struct {
	w        *Writer
	ctx      context.Context
	name     string
	key      string
	loadedAt int64
	files    map[fileKey]*fileWriter
	last     *fileWriter
	lastKey  fileKey
	rows     int64
	err      error
}

type fileKey struct {
	table *Table
	day   int32
}

// BatchFileName returns the name of the files a batch with key writes.
func BatchFileName(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "b-" + hex.EncodeToString(sum[:16]) + ".parquet"
}

// Begin starts a batch. key identifies it (the same on every retry of
// the same events, for example the store's load ID); loadedAt is the
// loaded_at of its events. ctx governs the creation of the batch's
// files, as Add needs them.
func (w *Writer) Begin(ctx context.Context, key string, loadedAt time.Time) (*Batch, error) {
	if key == "" {
		return nil, keymeter.Errorf(keymeter.EINVALID, "lake batch: empty batch key")
	}
	return &Batch{
		w: w, ctx: ctx, key: key, name: BatchFileName(key),
		loadedAt: loadedAt.UnixMicro(),
		files:    make(map[fileKey]*fileWriter),
	}, nil
}

// Rows returns the number of events added.
func (b *Batch) Rows() int64 { return b.rows }

// Add appends ev, with the facts f, to the file of its table and day. It
// copies what it keeps: ev and f may be reused when it returns. ev's
// fields must already be redacted (every API key replaced by its
// fingerprint): the lake stores them as they are. An error is final:
// the batch must be aborted.
func (b *Batch) Add(ev *keymeter.Event, f *Facts) error {
	if b.err != nil {
		return b.err
	}
	var t *Table
	if int(ev.Source) < len(tableBySource) {
		t = tableBySource[ev.Source]
	}
	if t == nil {
		return keymeter.Errorf(keymeter.EINVALID, "lake: no table for events of source %s", ev.Source)
	}
	if f.Attribution >= keymeter.NumAttributions {
		return keymeter.Errorf(keymeter.EINVALID, "lake: event with unknown attribution %d", f.Attribution)
	}
	k := fileKey{t, dayOf(ev.Time)}
	fw := b.last
	if fw == nil || k != b.lastKey {
		fw = b.files[k]
		if fw == nil {
			var err error
			if fw, err = b.open(k); err != nil {
				b.err = err
				return err
			}
			b.files[k] = fw
		}
		b.last, b.lastKey = fw, k
	}
	if err := fw.add(ev, f); err != nil {
		b.err = fmt.Errorf("write %s: %w", fw.path, err)
		return b.err
	}
	b.rows++
	return nil
}

var tableBySource = func() [keymeter.SourceAPIGateway + 1]*Table {
	var m [keymeter.SourceAPIGateway + 1]*Table
	for _, t := range tables {
		m[t.Source] = t
	}
	return m
}()

func (b *Batch) open(k fileKey) (*fileWriter, error) {
	p := partitionDir(k.table.Name, k.day) + "/" + b.name
	pending, err := b.w.root.Create(b.ctx, p)
	if err != nil {
		return nil, err
	}
	return newFileWriter(k.table, k.day, p, pending, b.w.opts, b.loadedAt, map[string]string{"keymeter.batch": b.key}), nil
}

// Finish writes out every file of the batch, makes each durable and
// visible, and returns their entries, sorted by table and date. Only after
// it returns may a manifest list them. On an error, files already
// committed stay (no manifest lists them) and the others are discarded.
func (b *Batch) Finish(ctx context.Context) ([]Entry, error) {
	if b.err != nil {
		b.Abort()
		return nil, b.err
	}
	keys := make([]fileKey, 0, len(b.files))
	for k := range b.files {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, c fileKey) int {
		return cmp.Or(cmp.Compare(tableIndex(a.table), tableIndex(c.table)), cmp.Compare(a.day, c.day))
	})
	entries := make([]Entry, 0, len(keys))
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			b.Abort()
			return nil, err
		}
		fw := b.files[k]
		e, err := fw.finish()
		delete(b.files, k)
		if err != nil {
			b.Abort()
			return nil, fmt.Errorf("write %s: %w", fw.path, err)
		}
		entries = append(entries, e)
	}
	b.err = errors.New("lake batch: already finished")
	return entries, nil
}

// Abort discards the batch's files that are not yet committed.
func (b *Batch) Abort() error {
	var errs []error
	for k, fw := range b.files {
		if err := fw.out.pending.Abort(); err != nil {
			errs = append(errs, err)
		}
		delete(b.files, k)
	}
	if b.err == nil {
		b.err = errors.New("lake batch: aborted")
	}
	return errors.Join(errs...)
}

func tableIndex(t *Table) int { return slices.Index(tables, t) }

// chunkRows is how many rows a file buffers before handing them to the
// Parquet writer, column by column.
const chunkRows = 1024

// fileWriter writes one file.
type fileWriter struct {
	table        *Table
	day          int32
	path         string
	pw           *parquet.Writer
	rb           *rowBuilder
	out          *hashingWriter
	rowGroupRows int64
	groupRows    int64 // rows in the current row group, handed over
	rows         int64
	minT, maxT   int64
}

func newFileWriter(t *Table, day int32, p string, pending Pending, opts Options, loadedAt int64, meta map[string]string) *fileWriter {
	out := &hashingWriter{pending: pending, hash: sha256.New()}
	options := opts.config(t)
	for k, v := range meta {
		options = append(options, parquet.KeyValueMetadata(k, v))
	}
	fw := &fileWriter{
		table: t, day: day, path: p,
		pw:           parquet.NewWriter(out, options...),
		rb:           newRowBuilder(t),
		out:          out,
		rowGroupRows: opts.rowGroupRows(),
	}
	fw.rb.loadedAt = loadedAt
	return fw
}

func (fw *fileWriter) add(ev *keymeter.Event, f *Facts) error {
	fw.rb.start()
	fw.table.fill(fw.rb, ev, f)
	fw.rb.end()
	if fw.rows == 0 || ev.Time < fw.minT {
		fw.minT = ev.Time
	}
	if fw.rows == 0 || ev.Time > fw.maxT {
		fw.maxT = ev.Time
	}
	fw.rows++
	if n := int64(fw.rb.n); n == chunkRows || fw.groupRows+n == fw.rowGroupRows {
		return fw.flushChunk()
	}
	return nil
}

// flushChunk hands the buffered rows to the Parquet writer, and ends the
// row group when it is full.
func (fw *fileWriter) flushChunk() error {
	n := fw.rb.n
	if n == 0 {
		return nil
	}
	for i, cw := range fw.pw.ColumnWriters() {
		got, err := cw.WriteRowValues(fw.rb.column(i))
		if err != nil {
			return fmt.Errorf("column %s: %w", fw.table.Columns[i].Name, err)
		}
		if got != n {
			return fmt.Errorf("column %s: wrote %d rows of %d", fw.table.Columns[i].Name, got, n)
		}
	}
	fw.rb.reset()
	fw.groupRows += int64(n)
	if fw.groupRows >= fw.rowGroupRows {
		fw.groupRows = 0
		if err := fw.pw.Flush(); err != nil {
			return fmt.Errorf("flush row group: %w", err)
		}
	}
	return nil
}

// finish writes the footer, commits the file and returns its entry. On
// an error, the file is discarded.
func (fw *fileWriter) finish() (Entry, error) {
	err := fw.flushChunk()
	if err == nil {
		if err = fw.pw.Close(); err != nil {
			err = fmt.Errorf("close: %w", err)
		}
	}
	if err == nil {
		err = fw.out.err
	}
	if err != nil {
		fw.out.pending.Abort()
		return Entry{}, err
	}
	if err := fw.out.pending.Commit(); err != nil {
		return Entry{}, err
	}
	return Entry{
		Table:    fw.table.Name,
		Date:     dayTime(fw.day),
		Path:     fw.path,
		Rows:     fw.rows,
		Bytes:    fw.out.n,
		MinTime:  time.UnixMicro(fw.minT).UTC(),
		MaxTime:  time.UnixMicro(fw.maxT).UTC(),
		Checksum: hex.EncodeToString(fw.out.hash.Sum(nil)),
	}, nil
}

// hashingWriter counts and hashes what it passes on to a Pending.
type hashingWriter struct {
	pending Pending
	hash    hash.Hash
	n       int64
	err     error
}

func (h *hashingWriter) Write(p []byte) (int, error) {
	if h.err != nil {
		return 0, h.err
	}
	n, err := h.pending.Write(p)
	h.hash.Write(p[:n])
	h.n += int64(n)
	if err != nil {
		h.err = err
	}
	return n, err
}
