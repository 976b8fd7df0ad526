package duckdb

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/keymeter/keymeter"
)

// The edge join (keymeter.SourceEdge) is derived, never stored: a
// standard line (source 1) and a real-time record (source 2) with the
// same request ID, whose UTC hours are at most
// keymeter.EdgeJoinWindow apart, are one request. Each edge row is
// either
//
//   - a standard line, with its own time, bytes, status and dimensions,
//     attributed to its own key when it has one, else to the key of its
//     real-time record (the earliest of them, in the rare case of two),
//     else unattributed: key_truncated when a real-time record lost its
//     key to the 800-byte cut, its own reason otherwise; or
//   - a real-time record no standard line is joined to: provisional,
//     counted once now, and replaced by its standard line when that
//     arrives.
//
// The edge rollups are the rollups of both logs plus a correction, kept
// under source 4 in usage_daily and latency_daily: the edge rows less
// the rows of both logs, a signed difference that is empty wherever the
// two logs do not meet (a store of one of them, most days), so that the
// join costs nothing there. An edge row depends only on the rows of its
// request ID within the window of it. That is what lets the writer keep
// the correction up to date with signed deltas: a transaction that adds
// or retracts rows changes the edge rows of their IDs within the window,
// whose old and new versions it computes from the rows of those IDs
// within twice the window, and nothing else.

// edgeSource is the source number of the edge rows in rollups.
const edgeSource = uint8(keymeter.SourceEdge)

// edgeWindowHours is keymeter.EdgeJoinWindow in hours.
const edgeWindowHours = int64(keymeter.EdgeJoinWindow / time.Hour)

// edgeSQL returns the edge rows of known, a relation with event_rows'
// columns holding events of sources 1 and 2 (others are ignored): rows
// with event_rows' columns (source 4, the join's key and attribution)
// and key_from (1: the standard line's key, 2: the real-time record's,
// NULL: none), with_realtime (a real-time record is joined, or the row
// is one), key_cut (a real-time record lost its key to the cut) and
// provisional (a real-time record without a standard line).
func edgeSQL(known string) string {
	w := strconv.FormatInt(edgeWindowHours, 10)
	return `(WITH km_k AS (SELECT *, epoch_us(ts) // ` + strconv.FormatInt(microsPerHour, 10) + ` AS km_hour FROM ` + known + ` km_known WHERE source IN (1, 2)),
km_s AS (SELECT * FROM km_k WHERE source = 1),
km_r AS (SELECT * FROM km_k WHERE source = 2),
km_m AS (
	SELECT s.id_hi, s.id_lo, s.ts,
		arg_min(r.key_id, r.ts) FILTER (WHERE r.attribution = 0) AS rt_key,
		bool_or(r.attribution = 2) AS rt_cut
	FROM km_s s JOIN km_r r ON r.id_hi = s.id_hi AND r.id_lo = s.id_lo AND r.km_hour BETWEEN s.km_hour - ` + w + ` AND s.km_hour + ` + w + `
	GROUP BY s.id_hi, s.id_lo, s.ts)
SELECT s.* EXCLUDE (km_hour) REPLACE (
		CAST(4 AS UTINYINT) AS source,
		CASE WHEN s.attribution = 0 THEN s.key_id ELSE m.rt_key END AS key_id,
		CAST(CASE WHEN s.attribution = 0 OR m.rt_key IS NOT NULL THEN 0 WHEN m.rt_cut THEN 2 ELSE s.attribution END AS UTINYINT) AS attribution),
	CAST(CASE WHEN s.attribution = 0 THEN 1 WHEN m.rt_key IS NOT NULL THEN 2 END AS UTINYINT) AS key_from,
	m.id_hi IS NOT NULL AS with_realtime,
	coalesce(m.rt_cut, false) AS key_cut,
	false AS provisional
FROM km_s s LEFT JOIN km_m m ON m.id_hi = s.id_hi AND m.id_lo = s.id_lo AND m.ts = s.ts
UNION ALL
SELECT r.* EXCLUDE (km_hour) REPLACE (CAST(4 AS UTINYINT) AS source),
	CAST(CASE WHEN r.attribution = 0 THEN 2 END AS UTINYINT), true, r.attribution = 2, true
FROM km_r r ANTI JOIN km_s s ON s.id_hi = r.id_hi AND s.id_lo = r.id_lo AND s.km_hour BETWEEN r.km_hour - ` + w + ` AND r.km_hour + ` + w + `)`
}

