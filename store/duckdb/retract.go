package duckdb

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keymeter/keymeter"
)

var (
	_ keymeter.Rereader = (*writer)(nil)
	_ keymeter.Preparer = (*writer)(nil)
)

// rereads is what the writer's Reread calls queue for the commit.
type rereads struct {
	// dropRejects are object URIs read again: their rejects go, unless a
	// read of them was recorded complete (see keymeter.Rereader).
	dropRejects []string
	// The objects replaced (ingest --reprocess): their URIs and digests,
	// whose rejects and object records go, and the loads whose events are
	// retracted.
	uris, digests []string
	loads         []uint32
	// hours counts the retracted events per hour; their IDs are free
	// again (seenIDs.retract).
	hours map[hourKey]int64
	// gone says that km_gone holds the retracted events of CloudFront's
	// logs, for the edge rollups (see writeEdgeDelta).
	gone bool
}

func (r *rereads) retracting() bool { return len(r.uris) > 0 }

func (r *rereads) reset() {
	r.dropRejects, r.uris, r.digests, r.loads = r.dropRejects[:0], r.uris[:0], r.digests[:0], r.loads[:0]
	clear(r.hours)
	r.gone = false
}

// Reread implements keymeter.Rereader. The events to retract are read
// from the committed state, on a connection of the writer's store: they
// are the rows of committed loads, and the writer's connection is busy
// with the running INSERT.
func (w *writer) Reread(ctx context.Context, o keymeter.Object, retract bool) (keymeter.Retraction, error) {
	var res keymeter.Retraction
	if err := w.usable(ctx); err != nil {
		return res, err
	}
	if !retract {
		w.rr.dropRejects = append(w.rr.dropRejects, keymeter.ValidUTF8(o.URI))
		return res, nil
	}
	uris := []string{keymeter.ValidUTF8(o.URI)} // as stored
	if o.Digest != "" {
		rows, err := w.db.db.QueryContext(ctx, `SELECT DISTINCT uri FROM objects WHERE digest = ?`, keymeter.ValidUTF8(o.Digest))
		if err != nil {
			return res, fmt.Errorf("reread %s: %w", o.URI, err)
		}
		for rows.Next() {
			var u string
			if err := rows.Scan(&u); err != nil {
				rows.Close()
				return res, fmt.Errorf("reread %s: %w", o.URI, err)
			}
			if !slices.Contains(uris, u) {
				uris = append(uris, u)
			}
		}
		rows.Close()
		w.rr.digests = append(w.rr.digests, keymeter.ValidUTF8(o.Digest))
	}
	w.rr.uris = append(w.rr.uris, uris...)
	q := `SELECT id FROM loads WHERE object IN (` + qmarks(len(uris)) + `)`
	args := make([]any, len(uris))
	for i, u := range uris {
		args[i] = u
	}
	rows, err := w.db.db.QueryContext(ctx, q, args...)
	if err != nil {
		return res, fmt.Errorf("reread %s: %w", o.URI, err)
	}
	var loads []uint32
	for rows.Next() {
		var id uint32
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return res, fmt.Errorf("reread %s: %w", o.URI, err)
		}
		if !slices.Contains(w.rr.loads, id) {
			loads = append(loads, id)
		}
	}
	rows.Close()
	if len(loads) == 0 {
		return res, nil
	}
	w.rr.loads = append(w.rr.loads, loads...)
	rows, err = w.db.db.QueryContext(ctx, `SELECT source, epoch_us(ts), id_hi, id_lo FROM event_rows WHERE load_id IN (`+loadList(loads)+`)`)
	if err != nil {
		return res, fmt.Errorf("reread %s: %w", o.URI, err)
	}
	defer rows.Close()
	if w.rr.hours == nil {
		w.rr.hours = map[hourKey]int64{}
	}
	var first, last int64
	for rows.Next() {
		var src uint8
		var ts, hi, lo int64
		if err := rows.Scan(&src, &ts, &hi, &lo); err != nil {
			return res, fmt.Errorf("reread %s: %w", o.URI, err)
		}
		k := hourOf(keymeter.Source(src), ts)
		w.seen.retract(k.source, [2]uint64{uint64(hi), uint64(lo)}, k.hour)
		w.rr.hours[k]++
		if res.Events == 0 || ts < first {
			first = ts
		}
		if res.Events == 0 || ts > last {
			last = ts
		}
		res.Events++
	}
	if err := rows.Err(); err != nil {
		return res, fmt.Errorf("reread %s: %w", o.URI, err)
	}
	if res.Events > 0 {
		res.From, res.To = time.UnixMicro(first).UTC(), time.UnixMicro(last).UTC()
	}
	return res, nil
}

// loadList writes load IDs as a SQL list.
func loadList(ids []uint32) string {
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.FormatUint(uint64(id), 10))
	}
	return b.String()
}

