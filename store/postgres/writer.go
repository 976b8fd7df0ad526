package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/keymeter/keymeter"
)

// How writers keep exactly-once totals, alone or many at once:
//
// A writer holds what its transaction will commit in memory — the new
// hours of each request ID, the rollup deltas, the keys seen, the object
// records, rejects and checkpoints — and writes it all at Commit, in one
// PostgreSQL transaction (READ COMMITTED). Write decides which rows are
// duplicates against the IDs committed so far (read once per ID and
// transaction) and those written earlier in the transaction.
//
// Another writer (another worker) may commit some of the same IDs between
// that read and Commit. Commit therefore adds the transaction's new hours
// to dedupe_ids with one INSERT ... ON CONFLICT DO UPDATE whose update is
// conditional on no stored hour of the ID being within the window of a
// new one. On a conflict PostgreSQL locks the ID's row and, under READ
// COMMITTED, waits for a concurrent writer of the same row and then
// evaluates the condition against its committed version, so the writers
// of one ID serialise on that row. If any of the transaction's IDs turns
// out to be a duplicate after all, the write rolls back and Commit
// returns an ECONFLICT error (ErrRaced): the batches' counts and the
// rollup deltas were computed on a state that no longer holds, and
// nothing of the transaction is kept. The caller writes the transaction
// again (ingest reads the object again, a stream resumes from its
// committed checkpoint), and the second time the IDs are duplicates from
// the start. Rows are locked in one order (IDs sorted, then rollup rows
// sorted, then keys sorted), so that writers do not deadlock; a deadlock
// or serialisation failure PostgreSQL reports anyway is ErrRaced too.

// ErrRaced is the error (code ECONFLICT) a Commit returns when another
// writer committed some of the same events first: nothing was committed
// and the transaction is to be written again.
var ErrRaced = keymeter.Errorf(keymeter.ECONFLICT, "another writer committed some of the same events first; nothing was committed: write the transaction again")

type idKey struct {
	source keymeter.Source
	id     [2]uint64
}

type rollupKey struct {
	source      keymeter.Source
	day         int32
	keyID       uint64
	attribution keymeter.Attribution
}

type usageDelta struct {
	requests, ttCount           int64
	edgeHits, edgeErrors        int64
	bytesSent, bytesRecv, ttSum keymeter.Int128
}

type latencyKey struct {
	rollupKey
	bucket int64
}

type keySeen struct {
	last int64 // Unix microseconds of the newest stored event
	any  bool  // an event of the key was stored
}

type writer struct {
	s      *DB
	closed bool
	broken error // a failed Commit; the writer must be closed

	committed map[idKey][]int64 // hours committed before, as read
	added     map[idKey][]int64 // hours added in this transaction
	usage     map[rollupKey]*usageDelta
	latency   map[latencyKey]int64
	keys      map[uint64]*keySeen
	objects   []keymeter.ObjectRecord
	rejects   []keymeter.Reject
	checks    map[[2]string]string
	rereads   []string // URIs read again from their start
	progress  map[dimsKey]span
	hours     map[hourKey]bool
}

var (
	_ keymeter.Writer       = (*writer)(nil)
	_ keymeter.Checkpointer = (*writer)(nil)
	_ keymeter.Rereader     = (*writer)(nil)
)

// Reread implements keymeter.Rereader without retract: at the next
// Commit, the rejects kept from earlier reads of o.URI are dropped
// unless one of them was recorded complete. Retracting events needs
// the events, which are to be in the lake: with retract it returns an
// EINVALID error.
func (w *writer) Reread(ctx context.Context, o keymeter.Object, retract bool) (keymeter.Retraction, error) {
	if err := w.usable(); err != nil {
		return keymeter.Retraction{}, err
	}
	if retract {
		return keymeter.Retraction{}, keymeter.Errorf(keymeter.EINVALID, "the PostgreSQL store cannot retract events yet: retraction needs the event lake")
	}
	w.rereads = append(w.rereads, keymeter.ValidUTF8(o.URI))
	return keymeter.Retraction{}, nil
}

