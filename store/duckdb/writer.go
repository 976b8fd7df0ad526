package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/lake"
)

var _ keymeter.Writer = (*writer)(nil)

// writer implements keymeter.Writer on one dedicated connection holding
// one transaction at a time. Rows stream into the transaction through an
// INSERT statement fed by keymeter_rows (see rows.go); at Commit the
// statement ends, and dictionary entries, keys, rejects, object records
// and hour counts are written in the same transaction before it commits.
type writer struct {
	db   *DB
	conn *sql.Conn

	inTx bool
	ins  *insert // the running INSERT statement, nil when none
	cur  *rowChunk
	free chan *rowChunk

	seen     *seenIDs
	loads    map[string]uint32 // source and object URI to load ID
	newLoads []loadRow
	nextLoad uint32
	// txFirstLoad is the first load of the open transaction; 0 when it
	// has none.
	txFirstLoad uint32
	known       map[uint64]struct{} // dictionary entries and keys known to be stored
	dict        []dictItem
	keys        []keyItem
	objects     []keymeter.ObjectRecord
	rejects     []keymeter.Reject
	// checkpoints are the stream checkpoints of this transaction.
	checkpoints map[checkpointKey]string
	// rr holds what Reread queued for the commit (see retract.go). A
	// transaction that retracts gives its loads and its retractions one
	// time, txTime, so that no question as of a time sees half of it.
	rr       rereads
	txTime   time.Time
	prepared bool // Prepare wrote everything: only Commit or Close follow
	// lakeFiles are the lake files to list in the transaction (lake.go).
	lakeFiles []lake.Entry
}

// dictItem and keyItem are a dictionary entry and a key fingerprint to
// store, with the object whose batch brought them, for errors.
type dictItem struct {
	keymeter.DictEntry
	object string
}

type keyItem struct {
	keymeter.KeyFingerprint
	object string
}

type loadRow struct {
	id     uint32
	source keymeter.Source
	object string
	at     time.Time
}

// insert is one running INSERT ... SELECT FROM keymeter_rows() statement.
type insert struct {
	chunks chan *rowChunk
	done   chan error // receives the statement's result, once
	err    error
	ended  bool
}

// maxKnown bounds writer.known; it is cleared when full.
const maxKnown = 1 << 20

// keyTag keeps key IDs and dictionary IDs apart in writer.known.
const keyTag = 0x9e3779b97f4a7c15

