package duckdb

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/keymeter/keymeter"
)

// Daily rollups keep usage questions fast however many events are
// stored: per UTC day, source, key and attribution, usage_daily holds the
// exact totals (sums as HUGEINT since schema version 4) and latency_daily
// a histogram of time-taken in keymeter.LatencyBucket buckets. The writer
// brings them up to date in the transaction that adds the events, and
// computes again those of the days a retraction touches (see
// writeRereads), so they are exactly as consistent as the events. Usage reads them for day-aligned periods
// grouped by customer, key, day, month, source or attribution, and
// scans event_rows otherwise; both give the same answers (storetest's
// UsagePeriodForms checks it).
const rollupSchema = `
CREATE TABLE IF NOT EXISTS usage_daily (
	source         UTINYINT NOT NULL,
	day            DATE     NOT NULL,
	key_id         BIGINT   NOT NULL, -- 0 when unattributed
	attribution    UTINYINT NOT NULL,
	requests       BIGINT   NOT NULL,
	bytes_sent     BIGINT   NOT NULL,
	bytes_received BIGINT   NOT NULL,
	tt_count       BIGINT   NOT NULL,
	tt_sum         BIGINT   NOT NULL
);

CREATE TABLE IF NOT EXISTS latency_daily (
	source      UTINYINT NOT NULL,
	day         DATE     NOT NULL,
	key_id      BIGINT   NOT NULL,
	attribution UTINYINT NOT NULL,
	bucket      SMALLINT NOT NULL,
	n           BIGINT   NOT NULL
);
`

// hugeRollups converts the sums of usage_daily to HUGEINT (schema
// version 4): the sums of bytes of a day overflowed BIGINT, which stopped
// the run that stored them. Counts (requests, tt_count) stay BIGINT: they
// count stored events. The events' own columns do not change, so
// retracted_events keeps event_rows' columns (see migrateHistory).
func hugeRollups(ctx context.Context, tx *sql.Tx) error {
	for _, c := range []string{"bytes_sent", "bytes_received", "tt_sum"} {
		if _, err := tx.ExecContext(ctx, `ALTER TABLE usage_daily ALTER COLUMN `+c+` TYPE HUGEINT`); err != nil {
			return err
		}
	}
	return nil
}

// latencyBucketSQL is keymeter.LatencyBucket in SQL, for a non-negative
// INTEGER expression x: floor(log2(x)) is exact for the integers a
// time-taken can be (TestLatencyBucketSQL checks every power of two).
const latencyBucketSQL = `CASE WHEN x < 64 THEN x ELSE 64 + (floor(log2(x))::INTEGER - 6) * 32 + (x >> (floor(log2(x))::INTEGER - 5)) - 32 END`

// rollupDelta gives, for each rollup, the SELECT that aggregates the
// events of load_id >= ? into its rows.
var rollupDelta = map[string]string{
	"usage_daily":   rollupOf("usage_daily", "event_rows"),
	"latency_daily": rollupOf("latency_daily", "event_rows"),
}

// rollupOf returns the SELECT that aggregates the events of a relation
// with event_rows' columns, those of load_id >= ?, into rollup t's rows.
func rollupOf(t, events string) string {
	switch t {
	case "usage_daily":
		return `SELECT source, CAST(ts AS DATE) AS day, coalesce(key_id, 0) AS key_id, attribution,
		count(*), coalesce(sum(bytes_sent), 0), coalesce(sum(bytes_received), 0),
		count(time_taken), coalesce(sum(time_taken), 0)
		FROM ` + events + ` WHERE load_id >= ? GROUP BY ALL`
	case "latency_daily":
		return `SELECT source, CAST(ts AS DATE) AS day, coalesce(key_id, 0) AS key_id, attribution,
		CAST(` + strings.ReplaceAll(latencyBucketSQL, "x", "time_taken") + ` AS SMALLINT) AS bucket, count(*)
		FROM ` + events + ` WHERE load_id >= ? AND time_taken IS NOT NULL GROUP BY ALL`
	}
	panic("no rollup " + t)
}