// NewWriter implements keymeter.Store. One writer of a DB may be open at
// a time; writers of other DBs (other processes) on the same database
// may write at the same time.
func (s *DB) NewWriter(ctx context.Context) (keymeter.Writer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.writing {
		return nil, keymeter.Errorf(keymeter.ECONFLICT, "another writer of this store is open")
	}
	s.writing = true
	w := &writer{s: s}
	w.reset()
	return w, nil
}

func (w *writer) reset() {
	w.committed = map[idKey][]int64{}
	w.added = map[idKey][]int64{}
	w.usage = map[rollupKey]*usageDelta{}
	w.latency = map[latencyKey]int64{}
	w.keys = map[uint64]*keySeen{}
	w.objects, w.rejects = nil, nil
	w.checks = map[[2]string]string{}
	w.rereads = nil
	w.progress = map[dimsKey]span{}
	w.hours = map[hourKey]bool{}
}

func (w *writer) usable() error {
	if w.closed {
		return keymeter.Errorf(keymeter.EINVALID, "the writer is closed")
	}
	return w.broken
}

const microsPerHour = 3_600_000_000

func hourOf(us int64) int64 {
	h := us / microsPerHour
	if us < 0 && us%microsPerHour != 0 {
		h--
	}
	return h
}

// Write implements keymeter.Writer.
func (w *writer) Write(ctx context.Context, b *keymeter.Batch) (keymeter.WriteResult, error) {
	var res keymeter.WriteResult
	if err := w.usable(); err != nil {
		return res, err
	}
	if err := w.loadIDs(ctx, b); err != nil {
		return res, err
	}
	if err := w.storeHanded(ctx, b); err != nil {
		return res, err
	}
	if err := w.loadDims(ctx, b); err != nil {
		return res, err
	}
	for i := range b.Rows {
		r := &b.Rows[i]
		k := idKey{b.Source, r.ID}
		h := hourOf(r.Time)
		if w.isCopy(k, h) {
			res.Duplicates++
			continue
		}
		w.added[k] = append(w.added[k], h)
		res.Stored++
		if int(r.Attribution) < len(res.ByAttribution) {
			res.ByAttribution[r.Attribution]++
		}
		day := keymeter.DayOf(r.Time)
		if r.KeyID == 0 {
			if res.UnattributedByDay == nil {
				res.UnattributedByDay = map[keymeter.DayAttribution]int{}
			}
			res.UnattributedByDay[keymeter.DayAttribution{Day: day, Attribution: r.Attribution}]++
		} else {
			// The key was stored when a batch handed it (storeHanded), in
			// this transaction or before: only its last seen time moves on.
			ks := w.keys[r.KeyID]
			if ks == nil {
				ks = &keySeen{}
				w.keys[r.KeyID] = ks
			}
			if !ks.any || r.Time > ks.last {
				ks.last, ks.any = r.Time, true
			}
		}
		rk := rollupKey{b.Source, day, r.KeyID, r.Attribution}
		u := w.usage[rk]
		if u == nil {
			u = &usageDelta{}
			w.usage[rk] = u
		}
		u.requests++
		w.noteProgress(b.Source, r)
		switch w.outcome(b.Source, r) {
		case edgeHit:
			u.edgeHits++
		case edgeError:
			u.edgeErrors++
		}
		if r.BytesSent > 0 {
			u.bytesSent = u.bytesSent.Add64(r.BytesSent)
		}
		if r.BytesRecv > 0 {
			u.bytesRecv = u.bytesRecv.Add64(r.BytesRecv)
		}
		if r.TimeTaken >= 0 {
			u.ttCount++
			u.ttSum = u.ttSum.Add64(int64(r.TimeTaken))
			w.latency[latencyKey{rk, keymeter.LatencyBucket(int64(r.TimeTaken))}]++
		}
	}
	return res, nil
}