// writeRereads applies the queued rereads in the transaction: retracted
// events move to retracted_events, the rollups of the days they leave are
// computed again from the events that stay (this transaction's new events
// are added after, by writeRollups), and the replaced rejects and object
// records go.
func (w *writer) writeRereads(ctx context.Context) error {
	exec := func(q string, args ...any) error {
		if _, err := w.conn.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("replace earlier reads: %w", err)
		}
		return nil
	}
	for start := 0; start < len(w.rr.dropRejects); start += 500 {
		part := w.rr.dropRejects[start:min(start+500, len(w.rr.dropRejects))]
		args := make([]any, 0, len(part)+1)
		for _, u := range part {
			args = append(args, u)
		}
		args = append(args, keymeter.ObjectComplete)
		if err := exec(`DELETE FROM rejects WHERE object IN (`+qmarks(len(part))+`)
			AND object NOT IN (SELECT uri FROM objects WHERE status = ?)`, args...); err != nil {
			return err
		}
	}
	if !w.rr.retracting() {
		return nil
	}
	if len(w.rr.loads) > 0 {
		in := `load_id IN (` + loadList(w.rr.loads) + `)`
		if err := exec(`CREATE OR REPLACE TEMP TABLE km_retracted_days AS SELECT DISTINCT source, CAST(ts AS DATE) AS day FROM event_rows WHERE ` + in); err != nil {
			return err
		}
		if err := exec(`CREATE OR REPLACE TEMP TABLE km_gone AS SELECT ` + edgeColumns + ` FROM event_rows WHERE source IN (1, 2) AND ` + in); err != nil {
			return err
		}
		w.rr.gone = true
		if err := exec(`INSERT INTO retracted_events BY NAME SELECT *, ? AS retracted_at FROM event_rows WHERE `+in, w.txTime); err != nil {
			return err
		}
		if err := exec(`DELETE FROM event_rows WHERE ` + in); err != nil {
			return err
		}
		var args []any
		for k, n := range w.rr.hours {
			args = append(args, uint8(k.source), k.hour, n)
		}
		for start := 0; start < len(args); start += 1500 {
			part := args[start:min(start+1500, len(args))]
			if err := exec(`UPDATE event_hours SET events = event_hours.events - r.n
				FROM (VALUES `+placeholders(len(part)/3, 3)+`) r(source, hour, n)
				WHERE event_hours.source = r.source AND event_hours.hour = r.hour`, part...); err != nil {
				return err
			}
		}
		// The rollups of the days left, without this transaction's events.
		stay := "true"
		if w.txFirstLoad != 0 {
			stay = "load_id < " + strconv.FormatUint(uint64(w.txFirstLoad), 10)
		}
		for _, t := range []string{"usage_daily", "latency_daily"} {
			if err := exec(`DELETE FROM ` + t + ` r USING km_retracted_days d WHERE r.source = d.source AND r.day = d.day`); err != nil {
				return err
			}
			if err := exec(`INSERT INTO `+t+` `+rollupOf(t, `(SELECT e.* FROM event_rows e SEMI JOIN km_retracted_days d
				ON e.source = d.source AND CAST(e.ts AS DATE) = d.day WHERE `+stay+`) kept`), 0); err != nil {
				return err
			}
		}
		if err := exec(`DROP TABLE km_retracted_days`); err != nil {
			return err
		}
	}
	uris := make([]any, len(w.rr.uris))
	for i, u := range w.rr.uris {
		uris[i] = u
	}
	if err := exec(`DELETE FROM rejects WHERE object IN (`+qmarks(len(uris))+`)`, uris...); err != nil {
		return err
	}
	if err := exec(`DELETE FROM objects WHERE uri IN (`+qmarks(len(uris))+`)`, uris...); err != nil {
		return err
	}
	for _, d := range w.rr.digests {
		if err := exec(`DELETE FROM objects WHERE digest = ?`, d); err != nil {
			return err
		}
	}
	return nil
}

// Prepare implements keymeter.Preparer.
func (w *writer) Prepare(ctx context.Context) error {
	if w.prepared {
		return nil
	}
	if !w.inTx {
		if err := w.begin(ctx); err != nil {
			return err
		}
	}
	if err := w.writeAll(ctx); err != nil {
		return errors.Join(err, w.rollback())
	}
	w.prepared = true
	return nil
}

// MeterTotals implements keymeter.Preparer: the totals of the prepared
// transaction.
func (w *writer) MeterTotals(ctx context.Context, q keymeter.MeterQuery) ([]keymeter.MeterTotal, error) {
	if !w.prepared {
		return nil, fmt.Errorf("meter totals of a writer: Prepare first")
	}
	return meterTotals(ctx, w.conn, q)
}

// usable returns an error once the transaction is prepared, and opens it
// otherwise.
func (w *writer) usable(ctx context.Context) error {
	if w.prepared {
		return fmt.Errorf("the transaction is prepared: only Commit or Close may follow")
	}
	return w.begin(ctx)
}