// rollupNonZero gives, for each rollup, the HAVING condition of a merged
// group that is not empty: the edge join's correction rows (source 4)
// are signed, and a group of them can add up to nothing.
var rollupNonZero = map[string]string{
	"usage_daily":   `sum(requests) <> 0 OR sum(bytes_sent) <> 0 OR sum(bytes_received) <> 0 OR sum(tt_count) <> 0 OR sum(tt_sum) <> 0`,
	"latency_daily": `sum(n) <> 0`,
}

// rollupMerge gives, for each rollup, how its rows add up.
var rollupMerge = map[string]string{
	"usage_daily": `SELECT source, day, key_id, attribution, CAST(sum(requests) AS BIGINT) AS requests, CAST(sum(bytes_sent) AS HUGEINT) AS bytes_sent,
		CAST(sum(bytes_received) AS HUGEINT) AS bytes_received, CAST(sum(tt_count) AS BIGINT) AS tt_count, CAST(sum(tt_sum) AS HUGEINT) AS tt_sum`,
	"latency_daily": `SELECT source, day, key_id, attribution, bucket, CAST(sum(n) AS BIGINT) AS n`,
}

// writeRollups adds the events of this transaction (those of loads from
// firstLoad on) to the rollups, and the change it makes to the edge
// join's correction (see writeEdgeDelta): the deltas go to km_du and
// km_dl, then for every (source, day) they touch, the rollup rows are
// merged with theirs and replaced, so that each rollup keeps one row per
// group. Correction deltas are signed; a group whose sums all add up to
// nothing is dropped.
func (w *writer) writeRollups(ctx context.Context) error {
	changed, alone := w.edgeChange()
	if w.txFirstLoad == 0 && !changed {
		return nil
	}
	exec := func(q string, args ...any) error {
		if _, err := w.conn.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("update daily rollups: %w", err)
		}
		return nil
	}
	first := w.txFirstLoad
	for _, t := range []string{"usage_daily", "latency_daily"} {
		q := `CREATE OR REPLACE TEMP TABLE km_d` + t[:1] + ` AS SELECT * FROM ` + t + ` LIMIT 0`
		if err := exec(q); err != nil {
			return err
		}
		if first != 0 {
			if err := exec(`INSERT INTO km_d`+t[:1]+` `+rollupDelta[t], first); err != nil {
				return err
			}
		}
	}
	if changed {
		if err := w.writeEdgeDelta(ctx, edgeDelta{first: first, gone: w.rr.gone, alone: alone}, exec); err != nil {
			return err
		}
	}
	if err := exec(`CREATE OR REPLACE TEMP TABLE km_touched AS SELECT DISTINCT source, day FROM km_du UNION SELECT DISTINCT source, day FROM km_dl`); err != nil {
		return err
	}
	for _, t := range []string{"usage_daily", "latency_daily"} {
		if err := exec(`CREATE OR REPLACE TEMP TABLE km_merged AS ` + rollupMerge[t] + ` FROM (
				SELECT r.* FROM ` + t + ` r SEMI JOIN km_touched d ON r.source = d.source AND r.day = d.day
				UNION ALL SELECT * FROM km_d` + t[:1] + `) GROUP BY ALL HAVING ` + rollupNonZero[t]); err != nil {
			return err
		}
		if err := exec(`DELETE FROM ` + t + ` r USING km_touched d WHERE r.source = d.source AND r.day = d.day`); err != nil {
			return err
		}
		if err := exec(`INSERT INTO ` + t + ` SELECT * FROM km_merged`); err != nil {
			return err
		}
	}
	drop := `DROP TABLE km_merged; DROP TABLE km_touched; DROP TABLE km_du; DROP TABLE km_dl`
	if w.rr.gone {
		drop += `; DROP TABLE km_gone`
	}
	return exec(drop)
}

