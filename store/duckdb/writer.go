package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"maps"
	"strings"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/keymeter/keymeter"
)

// writer implements keymeter.Writer on one dedicated connection. Rows go
// through the raw appender into the connection's open transaction;
// everything else is plain SQL in the same transaction, so a Commit makes
// rows, dictionary entries, keys, rejects, object records and hour counts
// durable together.
type writer struct {
	db   *DB
	conn *sql.Conn
	app  *rowAppender
	rej  *duckdb.Appender

	inTx      bool
	seen      *seenIDs
	committed map[hourKey]int64 // hour counts as of the last commit
	delta     map[hourKey]int64 // rows added per hour since the last commit

	loads    map[string]uint32 // object URI (or "" for streams, per source) to load ID
	nextLoad uint32
	known    map[uint64]struct{} // dictionary entries and keys known to be stored
	dict     []keymeter.DictEntry
	keys     []keymeter.KeyFingerprint
	objects  []keymeter.ObjectRecord
}

// maxKnown bounds writer.known; it is cleared when full.
const maxKnown = 1 << 20

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
	w := &writer{db: s, conn: conn, loads: map[string]uint32{}, known: map[uint64]struct{}{}, delta: map[hourKey]int64{}}
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
	w.committed = maps.Clone(counts)
	w.seen = newSeenIDs(w.db.opts.SeenBudget, counts, w.loadHour)
	if err := w.conn.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM loads`).Scan(&w.nextLoad); err != nil {
		return fmt.Errorf("read loads: %w", err)
	}
	return w.conn.Raw(func(dc any) error {
		var err error
		w.app, err = newRowAppender(dc.(driver.Conn))
		if err != nil {
			return err
		}
		w.rej, err = duckdb.NewAppenderFromConn(dc.(driver.Conn), "", "rejects")
		if err != nil {
			w.app.close()
			return fmt.Errorf("create rejects appender: %w", err)
		}
		return nil
	})
}

// begin opens the transaction if none is open.
func (w *writer) begin(ctx context.Context) error {
	if w.inTx {
		return nil
	}
	if _, err := w.conn.ExecContext(ctx, `BEGIN TRANSACTION`); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	w.inTx = true
	return nil
}

// loadHour reads the IDs stored for one hour, including this
// transaction's.
func (w *writer) loadHour(k hourKey) (map[[2]uint64]struct{}, error) {
	ctx := context.Background()
	if err := w.conn.Raw(func(any) error { return w.app.flush() }); err != nil {
		return nil, err
	}
	from := time.UnixMicro(k.hour * 3_600_000_000).UTC()
	rows, err := w.conn.QueryContext(ctx, `SELECT id_hi, id_lo FROM event_rows WHERE source = ? AND ts >= ? AND ts < ?`,
		uint8(k.source), from, from.Add(time.Hour))
	if err != nil {
		return nil, fmt.Errorf("read event IDs: %w", err)
	}
	defer rows.Close()
	ids := make(map[[2]uint64]struct{}, w.seen.counts[k])
	for rows.Next() {
		var hi, lo int64
		if err := rows.Scan(&hi, &lo); err != nil {
			return nil, fmt.Errorf("read event IDs: %w", err)
		}
		ids[[2]uint64{uint64(hi), uint64(lo)}] = struct{}{}
	}
	return ids, rows.Err()
}

// Write implements keymeter.Writer.
func (w *writer) Write(ctx context.Context, b *keymeter.Batch) (keymeter.WriteResult, error) {
	var res keymeter.WriteResult
	if err := w.begin(ctx); err != nil {
		return res, err
	}
	load, err := w.load(ctx, b)
	if err != nil {
		return res, err
	}
	err = w.conn.Raw(func(any) error {
		var set *idSet
		for i := range b.Rows {
			r := &b.Rows[i]
			if k := hourOf(b.Source, r.Time); set == nil || set.key != k {
				if set, err = w.seen.set(k); err != nil {
					return err
				}
			}
			if !w.seen.add(set, r.ID) {
				res.Duplicates++
				continue
			}
			w.delta[set.key]++
			res.Stored++
			res.ByAttribution[r.Attribution]++
			if err := w.app.add(b.Source, r, b.RestOf(i), load); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	for _, e := range b.Dict {
		if w.learn(e.ID) {
			w.dict = append(w.dict, e)
		}
	}
	for _, k := range b.Keys {
		if w.learn(k.ID ^ keyTag) {
			w.keys = append(w.keys, k)
		}
	}
	return res, nil
}

// keyTag keeps key IDs and dictionary IDs apart in writer.known.
const keyTag = 0x9e3779b97f4a7c15

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

// load returns the load ID for a batch's object, recording new loads.
func (w *writer) load(ctx context.Context, b *keymeter.Batch) (uint32, error) {
	name := ""
	if b.Object != nil {
		name = b.Object.URI
	}
	key := fmt.Sprintf("%d\x00%s", b.Source, name)
	if id, ok := w.loads[key]; ok {
		return id, nil
	}
	w.nextLoad++
	id := w.nextLoad
	var object any
	if b.Object != nil {
		object = name
	}
	_, err := w.conn.ExecContext(ctx, `INSERT INTO loads VALUES (?, ?, ?, ?)`, id, uint8(b.Source), object, w.db.opts.Now().UTC())
	if err != nil {
		return 0, fmt.Errorf("record load: %w", err)
	}
	w.loads[key] = id
	return id, nil
}

// Reject implements keymeter.Writer.
func (w *writer) Reject(ctx context.Context, rejects []keymeter.Reject) error {
	if err := w.begin(ctx); err != nil {
		return err
	}
	return w.conn.Raw(func(any) error {
		for _, r := range rejects {
			text := strings.ToValidUTF8(r.Text, "\uFFFD")
			if err := w.rej.AppendRow(uint8(r.Source), r.Object, r.Line, r.Field, r.Reason, text, r.At.UTC()); err != nil {
				return fmt.Errorf("keep reject: %w", err)
			}
		}
		return nil
	})
}

// FinishObject implements keymeter.Writer.
func (w *writer) FinishObject(ctx context.Context, rec keymeter.ObjectRecord) error {
	if err := w.begin(ctx); err != nil {
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
	err := w.conn.Raw(func(any) error {
		if err := w.app.flush(); err != nil {
			return err
		}
		if err := w.rej.Flush(); err != nil {
			return fmt.Errorf("flush rejects: %w", err)
		}
		return nil
	})
	if err == nil {
		err = w.writeDict(ctx)
	}
	if err == nil {
		err = w.writeKeys(ctx)
	}
	if err == nil {
		err = w.writeObjects(ctx)
	}
	if err == nil {
		err = w.writeHours(ctx)
	}
	if err == nil {
		if _, err = w.conn.ExecContext(ctx, `COMMIT`); err != nil {
			err = fmt.Errorf("commit: %w", err)
		}
	}
	if err != nil {
		w.rollback()
		return err
	}
	w.inTx = false
	for k, n := range w.delta {
		w.committed[k] += n
	}
	clear(w.delta)
	w.dict, w.keys, w.objects = w.dict[:0], w.keys[:0], w.objects[:0]
	return nil
}

// rollback abandons the transaction and everything remembered about it.
func (w *writer) rollback() {
	if w.inTx {
		w.conn.ExecContext(context.Background(), `ROLLBACK`)
		w.inTx = false
	}
	w.conn.Raw(func(any) error {
		w.app.clear()
		w.rej.Clear()
		return nil
	})
	clear(w.delta)
	clear(w.known)
	clear(w.loads)
	w.dict, w.keys, w.objects = w.dict[:0], w.keys[:0], w.objects[:0]
	w.seen.forget(maps.Clone(w.committed))
}

// Close implements keymeter.Writer: it rolls back anything not committed.
func (w *writer) Close() error {
	if w.app == nil {
		return nil
	}
	if w.inTx {
		w.rollback()
	}
	w.conn.Raw(func(any) error {
		w.app.close()
		w.rej.Clear()
		w.rej.Close()
		return nil
	})
	w.app = nil
	err := w.conn.Close()
	w.db.mu.Lock()
	w.db.writer = false
	w.db.mu.Unlock()
	return err
}

// writeDict stores new dictionary entries and checks them for hash
// collisions: an ID already stored with different values is an error.
func (w *writer) writeDict(ctx context.Context) error {
	if len(w.dict) == 0 {
		return nil
	}
	for _, e := range w.dict {
		var q string
		args := []any{int64(e.ID), uint8(e.Source)}
		switch e.Kind {
		case keymeter.DictPath:
			q = `INSERT OR IGNORE INTO dict_paths VALUES (?, ?, ?, ?)`
		case keymeter.DictClient:
			q = `INSERT OR IGNORE INTO dict_clients VALUES (?, ?, ?, ?)`
		case keymeter.DictDims:
			q = `INSERT OR IGNORE INTO dict_dims VALUES (?, ?` + strings.Repeat(", ?", len(dimsColumns)) + `)`
		default:
			return fmt.Errorf("unknown dictionary kind %d", e.Kind)
		}
		for _, v := range e.Values {
			args = append(args, v)
		}
		for len(args) < strings.Count(q, "?") {
			args = append(args, nil)
		}
		if _, err := w.conn.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("store dictionary entry: %w", err)
		}
		if err := w.checkCollision(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

// checkCollision returns an error when the stored entry with e's ID holds
// other values than e.
func (w *writer) checkCollision(ctx context.Context, e keymeter.DictEntry) error {
	var q string
	switch e.Kind {
	case keymeter.DictPath:
		q = `SELECT raw FROM dict_paths WHERE id = ?`
	case keymeter.DictClient:
		q = `SELECT coalesce(user_agent, '') || chr(9) || coalesce(referer, '') FROM dict_clients WHERE id = ?`
	case keymeter.DictDims:
		q = `SELECT concat_ws(chr(9), ` + strings.Join(dimsColumns, ", ") + `) FROM dict_dims WHERE id = ?`
	}
	var have string
	if err := w.conn.QueryRowContext(ctx, q, int64(e.ID)).Scan(&have); err != nil {
		return fmt.Errorf("check dictionary entry: %w", err)
	}
	want := e.Values[0]
	if e.Kind != keymeter.DictPath {
		want = strings.Join(e.Values, "\t")
	}
	if have != want {
		return fmt.Errorf("dictionary hash collision on %x: %q and %q", e.ID, have, want)
	}
	return nil
}

// writeKeys stores fingerprints seen in logs that are not yet known.
func (w *writer) writeKeys(ctx context.Context) error {
	for _, k := range w.keys {
		_, err := w.conn.ExecContext(ctx, `INSERT OR IGNORE INTO api_keys (id, fingerprint, hint) VALUES (?, ?, ?)`, int64(k.ID), k.Fingerprint, k.Hint)
		if err != nil {
			return fmt.Errorf("store key fingerprint: %w", err)
		}
	}
	return nil
}

// writeObjects records finished objects.
func (w *writer) writeObjects(ctx context.Context) error {
	now := w.db.opts.Now().UTC()
	for _, o := range w.objects {
		_, err := w.conn.ExecContext(ctx, `INSERT INTO objects VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			o.URI, o.Size, nullTime(o.ModTime), o.Digest, o.ETag, o.Status, o.Error, now,
			o.Lines, o.Events, o.Duplicates, o.Rejected)
		if err != nil {
			return fmt.Errorf("record object %s: %w", o.URI, err)
		}
	}
	return nil
}

// writeHours adds this transaction's rows to the per-hour counts.
func (w *writer) writeHours(ctx context.Context) error {
	for k, n := range w.delta {
		_, err := w.conn.ExecContext(ctx, `INSERT INTO event_hours VALUES (?, ?, ?)
			ON CONFLICT (source, hour) DO UPDATE SET events = events + excluded.events`, uint8(k.source), k.hour, n)
		if err != nil {
			return fmt.Errorf("count events per hour: %w", err)
		}
	}
	return nil
}