// edgeMargin is how far beyond a period the events an edge row of the
// period depends on can be: the join window, plus the hour it is
// counted in.
const edgeMargin = keymeter.EdgeJoinWindow + time.Hour

// knownAsOf returns the relation of the events of sources 1 and 2 known
// at knownAt (a SQL expression), those with times in [from, to) when
// from and to are not zero: loaded by then and not retracted by then.
func knownAsOf(knownAt string, from, to time.Time) string {
	where := "source IN (1, 2)"
	if !from.IsZero() {
		where += " AND ts >= " + tsLiteral(from) + " AND ts < " + tsLiteral(to)
	}
	return `(SELECT e.* FROM (SELECT * FROM event_rows WHERE ` + where + `
	UNION ALL BY NAME SELECT * EXCLUDE (retracted_at) FROM retracted_events WHERE ` + where + ` AND retracted_at > ` + knownAt + `) e
	JOIN loads l ON l.id = e.load_id AND l.loaded_at <= ` + knownAt + `)`
}

// edgeEventsSQL returns the edge events known at knownAt (a SQL
// expression), with the columns of the events view and a few more; with
// from and to set, only those with times in [from, to) are right (the
// events around are left out to make it fast).
func edgeEventsSQL(knownAt string, from, to time.Time) string {
	if !from.IsZero() {
		from, to = from.Add(-edgeMargin), to.Add(edgeMargin)
	}
	return `SELECT
	'edge' AS source,
	e.ts AS time,
	split_part(e.rest, chr(9), 1) AS request_id,
	k.fingerprint AS api_key,
	o.customer AS customer,
	CASE e.attribution WHEN 1 THEN 'no_key' WHEN 2 THEN 'key_truncated' END AS unattributed_reason,
	nullif(d.method, '-') AS method,
	p.path AS path,
	e.status AS status,
	nullif(d.edge_result, '-') AS edge_result,
	nullif(d.edge_location, '-') AS edge_location,
	e.bytes_sent AS bytes_sent,
	e.bytes_received AS bytes_received,
	e.time_taken AS time_taken_ms,
	l.object AS object,
	l.loaded_at AS loaded_at,
	CASE e.key_from WHEN 1 THEN 'cloudfront' WHEN 2 THEN 'cloudfront-realtime' END AS key_source,
	e.with_realtime AS realtime,
	e.provisional AS provisional,
	nullif(d.distribution_domain, '-') AS distribution
FROM ` + edgeSQL(knownAsOf(knownAt, from, to)) + ` e
JOIN loads l ON l.id = e.load_id
LEFT JOIN api_keys k ON k.id = e.key_id
LEFT JOIN key_owners_as_of(` + knownAt + `) o ON ` + ownerJoin + `
LEFT JOIN dict_dims d ON d.id = e.dims
LEFT JOIN dict_paths p ON p.id = e.path`
}

// edgeViews are created with views, at every open: edge_events_as_of(T)
// is the edge join as the store knew it at T (what invoices count), and
// edge_events what it knows now.
var edgeViews = `
CREATE OR REPLACE MACRO edge_events_as_of(known_at) AS TABLE
` + edgeEventsSQL("known_at", time.Time{}, time.Time{}) + `;

CREATE OR REPLACE VIEW edge_events AS SELECT * FROM edge_events_as_of(CAST('infinity' AS TIMESTAMP));
`

