package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/keymeter/keymeter"
)

// rollupDimensionSQL gives the expression of each dimension the daily
// rollups can answer, over usage_daily or latency_daily as r, api_keys as
// k and the key's owner at the start of the day as o.
var rollupDimensionSQL = map[keymeter.Dimension]struct{ expr, join string }{
	keymeter.DimCustomer: {"o.customer", "o"},
	keymeter.DimAPIKey:   {"k.fingerprint", "k"},
	keymeter.DimDay:      {"to_char(r.day, 'YYYY-MM-DD')", ""},
	keymeter.DimMonth:    {"to_char(r.day, 'YYYY-MM')", ""},
	keymeter.DimSource:   {"s.name", ""},
	keymeter.DimReason:   {"CASE r.attribution WHEN 1 THEN 'no_key' WHEN 2 THEN 'key_truncated' END", ""},
}

// needsLake is the error of a question the daily rollups cannot answer:
// periods that are not whole UTC days, the dimensions of the events'
// own columns, the edge join, and customers whose key changed owner in
// the middle of a day. They need the lake's events (issue 14).
func needsLake(what string) error {
	return keymeter.Errorf(keymeter.EINVALID, "the PostgreSQL store answers usage from daily rollups, and %s needs the event lake, which it does not have yet", what)
}

func isMidnight(t time.Time) bool {
	t = t.UTC()
	return t.Equal(t.Truncate(24 * time.Hour))
}