// rebuildRollups computes the rollups from every stored event, for stores
// written before keymeter kept them.
func rebuildRollups(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("rebuild rollups: %w", err)
	}
	defer tx.Rollback()
	for _, t := range []string{"usage_daily", "latency_daily"} {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+t); err != nil {
			return fmt.Errorf("rebuild rollups: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+t+` `+rollupDelta[t], 0); err != nil {
			return fmt.Errorf("rebuild rollups: %w", err)
		}
	}
	if err := rebuildEdgeRollups(ctx, tx); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO meta VALUES ('rollups', '1')`); err != nil {
		return fmt.Errorf("rebuild rollups: %w", err)
	}
	return tx.Commit()
}

// rollupDimensionSQL gives the expression of each dimension the rollups
// can answer, over usage_daily or latency_daily as r, api_keys as k and
// the key's owner at the start of the day as o.
var rollupDimensionSQL = map[keymeter.Dimension]struct{ expr, join string }{
	keymeter.DimCustomer: {"o.customer", "o"},
	keymeter.DimAPIKey:   {"k.fingerprint", "k"},
	keymeter.DimDay:      {"strftime(r.day, '%Y-%m-%d')", ""},
	keymeter.DimMonth:    {"strftime(r.day, '%Y-%m')", ""},
	keymeter.DimSource:   {"r.km_source", ""},
	keymeter.DimReason:   {"CASE r.attribution WHEN 1 THEN 'no_key' WHEN 2 THEN 'key_truncated' END", ""},
}

// rollupAnswers reports whether the rollups can answer q: a period of
// whole UTC days, grouped by dimensions they keep and, when customers
// matter, without a key changing owner inside one of its days (the
// rollups are per key and day: a day is attributed to the key's owner at
// its start).
func (s *DB) rollupAnswers(ctx context.Context, q keymeter.UsageQuery) (bool, error) {
	if !s.rollups {
		return false, nil
	}
	for _, t := range []int64{q.From.UnixMicro(), q.To.UnixMicro()} {
		if t%(24*microsPerHour) != 0 {
			return false, nil
		}
	}
	customers := q.Customer != ""
	for _, d := range q.By {
		if _, ok := rollupDimensionSQL[d]; !ok {
			return false, nil
		}
		customers = customers || d == keymeter.DimCustomer
	}
	if !customers {
		return true, nil
	}
	within, err := s.ownerChangeWithin(ctx, q.From, q.To)
	return !within, err
}

// usageFromRollups answers q from the daily rollups: the totals from
// usage_daily, the percentiles from latency_daily's histograms.
func (s *DB) usageFromRollups(ctx context.Context, q keymeter.UsageQuery) ([]keymeter.UsageRow, error) {
	var groups []string
	joins := map[string]bool{"o": q.Customer != ""}
	for i, d := range q.By {
		ds := rollupDimensionSQL[d]
		groups = append(groups, fmt.Sprintf("%s AS g%d", ds.expr, i))
		joins[ds.join] = true
	}
	from := " r"
	if joins["k"] {
		from += " LEFT JOIN api_keys k ON k.id = r.key_id"
	}
	if joins["o"] {
		from += " LEFT JOIN key_owner_spans o ON o.key_id = r.key_id AND r.day >= o.valid_from AND r.day < o.valid_until"
	}
	where := " WHERE r.day >= ? AND r.day < ?"
	args := []any{q.From.UTC(), q.To.UTC()}
	if q.Customer != "" {
		where += " AND o.customer = ?"
		args = append(args, keymeter.ValidUTF8(q.Customer))
	}
	sel, gcols, order := "", "", ""
	for i, g := range groups {
		sel += g + ", "
		gcols += fmt.Sprintf("g%d, ", i)
		if i > 0 {
			order += ", "
		}
		order += fmt.Sprintf("g%d NULLS LAST", i)
	}
	tail := ""
	if len(groups) > 0 {
		// The edge join's correction can cancel a group of the logs'
		// rows: a group of no requests is empty.
		tail = " GROUP BY ALL HAVING sum(requests) <> 0 ORDER BY " + order
	}
	totals := `SELECT ` + sel + `CAST(coalesce(sum(requests), 0) AS HUGEINT), CAST(coalesce(sum(bytes_sent), 0) AS HUGEINT),
		CAST(coalesce(sum(bytes_received), 0) AS HUGEINT), CAST(coalesce(sum(tt_count), 0) AS BIGINT), CAST(coalesce(sum(tt_sum), 0) AS HUGEINT)
		FROM ` + rollupRelation("usage_daily", q.SourceList()) + from + where + tail
	hist := `SELECT ` + gcols + `list(bucket ORDER BY bucket), list(n ORDER BY bucket) FROM (
		SELECT ` + sel + `r.bucket AS bucket, CAST(sum(r.n) AS BIGINT) AS n FROM ` + rollupRelation("latency_daily", q.SourceList()) + from + where + ` GROUP BY ALL)`
	if len(groups) > 0 {
		hist += " GROUP BY ALL"
	}

	histograms := map[string][2][]any{}
	rows, err := s.db.QueryContext(ctx, hist, args...)
	if err != nil {
		return nil, fmt.Errorf("usage: %w", err)
	}
	g := make([]sql.NullString, len(q.By))
	var buckets, counts any
	dest := make([]any, 0, len(g)+2)
	for i := range g {
		dest = append(dest, &g[i])
	}
	dest = append(dest, &buckets, &counts)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return nil, fmt.Errorf("usage: %w", err)
		}
		b, _ := buckets.([]any)
		c, _ := counts.([]any)
		histograms[groupKey(g)] = [2][]any{b, c}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("usage: %w", err)
	}

	out, err := s.scanUsage(ctx, totals, args, len(q.By), func(row *keymeter.UsageRow, g []sql.NullString, _ any) {
		h, ok := histograms[groupKey(g)]
		if !ok || row.TimeTaken.Count == 0 {
			return
		}
		percentilesOf(&row.TimeTaken, h[0], h[1])
	})
	if err != nil {
		return nil, err
	}
	if len(q.By) == 0 && len(out) == 0 {
		out = []keymeter.UsageRow{{}}
	}
	return out, nil
}

// groupKey joins the values of a row's group columns into a map key.
func groupKey(g []sql.NullString) string {
	var b strings.Builder
	for _, v := range g {
		if v.Valid {
			b.WriteString("v")
			b.WriteString(v.String)
		} else {
			b.WriteString("n")
		}
		b.WriteByte(0)
	}
	return b.String()
}

// percentilesOf sets l's percentiles from a histogram: ascending buckets
// and their counts, which add up to l.Count.
func percentilesOf(l *keymeter.Latency, buckets, counts []any) {
	dst := [3]*int64{&l.P50, &l.P95, &l.P99}
	i, cum := 0, int64(0)
	for j, b := range buckets {
		cum += counts[j].(int64)
		for i < len(dst) && cum >= keymeter.PercentileRank(l.Count, keymeter.Percentiles[i]) {
			*dst[i] = keymeter.BucketValue(int64(b.(int16)))
			i++
		}
	}
}

// rollupRelation returns the rows of rollup t that count for the given
// sources, each with its source's name as km_source: a log's own rows,
// and for the edge join those of both CloudFront logs plus its
// correction (source 4), which add up to the join's.
func rollupRelation(t string, sources []keymeter.Source) string {
	var parts []string
	for _, s := range sources {
		in := strconv.Itoa(int(s))
		if s == keymeter.SourceEdge {
			in = "1, 2, 4"
		}
		parts = append(parts, `SELECT '`+s.String()+`' AS km_source, * FROM `+t+` WHERE source IN (`+in+`)`)
	}
	return "(" + strings.Join(parts, " UNION ALL ") + ")"
}