// tsLiteral writes t as a SQL timestamp literal, to the microsecond.
func tsLiteral(t time.Time) string {
	return "TIMESTAMP '" + t.UTC().Format("2006-01-02 15:04:05.000000") + "'"
}

// currentEdgeRows returns the relation of the edge rows known now whose
// times are in [from, to) (and some around them): event_rows' columns
// and edgeSQL's.
func currentEdgeRows(from, to time.Time) string {
	from, to = from.Add(-edgeMargin), to.Add(edgeMargin)
	return edgeSQL(`(SELECT * FROM event_rows WHERE source IN (1, 2) AND ts >= ` + tsLiteral(from) + ` AND ts < ` + tsLiteral(to) + `)`)
}

// eventsOf returns a relation with event_rows' columns holding the
// current events of the given sources in [from, to): stored events of
// the logs, and the edge rows for keymeter.SourceEdge.
func eventsOf(sources []keymeter.Source, from, to time.Time) string {
	var raw []string
	edge := false
	for _, s := range sources {
		if s == keymeter.SourceEdge {
			edge = true
		} else {
			raw = append(raw, strconv.Itoa(int(s)))
		}
	}
	var parts []string
	if len(raw) > 0 {
		parts = append(parts, `SELECT * FROM event_rows WHERE source IN (`+strings.Join(raw, ", ")+`)`)
	}
	if edge {
		parts = append(parts, `SELECT * FROM `+currentEdgeRows(from, to))
	}
	if len(parts) == 1 && !edge {
		return "event_rows"
	}
	return "(" + strings.Join(parts, " UNION ALL BY NAME ") + ")"
}

// sourceList writes sources as a SQL list of their numbers.
func sourceList(sources []keymeter.Source) string {
	parts := make([]string, len(sources))
	for i, s := range sources {
		parts[i] = strconv.Itoa(int(s))
	}
	return strings.Join(parts, ", ")
}

// edgeRollupOf returns the SELECT that aggregates signed rows (with a
// sign column) into rollup t's rows, under source 4.
func edgeRollupOf(t, signed string) string {
	switch t {
	case "usage_daily":
		return `SELECT CAST(4 AS UTINYINT) AS source, CAST(ts AS DATE) AS day, coalesce(key_id, 0) AS key_id, attribution,
		CAST(sum(sign) AS BIGINT) AS requests, CAST(coalesce(sum(sign * bytes_sent), 0) AS HUGEINT) AS bytes_sent,
		CAST(coalesce(sum(sign * bytes_received), 0) AS HUGEINT) AS bytes_received,
		CAST(coalesce(sum(sign) FILTER (WHERE time_taken IS NOT NULL), 0) AS BIGINT) AS tt_count, CAST(coalesce(sum(sign * time_taken), 0) AS HUGEINT) AS tt_sum
		FROM ` + signed + ` GROUP BY ALL`
	case "latency_daily":
		return `SELECT CAST(4 AS UTINYINT) AS source, CAST(ts AS DATE) AS day, coalesce(key_id, 0) AS key_id, attribution,
		CAST(` + strings.ReplaceAll(latencyBucketSQL, "x", "time_taken") + ` AS SMALLINT) AS bucket, CAST(sum(sign) AS BIGINT) AS n
		FROM ` + signed + ` WHERE time_taken IS NOT NULL GROUP BY ALL`
	}
	panic("no rollup " + t)
}

// edgeDelta is the part of a transaction the edge rollups must follow:
// the rows it adds (those of loads from first on) and the rows it
// retracts (km_gone, when gone); alone when no row of one CloudFront log
// is near a changed row of the other (see edgeChange).
type edgeDelta struct {
	first uint32
	gone  bool
	alone bool
}