// NewWriter implements keymeter.Store.
func (s *DB) NewWriter(ctx context.Context) (keymeter.Writer, error) {
	if s.readOnly {
		return nil, keymeter.Errorf(keymeter.EINVALID, "the store is open read-only")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.writer {
		return nil, keymeter.Errorf(keymeter.ECONFLICT, "another writer is open on this store")
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("open writer connection: %w", err)
	}
	w := &writer{db: s, conn: conn, loads: map[string]uint32{}, known: map[uint64]struct{}{}}
	if err := w.init(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	s.writer = true
	return w, nil
}

func (w *writer) init(ctx context.Context) error {
	counts := map[hourKey]int64{}
	rows, err := w.conn.QueryContext(ctx, `SELECT source, hour, events FROM event_hours`)
	if err != nil {
		return fmt.Errorf("read event hours: %w", err)
	}
	for rows.Next() {
		var src uint8
		var k hourKey
		var n int64
		if err := rows.Scan(&src, &k.hour, &n); err != nil {
			rows.Close()
			return fmt.Errorf("read event hours: %w", err)
		}
		k.source = keymeter.Source(src)
		counts[k] = n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read event hours: %w", err)
	}
	w.seen = newSeenIDs(w.db.opts.SeenBudget, windowHours(w.db.opts.DedupeWindow), counts, w.loadHours)
	if err := w.conn.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM loads`).Scan(&w.nextLoad); err != nil {
		return fmt.Errorf("read loads: %w", err)
	}
	// Rows may be stored out of order within a transaction, so that every
	// thread can write its own row groups.
	if _, err := w.conn.ExecContext(ctx, `SET preserve_insertion_order = false`); err != nil {
		return fmt.Errorf("configure writer: %w", err)
	}
	w.free = make(chan *rowChunk, 2*runtime.GOMAXPROCS(0)+4)
	for range cap(w.free) {
		w.free <- &rowChunk{}
	}
	return w.db.registerRows(w.conn)
}

// registerRows registers keymeter_rows, once per database: DuckDB keeps
// table functions in the database's catalog, so the function serves
// whichever writer's INSERT is running (there is at most one).
func (s *DB) registerRows(conn *sql.Conn) error {
	s.rowsOnce.Do(func() {
		s.rowsErr = duckdb.RegisterTableUDF(conn, "keymeter_rows", duckdb.ParallelChunkTableFunction{
			BindArguments: func(map[string]any, ...any) (duckdb.ParallelChunkTableSource, error) {
				src := s.rows.Load()
				if src == nil {
					return nil, errors.New("keymeter_rows is only for keymeter's writer")
				}
				return src, nil
			},
		})
	})
	if s.rowsErr != nil {
		return fmt.Errorf("register keymeter_rows: %w", s.rowsErr)
	}
	return nil
}

// loadHours reads the committed IDs of the hours [from, to) of a source,
// with the hour of each. It uses a connection of its own: the writer's is
// busy with the running INSERT.
func (w *writer) loadHours(src keymeter.Source, from, to int64, add func(id [2]uint64, hour int64)) error {
	ctx := context.Background()
	rows, err := w.db.db.QueryContext(ctx, `SELECT id_hi, id_lo, epoch_us(ts) FROM event_rows WHERE source = ? AND ts >= ? AND ts < ?`,
		uint8(src), time.UnixMicro(from*microsPerHour).UTC(), time.UnixMicro(to*microsPerHour).UTC())
	if err != nil {
		return fmt.Errorf("read event IDs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var hi, lo, us int64
		if err := rows.Scan(&hi, &lo, &us); err != nil {
			return fmt.Errorf("read event IDs: %w", err)
		}
		add([2]uint64{uint64(hi), uint64(lo)}, hourOf(src, us).hour)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read event IDs: %w", err)
	}
	return nil
}

// begin opens the transaction and starts the INSERT statement if needed.
func (w *writer) begin(ctx context.Context) error {
	if !w.inTx {
		if _, err := w.conn.ExecContext(ctx, `BEGIN TRANSACTION`); err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		w.inTx = true
	}
	if w.ins != nil {
		return nil
	}
	ins := &insert{chunks: make(chan *rowChunk), done: make(chan error, 1)}
	w.ins = ins
	w.db.rows.Store(&rowSource{chunks: ins.chunks, free: w.free, threads: runtime.GOMAXPROCS(0)})
	go func() {
		_, err := w.conn.ExecContext(context.Background(), `INSERT INTO event_rows SELECT * FROM keymeter_rows()`)
		ins.done <- err
	}()
	return nil
}

// send hands a full chunk to the running statement.
func (w *writer) send(ctx context.Context, c *rowChunk) error {
	select {
	case w.ins.chunks <- c:
		return nil
	case err := <-w.ins.done:
		w.ins.ended, w.ins.err = true, err
		if err == nil {
			err = errors.New("the insert statement ended early")
		}
		return fmt.Errorf("store rows: %w", err)
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// endInsert sends the last chunk, ends the statement and waits for it.
func (w *writer) endInsert(ctx context.Context) error {
	if w.ins == nil {
		return nil
	}
	ins := w.ins
	var err error
	if w.cur != nil && w.cur.n > 0 && !ins.ended {
		err = w.send(ctx, w.cur)
		w.cur = nil
	}
	if !ins.ended {
		close(ins.chunks)
		ins.err = <-ins.done
		ins.ended = true
	}
	w.ins = nil
	w.db.rows.Store(nil)
	if err != nil {
		return err
	}
	if ins.err != nil {
		return fmt.Errorf("store rows: %w", ins.err)
	}
	return nil
}

// Write implements keymeter.Writer.
func (w *writer) Write(ctx context.Context, b *keymeter.Batch) (keymeter.WriteResult, error) {
	var res keymeter.WriteResult
	if err := w.usable(ctx); err != nil {
		return res, err
	}
	load := w.load(b)
	curKey := hourKey{hour: -1 << 62}
	for i := range b.Rows {
		r := &b.Rows[i]
		k := hourOf(b.Source, r.Time)
		if k != curKey {
			if err := w.seen.prepare(k); err != nil {
				return res, err
			}
			curKey = k
		}
		// An ID whose event is retracted in this transaction (Reread) is
		// no longer held: it is not a duplicate.
		if !w.seen.add(r.ID) {
			res.Duplicates++
			continue
		}
		res.Stored++
		res.ByAttribution[r.Attribution]++
		if r.Attribution != keymeter.Attributed {
			if res.UnattributedByDay == nil {
				res.UnattributedByDay = make(map[keymeter.DayAttribution]int)
			}
			res.UnattributedByDay[keymeter.DayAttribution{Day: keymeter.DayOf(r.Time), Attribution: r.Attribution}]++
		}
		if w.cur == nil {
			w.cur = <-w.free
		}
		w.cur.add(b.Source, r, b.RestOf(i), load)
		if w.cur.n == chunkRows {
			if err := w.send(ctx, w.cur); err != nil {
				return res, err
			}
			w.cur = nil
		}
	}
	object := ""
	if b.Object != nil {
		object = b.Object.URI
	}
	for _, e := range b.Dict {
		if w.learn(e.ID) {
			w.dict = append(w.dict, dictItem{e, object})
		}
	}
	for _, k := range b.Keys {
		if w.learn(k.ID ^ keyTag) {
			w.keys = append(w.keys, keyItem{k, object})
		}
	}
	return res, nil
}

// learn records id as stored (from the next commit on) and reports
// whether it was new.
func (w *writer) learn(id uint64) bool {
	if _, ok := w.known[id]; ok {
		return false
	}
	if len(w.known) >= maxKnown {
		clear(w.known)
	}
	w.known[id] = struct{}{}
	return true
}

// load returns the load ID for a batch's object, noting new loads.
func (w *writer) load(b *keymeter.Batch) uint32 {
	name := ""
	if b.Object != nil {
		name = b.Object.URI
	}
	key := string(rune(b.Source)) + name
	if id, ok := w.loads[key]; ok {
		return id
	}
	w.nextLoad++
	if w.txFirstLoad == 0 {
		w.txFirstLoad = w.nextLoad
	}
	w.loads[key] = w.nextLoad
	w.newLoads = append(w.newLoads, loadRow{id: w.nextLoad, source: b.Source, object: name, at: w.db.opts.Now().UTC()})
	return w.nextLoad
}

// Reject implements keymeter.Writer. Rejects are kept in memory until the
// commit; the caller commits often enough to bound them.
func (w *writer) Reject(ctx context.Context, rejects []keymeter.Reject) error {
	if err := w.usable(ctx); err != nil {
		return err
	}
	w.rejects = append(w.rejects, rejects...)
	return nil
}

// FinishObject implements keymeter.Writer.
func (w *writer) FinishObject(ctx context.Context, rec keymeter.ObjectRecord) error {
	if err := w.usable(ctx); err != nil {
		return err
	}
	w.objects = append(w.objects, rec)
	return nil
}

// Commit implements keymeter.Writer.
func (w *writer) Commit(ctx context.Context) error {
	if !w.inTx {
		return nil
	}
	if !w.prepared {
		if err := w.writeAll(ctx); err != nil {
			return errors.Join(err, w.rollback())
		}
	}
	if _, err := w.conn.ExecContext(ctx, `COMMIT`); err != nil {
		return errors.Join(fmt.Errorf("commit: %w", err), w.rollback())
	}
	w.inTx = false
	w.seen.commit()
	for k, n := range w.rr.hours {
		w.seen.forget(k, n)
	}
	w.reset()
	return nil
}

// writeAll writes everything the transaction holds into it.
func (w *writer) writeAll(ctx context.Context) error {
	w.txTime = time.Time{}
	if w.rr.retracting() {
		w.txTime = w.db.opts.Now().UTC()
	}
	steps := []func(context.Context) error{
		w.endInsert, w.writeDict, w.writeLoads, w.writeRereads, w.writeRollups, w.writeProgress, w.writeRejects, w.writeObjects, w.writeHours, w.writeCheckpoints, w.writeLakeFiles,
	}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return err
		}
	}
	return nil
}

// reset forgets what the finished transaction wrote. Loads are per
// transaction: the rows of a transaction are those of its loads, from
// txFirstLoad on (see writeRollups).
func (w *writer) reset() {
	clear(w.loads)
	w.txFirstLoad = 0
	w.dict, w.keys, w.objects, w.rejects, w.newLoads = w.dict[:0], w.keys[:0], w.objects[:0], w.rejects[:0], w.newLoads[:0]
	clear(w.checkpoints)
	w.lakeFiles = w.lakeFiles[:0]
	w.rr.reset()
	w.prepared = false
}

// rollback abandons the transaction and everything remembered about it.
// It returns what went wrong ending the insert or rolling back, which
// leaves the writer's memory of the transaction cleared all the same. A
// transaction DuckDB ended itself (as it does when a commit fails) is
// rolled back already.
func (w *writer) rollback() error {
	err := w.endInsert(context.Background())
	if w.inTx {
		if _, rerr := w.conn.ExecContext(context.Background(), `ROLLBACK`); rerr != nil && !strings.Contains(rerr.Error(), "no transaction is active") {
			err = errors.Join(err, fmt.Errorf("roll back: %w", rerr))
		}
		w.inTx = false
	}
	if w.cur != nil {
		w.cur.reset()
		w.free <- w.cur
		w.cur = nil
	}
	w.seen.rollback()
	clear(w.known)
	clear(w.loads)
	w.reset()
	return err
}

// Close implements keymeter.Writer: it rolls back anything not committed.
func (w *writer) Close() error {
	if w.conn == nil {
		return nil
	}
	err := errors.Join(w.rollback(), w.conn.Close())
	w.conn = nil
	w.db.mu.Lock()
	w.db.writer = false
	w.db.mu.Unlock()
	return err
}

// writeLoads records the loads of this transaction.
func (w *writer) writeLoads(ctx context.Context) error {
	for start := 0; start < len(w.newLoads); start += 500 {
		loads := w.newLoads[start:min(start+500, len(w.newLoads))]
		args := make([]any, 0, 4*len(loads))
		for _, l := range loads {
			var object any
			if l.object != "" {
				object = keymeter.ValidUTF8(l.object)
			}
			at := l.at
			if !w.txTime.IsZero() {
				at = w.txTime
			}
			args = append(args, l.id, uint8(l.source), object, at)
		}
		if _, err := w.conn.ExecContext(ctx, `INSERT INTO loads VALUES `+placeholders(len(loads), 4), args...); err != nil {
			return fmt.Errorf("record loads: %w", err)
		}
	}
	return nil
}

// writeDict stores new dictionary entries and key fingerprints, in a
// transaction of their own on another connection, and checks entries for
// hash collisions: an ID already stored with other values is an error.
// Entries committed without the events that use them are harmless, and
// keeping them out of the events' transaction keeps that one lean.
// Values are stored valid UTF-8, by keymeter.ValidUTF8's rule; an error
// names the objects whose entries could not be stored.
func (w *writer) writeDict(ctx context.Context) error {
	if len(w.dict) == 0 && len(w.keys) == 0 {
		return nil
	}
	tx, err := w.db.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store dictionary: %w", err)
	}
	defer tx.Rollback()
	byKind := map[keymeter.DictKind][]dictItem{}
	for _, e := range w.dict {
		byKind[e.Kind] = append(byKind[e.Kind], e)
	}
	for kind, entries := range byKind {
		if err := insertDict(ctx, tx, kind, entries); err != nil {
			return err
		}
	}
	for start := 0; start < len(w.keys); start += 500 {
		keys := w.keys[start:min(start+500, len(w.keys))]
		args := make([]any, 0, 3*len(keys))
		for _, k := range keys {
			args = append(args, int64(k.ID), keymeter.ValidUTF8(k.Fingerprint), keymeter.ValidUTF8(k.Hint))
		}
		q := `INSERT OR IGNORE INTO api_keys (id, fingerprint, hint) VALUES ` + placeholders(len(keys), 3)
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("store key fingerprints of %s: %w", objectsOf(keys, func(k keyItem) string { return k.object }), err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store dictionary: %w", err)
	}
	return nil
}

// objectsOf names the distinct objects of items, for errors: at most
// three, and how many more.
func objectsOf[T any](items []T, object func(T) string) string {
	var names []string
	seen := map[string]bool{}
	for _, it := range items {
		o := object(it)
		if o == "" {
			o = "an unnamed object"
		}
		if !seen[o] {
			seen[o] = true
			names = append(names, o)
		}
	}
	if len(names) > 3 {
		return strings.Join(names[:3], ", ") + fmt.Sprintf(" and %d more objects", len(names)-3)
	}
	return strings.Join(names, ", ")
}

// dictTables gives, per kind, the table, its number of value columns
// (entries with fewer values leave the last ones NULL) and the expression
// that joins an entry's values with tabs, for the collision check.
var dictTables = map[keymeter.DictKind]struct {
	table  string
	cols   int
	values string
}{
	keymeter.DictPath:   {"dict_paths", 2, "raw || chr(9) || path"},
	keymeter.DictClient: {"dict_clients", 3, "concat_ws(chr(9), user_agent, referer, header_names)"},
	keymeter.DictDims:   {"dict_dims", len(dimsColumns), "concat_ws(chr(9), " + strings.Join(dimsColumns, ", ") + ")"},
}

// insertDict stores entries of one kind, 500 to a statement.
func insertDict(ctx context.Context, tx *sql.Tx, kind keymeter.DictKind, entries []dictItem) error {
	t, ok := dictTables[kind]
	if !ok {
		return fmt.Errorf("unknown dictionary kind %d", kind)
	}
	width := 2 + t.cols
	for start := 0; start < len(entries); start += 500 {
		chunk := entries[start:min(start+500, len(entries))]
		args := make([]any, 0, width*len(chunk))
		idArgs := make([]any, 0, len(chunk))
		want := make(map[int64]dictItem, len(chunk))
		for _, e := range chunk {
			e.Values = validValues(e.Values)
			var err error
			if args, err = appendDictRow(args, e.DictEntry, width); err != nil {
				return fmt.Errorf("%s: %w", e.object, err)
			}
			idArgs = append(idArgs, int64(e.ID))
			want[int64(e.ID)] = e
		}
		q := `INSERT OR IGNORE INTO ` + t.table + ` VALUES ` + placeholders(len(chunk), width)
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("store dictionary entries of %s: %w", objectsOf(chunk, func(e dictItem) string { return e.object }), err)
		}
		rows, err := tx.QueryContext(ctx, `SELECT id, `+t.values+` FROM `+t.table+` WHERE id IN (`+qmarks(len(idArgs))+`)`, idArgs...)
		if err != nil {
			return fmt.Errorf("check dictionary entries: %w", err)
		}
		for rows.Next() {
			var id int64
			var have string
			if err := rows.Scan(&id, &have); err != nil {
				rows.Close()
				return fmt.Errorf("check dictionary entries: %w", err)
			}
			if e := want[id]; have != strings.Join(e.Values, "\t") {
				rows.Close()
				return fmt.Errorf("dictionary hash collision on %x (an entry of %s): %q and %q", uint64(id), e.object, have, strings.Join(e.Values, "\t"))
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("check dictionary entries: %w", err)
		}
	}
	return nil
}

// validValues returns values made valid UTF-8 (keymeter.ValidUTF8), in a
// new slice only when one of them was not.
func validValues(values []string) []string {
	for i, v := range values {
		if vv := keymeter.ValidUTF8(v); len(vv) != len(v) {
			out := slices.Clone(values)
			out[i] = vv
			for j := i + 1; j < len(out); j++ {
				out[j] = keymeter.ValidUTF8(out[j])
			}
			return out
		}
	}
	return values
}

// qmarks returns n comma-separated question marks.
func qmarks(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// placeholders returns n groups of width question marks: "(?, ?), (?, ?)".
func placeholders(n, width int) string {
	return strings.TrimSuffix(strings.Repeat("("+qmarks(width)+"), ", n), ", ")
}

// writeRejects stores the rejected records of this transaction, with
// their strings made valid UTF-8 and cut (keymeter.CutText), and the
// length of the record as read.
func (w *writer) writeRejects(ctx context.Context) error {
	if len(w.rejects) == 0 {
		return nil
	}
	return w.conn.Raw(func(dc any) error {
		app, err := duckdb.NewAppenderFromConn(dc.(driver.Conn), "", "rejects")
		if err != nil {
			return fmt.Errorf("keep rejects: %w", err)
		}
		for _, r := range w.rejects {
			textLen := max(r.TextLen, int64(len(r.Text)))
			if err := app.AppendRow(uint8(r.Source), keymeter.ValidUTF8(r.Object), r.Line, keymeter.CutText(r.Field, keymeter.MaxRejectField),
				keymeter.CutText(r.Reason, keymeter.MaxRejectReason), keymeter.CutText(r.Text, keymeter.MaxRejectText), r.At.UTC(), textLen); err != nil {
				app.Close()
				return fmt.Errorf("keep reject: %w", err)
			}
		}
		if err := app.Close(); err != nil {
			return fmt.Errorf("keep rejects: %w", err)
		}
		return nil
	})
}

// writeObjects records finished objects.
func (w *writer) writeObjects(ctx context.Context) error {
	now := w.db.opts.Now().UTC()
	for start := 0; start < len(w.objects); start += 200 {
		objects := w.objects[start:min(start+200, len(w.objects))]
		args := make([]any, 0, 12*len(objects))
		for _, o := range objects {
			args = append(args, keymeter.ValidUTF8(o.URI), o.Size, nullTime(o.ModTime), keymeter.ValidUTF8(o.Digest), keymeter.ValidUTF8(o.ETag),
				o.Status, keymeter.ValidUTF8(o.Error), now,
				o.Lines, o.Events, o.Duplicates, o.Rejected)
		}
		if _, err := w.conn.ExecContext(ctx, `INSERT INTO objects VALUES `+placeholders(len(objects), 12), args...); err != nil {
			return fmt.Errorf("record objects: %w", err)
		}
	}
	return nil
}

// writeHours adds this transaction's rows to the per-hour counts.
func (w *writer) writeHours(ctx context.Context) error {
	var args []any
	w.seen.eachAdded(func(k hourKey, n int64) {
		args = append(args, uint8(k.source), k.hour, n)
	})
	for start := 0; start < len(args); start += 1500 {
		part := args[start:min(start+1500, len(args))]
		_, err := w.conn.ExecContext(ctx, `INSERT INTO event_hours VALUES `+placeholders(len(part)/3, 3)+`
			ON CONFLICT (source, hour) DO UPDATE SET events = events + excluded.events`, part...)
		if err != nil {
			return fmt.Errorf("count events per hour: %w", err)
		}
	}
	return nil
}