// Usage implements keymeter.UsageQuerier from the daily rollups.
func (s *DB) Usage(ctx context.Context, q keymeter.UsageQuery) ([]keymeter.UsageRow, error) {
	if !q.From.Before(q.To) {
		return nil, keymeter.Errorf(keymeter.EINVALID, "the period from %s to %s is empty", q.From.UTC().Format(time.RFC3339Nano), q.To.UTC().Format(time.RFC3339Nano))
	}
	if !isMidnight(q.From) || !isMidnight(q.To) {
		return nil, needsLake("a period that does not start and end at UTC midnight")
	}
	var srcNames, srcIDs []string
	for _, src := range q.SourceList() {
		if src == keymeter.SourceEdge {
			return nil, needsLake("the edge join (source edge)")
		}
		srcIDs = append(srcIDs, fmt.Sprint(int(src)))
		srcNames = append(srcNames, "'"+src.String()+"'")
	}
	var groups []string
	joins := map[string]bool{}
	for _, d := range q.By {
		e, ok := rollupDimensionSQL[d]
		if !ok {
			return nil, needsLake("usage by " + string(d))
		}
		groups = append(groups, e.expr)
		if e.join != "" {
			joins[e.join] = true
		}
	}
	args := []any{q.From.UTC(), q.To.UTC()}
	where := `r.day >= $1::timestamptz::date AND r.day < $2::timestamptz::date`
	if q.Customer != "" {
		joins["o"] = true
		args = append(args, q.Customer)
		where += fmt.Sprintf(` AND o.customer = $%d`, len(args))
	}
	if joins["o"] {
		var split bool
		err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM key_owner_spans
			WHERE isfinite(valid_from) AND valid_from <> date_trunc('day', valid_from)
				AND valid_from > $1 AND valid_from < $2)`, q.From.UTC(), q.To.UTC()).Scan(&split)
		if err != nil {
			return nil, fmt.Errorf("usage: %w", err)
		}
		if split {
			return nil, needsLake("usage by customer, over a period in which a key changed owners in the middle of a day,")
		}
	}
	// from is the rollup rows of the sources asked, named.
	from := func(t string) string {
		f := t + ` r JOIN (SELECT * FROM unnest(ARRAY[` + strings.Join(srcIDs, ",") + `]::smallint[], ARRAY[` + strings.Join(srcNames, ",") +
			`]::text[]) AS s(id, name)) s ON s.id = r.source`
		if joins["k"] {
			f += ` LEFT JOIN api_keys k ON k.id = r.key_id AND r.key_id <> 0`
		}
		if joins["o"] {
			f += ` LEFT JOIN key_owner_spans o ON o.key_id = r.key_id AND r.key_id <> 0
				AND o.valid_from <= r.day::timestamptz AND r.day::timestamptz < o.valid_until`
		}
		return f
	}
	sel := "SELECT "
	groupBy, orderBy := "", ""
	for i, g := range groups {
		sel += fmt.Sprintf("%s AS g%d, ", g, i)
		if i > 0 {
			groupBy += ", "
			orderBy += ", "
		}
		groupBy += fmt.Sprintf("%d", i+1)
		orderBy += fmt.Sprintf(`(%s) COLLATE "C" NULLS LAST`, g)
	}
	if groupBy != "" {
		groupBy, orderBy = " GROUP BY "+groupBy, " ORDER BY "+orderBy
	}
	usageSQL := sel + `coalesce(sum(r.requests), 0)::text, coalesce(sum(r.bytes_sent), 0)::text, coalesce(sum(r.bytes_received), 0)::text,
		coalesce(sum(r.tt_count), 0)::bigint, coalesce(sum(r.tt_sum), 0)::text
		FROM ` + from("usage_daily") + ` WHERE ` + where + groupBy + orderBy
	rows, err := s.pool.Query(ctx, usageSQL, args...)
	if err != nil {
		return nil, fmt.Errorf("usage: %w", err)
	}
	var out []keymeter.UsageRow
	index := map[string]int{}
	for rows.Next() {
		g := make([]*string, len(groups))
		var req, sent, recv, ttSum string
		var row keymeter.UsageRow
		dst := make([]any, 0, len(groups)+5)
		for i := range g {
			dst = append(dst, &g[i])
		}
		dst = append(dst, &req, &sent, &recv, &row.TimeTaken.Count, &ttSum)
		if err := rows.Scan(dst...); err != nil {
			rows.Close()
			return nil, fmt.Errorf("usage: %w", err)
		}
		for _, v := range g {
			if v == nil {
				row.Group = append(row.Group, keymeter.GroupValue{Null: true})
			} else {
				row.Group = append(row.Group, keymeter.GroupValue{Value: *v})
			}
		}
		for _, p := range []struct {
			s   string
			dst *keymeter.Int128
		}{{req, &row.Requests}, {sent, &row.BytesSent}, {recv, &row.BytesReceived}, {ttSum, &row.TimeTaken.Sum}} {
			v, err := keymeter.ParseInt128(p.s)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("usage: %w", err)
			}
			*p.dst = v
		}
		index[groupKey(g)] = len(out)
		out = append(out, row)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("usage: %w", err)
	}
	// The percentiles, from the histograms of the same groups.
	latSQL := sel + `r.bucket, sum(r.n)::bigint FROM ` + from("latency_daily") + ` WHERE ` + where
	if groupBy != "" {
		latSQL += groupBy + fmt.Sprintf(`, %d ORDER BY %d`, len(groups)+1, len(groups)+1)
	} else {
		latSQL += ` GROUP BY r.bucket ORDER BY r.bucket`
	}
	rows, err = s.pool.Query(ctx, latSQL, args...)
	if err != nil {
		return nil, fmt.Errorf("usage: latency: %w", err)
	}
	defer rows.Close()
	type hist struct{ buckets, counts []int64 }
	hists := map[int]*hist{}
	for rows.Next() {
		g := make([]*string, len(groups))
		var bucket int16
		var n int64
		dst := make([]any, 0, len(groups)+2)
		for i := range g {
			dst = append(dst, &g[i])
		}
		dst = append(dst, &bucket, &n)
		if err := rows.Scan(dst...); err != nil {
			return nil, fmt.Errorf("usage: latency: %w", err)
		}
		i, ok := index[groupKey(g)]
		if !ok {
			return nil, fmt.Errorf("usage: latency of a group without usage")
		}
		h := hists[i]
		if h == nil {
			h = &hist{}
			hists[i] = h
		}
		h.buckets, h.counts = append(h.buckets, int64(bucket)), append(h.counts, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("usage: latency: %w", err)
	}
	for i, h := range hists {
		percentilesOf(&out[i].TimeTaken, h.buckets, h.counts)
	}
	return out, nil
}

// groupKey is a map key of a row's group values.
func groupKey(g []*string) string {
	var b strings.Builder
	for _, v := range g {
		if v == nil {
			b.WriteByte(1)
		} else {
			b.WriteByte(2)
			b.WriteString(*v)
		}
		b.WriteByte(0)
	}
	return b.String()
}

// percentilesOf sets l's percentiles from a histogram: ascending buckets
// and their counts, which add up to l.Count.
func percentilesOf(l *keymeter.Latency, buckets, counts []int64) {
	dst := [3]*int64{&l.P50, &l.P95, &l.P99}
	i, cum := 0, int64(0)
	for j, b := range buckets {
		cum += counts[j]
		for i < len(dst) && cum >= keymeter.PercentileRank(l.Count, keymeter.Percentiles[i]) {
			*dst[i] = keymeter.BucketValue(b)
			i++
		}
	}
}