// writeEdgeDelta adds the change this transaction makes to the edge
// join's correction to the rollup deltas km_du and km_dl (see
// writeRollups). When no row of the other CloudFront log is near the
// changed rows, the edge rows change exactly as the rows do and the
// correction not at all; otherwise the correction of the changed rows'
// IDs (their edge rows less their rows) is computed before and after the
// transaction, and its difference is the delta.
func (w *writer) writeEdgeDelta(ctx context.Context, d edgeDelta, exec func(string, ...any) error) error {
	if d.alone {
		return nil
	}
	newRows := `(SELECT ` + edgeColumns + ` FROM event_rows WHERE load_id >= ` + strconv.FormatUint(uint64(d.first), 10) + ` AND source IN (1, 2))`
	if d.first == 0 {
		newRows = `(SELECT ` + edgeColumns + ` FROM event_rows LIMIT 0)`
	}
	gone := `(SELECT ` + edgeColumns + ` FROM event_rows LIMIT 0)`
	if d.gone {
		gone = `km_gone`
	}
	var lo, hi sql.NullTime
	if err := w.conn.QueryRowContext(ctx, `SELECT min(ts), max(ts) FROM (SELECT ts FROM `+newRows+` UNION ALL SELECT ts FROM `+gone+`)`).Scan(&lo, &hi); err != nil {
		return fmt.Errorf("update daily rollups: %w", err)
	}
	if !lo.Valid {
		return nil
	}
	margin := 2*keymeter.EdgeJoinWindow + time.Hour
	if err := exec(`CREATE OR REPLACE TEMP TABLE km_edge_after AS SELECT ` + prefixed("e.", edgeColumns) + ` FROM event_rows e
		SEMI JOIN (SELECT id_hi, id_lo FROM ` + newRows + ` UNION SELECT id_hi, id_lo FROM ` + gone + `) c ON e.id_hi = c.id_hi AND e.id_lo = c.id_lo
		WHERE e.source IN (1, 2) AND e.ts >= ` + tsLiteral(lo.Time.Add(-margin)) + ` AND e.ts < ` + tsLiteral(hi.Time.Add(margin))); err != nil {
		return err
	}
	before := `(SELECT * FROM km_edge_after WHERE load_id < ` + strconv.FormatUint(uint64(d.first), 10) + ` UNION ALL BY NAME SELECT * FROM ` + gone + `)`
	if d.first == 0 {
		before = `(SELECT * FROM km_edge_after UNION ALL BY NAME SELECT * FROM ` + gone + `)`
	}
	signed := `(` + correction("km_edge_after", 1) + ` UNION ALL BY NAME ` + correction(before, -1) + `)`
	for _, t := range []string{"usage_daily", "latency_daily"} {
		if err := exec(`INSERT INTO km_d` + t[:1] + ` ` + edgeRollupOf(t, signed)); err != nil {
			return err
		}
	}
	return exec(`DROP TABLE km_edge_after`)
}

// correction returns the signed rows of the edge join's correction over
// rows (a relation with edgeColumns): its edge rows, less its rows, all
// times sign.
func correction(rows string, sign int) string {
	return `SELECT *, ` + strconv.Itoa(sign) + ` AS sign FROM ` + edgeSQL(rows) + `
		UNION ALL BY NAME SELECT *, ` + strconv.Itoa(-sign) + ` AS sign FROM ` + rows + ` km_rows WHERE source IN (1, 2)`
}

// edgeColumns are the columns of event_rows the edge rollups need.
const edgeColumns = "source, ts, id_hi, id_lo, key_id, attribution, bytes_sent, bytes_received, time_taken, load_id"

// prefixed qualifies each of a list of columns.
func prefixed(p, cols string) string {
	parts := strings.Split(cols, ", ")
	for i, c := range parts {
		parts[i] = p + c
	}
	return strings.Join(parts, ", ")
}