// isCopy reports whether an event of ID k in hour h is a copy of one
// committed or written before: one in an hour at most the window away.
func (w *writer) isCopy(k idKey, h int64) bool {
	for _, hours := range [2][]int64{w.committed[k], w.added[k]} {
		for _, o := range hours {
			if abs(o-h) <= w.s.window {
				return true
			}
		}
	}
	return false
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// loadIDs reads the committed hours of the batch's IDs that the
// transaction has not read yet.
func (w *writer) loadIDs(ctx context.Context, b *keymeter.Batch) error {
	var src []int16
	var hi, lo []int64
	asked := map[idKey]bool{}
	for i := range b.Rows {
		k := idKey{b.Source, b.Rows[i].ID}
		if _, ok := w.committed[k]; ok || asked[k] {
			continue
		}
		asked[k] = true
		src = append(src, int16(k.source))
		hi = append(hi, int64(k.id[0]))
		lo = append(lo, int64(k.id[1]))
	}
	if len(src) == 0 {
		return nil
	}
	rows, err := w.s.pool.Query(ctx, `SELECT d.id_hi, d.id_lo, d.hours FROM dedupe_ids d
		JOIN unnest($1::smallint[], $2::bigint[], $3::bigint[]) AS t(s, a, b)
		ON d.source = t.s AND d.id_hi = t.a AND d.id_lo = t.b`, src, hi, lo)
	if err != nil {
		return fmt.Errorf("write: read dedupe IDs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a, c int64
		var hours []int64
		if err := rows.Scan(&a, &c, &hours); err != nil {
			return fmt.Errorf("write: read dedupe IDs: %w", err)
		}
		w.committed[idKey{b.Source, [2]uint64{uint64(a), uint64(c)}}] = hours
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("write: read dedupe IDs: %w", err)
	}
	for k := range asked {
		if _, ok := w.committed[k]; !ok {
			w.committed[k] = nil
		}
	}
	return nil
}

// Reject implements keymeter.Writer.
func (w *writer) Reject(ctx context.Context, rejects []keymeter.Reject) error {
	if err := w.usable(); err != nil {
		return err
	}
	for _, r := range rejects {
		r.Object = keymeter.ValidUTF8(r.Object)
		r.Field = keymeter.CutText(keymeter.ValidUTF8(r.Field), keymeter.MaxRejectField)
		r.Reason = keymeter.CutText(keymeter.ValidUTF8(r.Reason), keymeter.MaxRejectReason)
		if r.TextLen == 0 {
			r.TextLen = int64(len(r.Text))
		}
		r.Text = keymeter.CutText(keymeter.ValidUTF8(r.Text), keymeter.MaxRejectText)
		w.rejects = append(w.rejects, r)
	}
	return nil
}

// FinishObject implements keymeter.Writer.
func (w *writer) FinishObject(ctx context.Context, rec keymeter.ObjectRecord) error {
	if err := w.usable(); err != nil {
		return err
	}
	w.objects = append(w.objects, rec)
	return nil
}

// SetCheckpoint implements keymeter.Checkpointer.
func (w *writer) SetCheckpoint(ctx context.Context, stream, shard, sequence string) error {
	if err := w.usable(); err != nil {
		return err
	}
	w.checks[[2]string{stream, shard}] = sequence
	return nil
}

// Close implements keymeter.Writer: what was not committed is dropped.
func (w *writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	w.reset()
	w.s.mu.Lock()
	w.s.writing = false
	w.s.mu.Unlock()
	return nil
}

// Commit implements keymeter.Writer: everything since the last Commit
// goes in one PostgreSQL transaction. It returns ErrRaced when another
// writer committed some of the same events first; the writer must then
// be closed.
func (w *writer) Commit(ctx context.Context) error {
	if err := w.usable(); err != nil {
		return err
	}
	err := w.commit(ctx)
	if err != nil {
		if raced(err) {
			err = ErrRaced
		}
		w.broken = err
		return err
	}
	// The next transaction reads the IDs it meets again, so that memory
	// holds one transaction's IDs however long the writer lives.
	w.reset()
	return nil
}

// raced reports whether err is a conflict with a concurrent transaction.
func raced(err error) bool {
	if errors.Is(err, ErrRaced) {
		return true
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

func (w *writer) commit(ctx context.Context) error {
	tx, err := w.s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	defer tx.Rollback(context.Background())
	for _, step := range []struct {
		what string
		fn   func(context.Context, pgx.Tx) error
	}{
		{"rereads", w.commitRereads},
		{"dedupe IDs", w.commitIDs},
		{"daily rollups", w.commitRollups},
		{"source progress", w.commitProgress},
		{"keys", w.commitKeys},
		{"objects", w.commitObjects},
		{"rejects", w.commitRejects},
		{"checkpoints", w.commitCheckpoints},
	} {
		if err := step.fn(ctx, tx); err != nil {
			if errors.Is(err, ErrRaced) {
				return err
			}
			return fmt.Errorf("commit %s: %w", step.what, err)
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO commits (committed_at) VALUES ($1)`, w.s.opts.Now().UTC()); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// commitIDs adds the transaction's hours to dedupe_ids, in ID order. An
// ID whose stored hours have one within the window of a new one (another
// writer stored the same event since Write read it) is not updated, and
// then fewer rows are affected than sent: the transaction raced.
func (w *writer) commitIDs(ctx context.Context, tx pgx.Tx) error {
	if len(w.added) == 0 {
		return nil
	}
	keys := make([]idKey, 0, len(w.added))
	for k := range w.added {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b idKey) int {
		return cmp.Or(cmp.Compare(a.source, b.source), cmp.Compare(int64(a.id[0]), int64(b.id[0])), cmp.Compare(int64(a.id[1]), int64(b.id[1])))
	})
	src := make([]int16, len(keys))
	hi := make([]int64, len(keys))
	lo := make([]int64, len(keys))
	hours := make([]string, len(keys))
	var sb strings.Builder
	for i, k := range keys {
		src[i], hi[i], lo[i] = int16(k.source), int64(k.id[0]), int64(k.id[1])
		sb.Reset()
		sb.WriteByte('{')
		for j, h := range w.added[k] {
			if j > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString(strconv.FormatInt(h, 10))
		}
		sb.WriteByte('}')
		hours[i] = sb.String()
	}
	tag, err := tx.Exec(ctx, `INSERT INTO dedupe_ids AS d (source, id_hi, id_lo, hours)
		SELECT s, a, b, h::bigint[] FROM unnest($1::smallint[], $2::bigint[], $3::bigint[], $4::text[]) WITH ORDINALITY AS t(s, a, b, h, n)
		ORDER BY n
		ON CONFLICT (source, id_hi, id_lo) DO UPDATE SET hours = d.hours || excluded.hours
		WHERE NOT EXISTS (SELECT 1 FROM unnest(d.hours) o, unnest(excluded.hours) x WHERE abs(o - x) <= $5)`,
		src, hi, lo, hours, w.s.window)
	if err != nil {
		return err
	}
	if tag.RowsAffected() != int64(len(keys)) {
		return ErrRaced
	}
	return nil
}

func compareRollup(a, b rollupKey) int {
	return cmp.Or(cmp.Compare(a.source, b.source), cmp.Compare(a.day, b.day),
		cmp.Compare(int64(a.keyID), int64(b.keyID)), cmp.Compare(a.attribution, b.attribution))
}

// dayDate returns the UTC midnight of a day since 1970-01-01.
func dayDate(d int32) time.Time {
	return time.Unix(int64(d)*86400, 0).UTC()
}

// commitRollups adds the transaction's deltas to the daily rollups, in
// key order.
func (w *writer) commitRollups(ctx context.Context, tx pgx.Tx) error {
	if len(w.usage) > 0 {
		keys := make([]rollupKey, 0, len(w.usage))
		for k := range w.usage {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, compareRollup)
		n := len(keys)
		src, attr := make([]int16, n), make([]int16, n)
		days := make([]time.Time, n)
		keyIDs, reqs, ttc := make([]int64, n), make([]int64, n), make([]int64, n)
		hits, errs := make([]int64, n), make([]int64, n)
		sent, recv, tts := make([]string, n), make([]string, n), make([]string, n)
		for i, k := range keys {
			u := w.usage[k]
			src[i], days[i], keyIDs[i], attr[i] = int16(k.source), dayDate(k.day), int64(k.keyID), int16(k.attribution)
			reqs[i], ttc[i] = u.requests, u.ttCount
			hits[i], errs[i] = u.edgeHits, u.edgeErrors
			sent[i], recv[i], tts[i] = u.bytesSent.String(), u.bytesRecv.String(), u.ttSum.String()
		}
		_, err := tx.Exec(ctx, `INSERT INTO usage_daily AS u
				(source, day, key_id, attribution, requests, bytes_sent, bytes_received, tt_count, tt_sum, edge_hits, edge_errors)
			SELECT s, d, k, a, r, bs::numeric, br::numeric, tc, ts::numeric, eh, ee
			FROM unnest($1::smallint[], $2::date[], $3::bigint[], $4::smallint[], $5::bigint[], $6::text[], $7::text[], $8::bigint[], $9::text[],
				$10::bigint[], $11::bigint[])
				WITH ORDINALITY AS t(s, d, k, a, r, bs, br, tc, ts, eh, ee, n)
			ORDER BY n
			ON CONFLICT (source, day, key_id, attribution) DO UPDATE SET
				requests = u.requests + excluded.requests,
				bytes_sent = u.bytes_sent + excluded.bytes_sent,
				bytes_received = u.bytes_received + excluded.bytes_received,
				tt_count = u.tt_count + excluded.tt_count,
				tt_sum = u.tt_sum + excluded.tt_sum,
				edge_hits = u.edge_hits + excluded.edge_hits,
				edge_errors = u.edge_errors + excluded.edge_errors`,
			src, days, keyIDs, attr, reqs, sent, recv, ttc, tts, hits, errs)
		if err != nil {
			return err
		}
	}
	if len(w.latency) > 0 {
		keys := make([]latencyKey, 0, len(w.latency))
		for k := range w.latency {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b latencyKey) int {
			return cmp.Or(compareRollup(a.rollupKey, b.rollupKey), cmp.Compare(a.bucket, b.bucket))
		})
		n := len(keys)
		src, attr, buckets := make([]int16, n), make([]int16, n), make([]int16, n)
		days := make([]time.Time, n)
		keyIDs, counts := make([]int64, n), make([]int64, n)
		for i, k := range keys {
			src[i], days[i], keyIDs[i], attr[i] = int16(k.source), dayDate(k.day), int64(k.keyID), int16(k.attribution)
			buckets[i], counts[i] = int16(k.bucket), w.latency[k]
		}
		_, err := tx.Exec(ctx, `INSERT INTO latency_daily AS l
			SELECT s, d, k, a, b, c
			FROM unnest($1::smallint[], $2::date[], $3::bigint[], $4::smallint[], $5::smallint[], $6::bigint[])
				WITH ORDINALITY AS t(s, d, k, a, b, c, n)
			ORDER BY n
			ON CONFLICT (source, day, key_id, attribution, bucket) DO UPDATE SET n = l.n + excluded.n`,
			src, days, keyIDs, attr, buckets, counts)
		if err != nil {
			return err
		}
	}
	return nil
}

// commitKeys moves the last seen time of the keys whose events the
// transaction stored on, in ID order. Every key was stored when a batch
// handed it (storeHanded); one that was not is an error of the caller.
func (w *writer) commitKeys(ctx context.Context, tx pgx.Tx) error {
	if len(w.keys) == 0 {
		return nil
	}
	ids := make([]uint64, 0, len(w.keys))
	for id := range w.keys {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b uint64) int { return cmp.Compare(int64(a), int64(b)) })
	keyIDs := make([]int64, len(ids))
	last := make([]time.Time, len(ids))
	for i, id := range ids {
		keyIDs[i], last[i] = int64(id), time.UnixMicro(w.keys[id].last).UTC()
	}
	tag, err := tx.Exec(ctx, `UPDATE api_keys AS k SET last_seen = GREATEST(k.last_seen, t.l)
		FROM (SELECT * FROM unnest($1::bigint[], $2::timestamptz[]) WITH ORDINALITY AS u(i, l, n) ORDER BY n) t
		WHERE k.id = t.i`, keyIDs, last)
	if err != nil {
		return err
	}
	if tag.RowsAffected() != int64(len(ids)) {
		return fmt.Errorf("%d of the keys the rows refer to were never handed to the store with their fingerprints", int64(len(ids))-tag.RowsAffected())
	}
	return nil
}

func (w *writer) commitObjects(ctx context.Context, tx pgx.Tx) error {
	now := w.s.opts.Now().UTC()
	for _, r := range w.objects {
		_, err := tx.Exec(ctx, `INSERT INTO objects (uri, size, mod_time, digest, etag, status, error, ingested_at, lines, events, duplicates, rejected)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			keymeter.ValidUTF8(r.URI), r.Size, nullTime(r.ModTime), keymeter.ValidUTF8(r.Digest), keymeter.ValidUTF8(r.ETag),
			r.Status, keymeter.ValidUTF8(r.Error), now, r.Lines, r.Events, r.Duplicates, r.Rejected)
		if err != nil {
			return fmt.Errorf("%s: %w", r.URI, err)
		}
		// A claimed object read completely is done; one read in part is
		// released, to be claimed again.
		if _, err := tx.Exec(ctx, `UPDATE object_claims SET done = $2, worker = NULL, lease_until = NULL WHERE uri = $1`,
			keymeter.ValidUTF8(r.URI), r.Status == keymeter.ObjectComplete); err != nil {
			return fmt.Errorf("%s: %w", r.URI, err)
		}
	}
	return nil
}

// commitRereads drops the rejects of earlier reads of the objects read
// again, unless one of those reads was recorded complete.
func (w *writer) commitRereads(ctx context.Context, tx pgx.Tx) error {
	if len(w.rereads) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `DELETE FROM rejects r WHERE r.object = ANY($1::text[])
		AND NOT EXISTS (SELECT 1 FROM objects o WHERE o.uri = r.object AND o.status = $2)`, w.rereads, keymeter.ObjectComplete)
	return err
}

func (w *writer) commitRejects(ctx context.Context, tx pgx.Tx) error {
	if len(w.rejects) == 0 {
		return nil
	}
	rows := make([][]any, len(w.rejects))
	for i, r := range w.rejects {
		rows[i] = []any{int16(r.Source), r.Object, r.Line, r.Field, r.Reason, []byte(r.Text), r.TextLen, r.At.UTC()}
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"rejects"},
		[]string{"source", "object", "line", "field", "reason", "text", "text_len", "rejected_at"}, pgx.CopyFromRows(rows))
	return err
}

func (w *writer) commitCheckpoints(ctx context.Context, tx pgx.Tx) error {
	keys := make([][2]string, 0, len(w.checks))
	for k := range w.checks {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) })
	for _, k := range keys {
		_, err := tx.Exec(ctx, `INSERT INTO checkpoints VALUES ($1, $2, $3)
			ON CONFLICT (stream, shard) DO UPDATE SET sequence = excluded.sequence`, k[0], k[1], w.checks[k])
		if err != nil {
			return err
		}
	}
	return nil
}