// edgeChange reports whether this transaction adds or retracts rows of
// CloudFront's logs, and whether those rows are alone: no row of the
// other CloudFront log is within twice the join window of them, before
// or after the transaction, so that no edge row joins rows of both logs
// and the edge rows change exactly as the rows do.
func (w *writer) edgeChange() (changed, alone bool) {
	var lo, hi [3]int64 // by source 1 and 2: the hours changed
	var seen [3]bool
	note := func(k hourKey) {
		s := k.source
		if s != keymeter.SourceCloudFront && s != keymeter.SourceCloudFrontRealtime {
			return
		}
		if !seen[s] || k.hour < lo[s] {
			lo[s] = k.hour
		}
		if !seen[s] || k.hour > hi[s] {
			hi[s] = k.hour
		}
		seen[s] = true
	}
	w.seen.eachAdded(func(k hourKey, _ int64) { note(k) })
	for k := range w.rr.hours {
		note(k)
	}
	if seen[1] && seen[2] {
		return true, false
	}
	src, other := keymeter.SourceCloudFront, keymeter.SourceCloudFrontRealtime
	if seen[2] {
		src, other = other, src
	}
	if !seen[src] {
		return false, true
	}
	m := 2 * edgeWindowHours
	for k, n := range w.seen.counts {
		if k.source == other && n > 0 && k.hour >= lo[src]-m && k.hour <= hi[src]+m {
			return true, false
		}
	}
	return true, true
}

// rebuildEdgeRollups computes the edge join's correction from every
// stored event.
func rebuildEdgeRollups(ctx context.Context, tx interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}) error {
	for _, t := range []string{"usage_daily", "latency_daily"} {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+t+` WHERE source = 4`); err != nil {
			return fmt.Errorf("build edge rollups: %w", err)
		}
		q := `INSERT INTO ` + t + ` SELECT * FROM (` + edgeRollupOf(t, `(`+correction(`(SELECT `+edgeColumns+` FROM event_rows)`, 1)+`)`) + `) WHERE ` + map[string]string{
			"usage_daily":   "requests <> 0 OR bytes_sent <> 0 OR bytes_received <> 0 OR tt_count <> 0 OR tt_sum <> 0",
			"latency_daily": "n <> 0"}[t]
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("build edge rollups: %w", err)
		}
	}
	return nil
}

// progressSchema is migration 5's table: per source and dictionary
// dimensions entry (which holds the distribution), the times of the
// first and newest events stored. It is kept per entry rather than per
// distribution because the writer's transaction does not see the
// entries it commits just before (see writeDict).
const progressSchema = `
CREATE TABLE source_progress (
	source       UTINYINT  NOT NULL,
	dims         BIGINT    NOT NULL,
	first_event  TIMESTAMP NOT NULL,
	newest_event TIMESTAMP NOT NULL,
	PRIMARY KEY (source, dims)
);
`

// progressOf aggregates the events of a relation into source_progress
// rows.
func progressOf(events string) string {
	return `SELECT source, dims, min(ts), max(ts) FROM ` + events + ` GROUP BY ALL`
}

// migrateEdge (schema version 5) creates source_progress and the edge
// rollups of the events stored so far.
func migrateEdge(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, progressSchema); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO source_progress `+progressOf("event_rows")); err != nil {
		return err
	}
	return rebuildEdgeRollups(ctx, tx)
}

// writeProgress brings source_progress up to date with the events this
// transaction adds.
func (w *writer) writeProgress(ctx context.Context) error {
	if w.txFirstLoad == 0 {
		return nil
	}
	_, err := w.conn.ExecContext(ctx, `INSERT INTO source_progress `+progressOf(`event_rows WHERE load_id >= ?`)+`
		ON CONFLICT (source, dims) DO UPDATE SET first_event = least(first_event, excluded.first_event),
			newest_event = greatest(newest_event, excluded.newest_event)`, w.txFirstLoad)
	if err != nil {
		return fmt.Errorf("record source progress: %w", err)
	}
	return nil
}

var (
	_ keymeter.ProgressReader   = (*DB)(nil)
	_ keymeter.CoverageReporter = (*DB)(nil)
)

// distributionSQL is the distribution of an event of source e.source
// with dict_dims d: the distribution's domain for CloudFront, the API's
// ID for API Gateway.
const distributionSQL = `coalesce(nullif(CASE WHEN e.source = 3 THEN d.api_id ELSE d.distribution_domain END, '-'), '')`

// Progress implements keymeter.ProgressReader.
func (s *DB) Progress(ctx context.Context) ([]keymeter.SourceProgress, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT e.source, `+distributionSQL+` AS dist, min(e.first_event), max(e.newest_event)
		FROM source_progress e LEFT JOIN dict_dims d ON d.id = e.dims GROUP BY ALL ORDER BY 1, 2`)
	if missingTable(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("source progress: %w", err)
	}
	defer rows.Close()
	var out []keymeter.SourceProgress
	for rows.Next() {
		var p keymeter.SourceProgress
		var src uint8
		if err := rows.Scan(&src, &p.Distribution, &p.First, &p.Newest); err != nil {
			return nil, fmt.Errorf("source progress: %w", err)
		}
		p.Source, p.First, p.Newest = keymeter.Source(src), p.First.UTC(), p.Newest.UTC()
		out = append(out, p)
	}
	return out, rows.Err()
}

// SourcesIn implements keymeter.ProgressReader from the hours that have
// events.
func (s *DB) SourcesIn(ctx context.Context, from, to time.Time) ([]keymeter.Source, error) {
	lo, hi := hourOf(0, from.UnixMicro()).hour, hourOf(0, to.UnixMicro()-1).hour
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT source FROM event_hours WHERE hour >= ? AND hour <= ? AND events > 0 ORDER BY 1`, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("sources: %w", err)
	}
	defer rows.Close()
	var out []keymeter.Source
	for rows.Next() {
		var src uint8
		if err := rows.Scan(&src); err != nil {
			return nil, fmt.Errorf("sources: %w", err)
		}
		out = append(out, keymeter.Source(src))
	}
	return out, rows.Err()
}

// Coverage implements keymeter.CoverageReporter with one scan of the
// edge rows of the period.
func (s *DB) Coverage(ctx context.Context, q keymeter.CoverageQuery) ([]keymeter.CoverageRow, error) {
	if q.From.IsZero() || q.To.IsZero() || !q.From.Before(q.To) {
		return nil, keymeter.Errorf(keymeter.EINVALID, "the period [%s, %s) is empty: --from must be before --to",
			q.From.UTC().Format(time.RFC3339), q.To.UTC().Format(time.RFC3339))
	}
	rows, err := s.db.QueryContext(ctx, `SELECT nullif(d.distribution_domain, '-') AS dist, strftime(e.ts, '%Y-%m-%d') AS day,
		count(*) FILTER (WHERE NOT e.provisional),
		count(*) FILTER (WHERE NOT e.provisional AND e.with_realtime),
		count(*) FILTER (WHERE e.provisional),
		count(*) FILTER (WHERE e.key_cut),
		count(*) FILTER (WHERE e.key_cut AND e.attribution = 0)
		FROM `+currentEdgeRows(q.From, q.To)+` e LEFT JOIN dict_dims d ON d.id = e.dims
		WHERE e.ts >= ? AND e.ts < ? GROUP BY ALL ORDER BY dist NULLS LAST, day`, q.From.UTC(), q.To.UTC())
	if err != nil {
		return nil, fmt.Errorf("coverage: %w", err)
	}
	defer rows.Close()
	var out []keymeter.CoverageRow
	for rows.Next() {
		var r keymeter.CoverageRow
		var dist sql.NullString
		if err := rows.Scan(&dist, &r.Day, &r.Standard, &r.WithRealtime, &r.RealtimeOnly, &r.KeyTruncated, &r.KeyRecovered); err != nil {
			return nil, fmt.Errorf("coverage: %w", err)
		}
		r.Distribution = keymeter.GroupValue{Value: dist.String, Null: !dist.Valid}
		out = append(out, r)
	}
	return out, rows.Err()
}
