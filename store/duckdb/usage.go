package duckdb

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/keymeter/keymeter"
)

// dimensionSQL gives, for each dimension, the SQL expression of its value
// and the join it needs ("k" api_keys, "o" the key's owner at the event's
// time, "d" dict_dims, "p" dict_paths).
var dimensionSQL = map[keymeter.Dimension]struct{ expr, join string }{
	keymeter.DimCustomer:     {"o.customer", "o"},
	keymeter.DimAPIKey:       {"k.fingerprint", "k"},
	keymeter.DimPath:         {"p.path", "p"},
	keymeter.DimMethod:       {"nullif(d.method, '-')", "d"},
	keymeter.DimStatus:       {"lpad(CAST(e.status AS VARCHAR), 3, '0')", ""},
	keymeter.DimEdgeResult:   {"nullif(d.edge_result, '-')", "d"},
	keymeter.DimEdgeLocation: {"nullif(d.edge_location, '-')", "d"},
	keymeter.DimDay:          {"strftime(e.ts, '%Y-%m-%d')", ""},
	keymeter.DimHour:         {"strftime(e.ts, '%Y-%m-%dT%H:00:00Z')", ""},
	keymeter.DimMonth:        {"strftime(e.ts, '%Y-%m')", ""},
	keymeter.DimSource:       {"CASE e.source WHEN 1 THEN 'cloudfront' WHEN 2 THEN 'cloudfront-realtime' WHEN 3 THEN 'apigateway' WHEN 4 THEN 'edge' END", ""},
	keymeter.DimReason:       {"CASE e.attribution WHEN 1 THEN 'no_key' WHEN 2 THEN 'key_truncated' END", ""},
}

var joinSQL = map[string]string{
	"k": "LEFT JOIN api_keys k ON k.id = e.key_id",
	"o": "LEFT JOIN key_owner_spans o ON " + ownerJoin,
	"d": "LEFT JOIN dict_dims d ON d.id = e.dims",
	"p": "LEFT JOIN dict_paths p ON p.id = e.path",
}

// Usage implements keymeter.UsageQuerier. Totals are exact integers
// (sums are HUGEINT, see keymeter.Int128);
// percentiles follow keymeter.Latency. Day-aligned periods grouped by
// dimensions the daily rollups keep are answered from them (see
// rollup.go), other queries by scanning the events.
func (s *DB) Usage(ctx context.Context, q keymeter.UsageQuery) ([]keymeter.UsageRow, error) {
	query, args, err := usageSQL(q)
	if err != nil {
		return nil, err
	}
	ok, err := s.rollupAnswers(ctx, q)
	if err != nil {
		return nil, err
	}
	if ok {
		return s.usageFromRollups(ctx, q)
	}
	return s.scanUsage(ctx, query, args, len(q.By), func(row *keymeter.UsageRow, _ []sql.NullString, pct any) {
		// quantile_disc gives the exact values of rank ceil(n*p); report
		// them as their buckets' values, as the rollups do.
		if p, ok := pct.([]any); ok && len(p) == 3 {
			for i, dst := range []*int64{&row.TimeTaken.P50, &row.TimeTaken.P95, &row.TimeTaken.P99} {
				if v, ok := p[i].(int32); ok {
					*dst = keymeter.BucketValue(keymeter.LatencyBucket(int64(v)))
				}
			}
		}
	})
}

// scanUsage runs a usage query whose columns are the groups, then
// requests, bytes sent and received, time-taken count and sum, and
// optionally one more value handed to finish with each row.
func (s *DB) scanUsage(ctx context.Context, query string, args []any, ngroups int, finish func(*keymeter.UsageRow, []sql.NullString, any)) ([]keymeter.UsageRow, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("usage: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, fmt.Errorf("usage: %w", err)
	}
	var out []keymeter.UsageRow
	groups := make([]sql.NullString, ngroups)
	dest := make([]any, 0, ngroups+6)
	for i := range groups {
		dest = append(dest, &groups[i])
	}
	var r keymeter.UsageRow
	var extra any
	dest = append(dest, int128{&r.Requests}, int128{&r.BytesSent}, int128{&r.BytesReceived}, &r.TimeTaken.Count, int128{&r.TimeTaken.Sum})
	if len(cols) > len(dest) {
		dest = append(dest, &extra)
	}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("usage: %w", err)
		}
		row := r
		row.Group = make([]keymeter.GroupValue, len(groups))
		for i, g := range groups {
			row.Group[i] = keymeter.GroupValue{Value: g.String, Null: !g.Valid}
		}
		finish(&row, groups, extra)
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("usage: %w", err)
	}
	return out, nil
}

// usageSQL builds the query for q.
func usageSQL(q keymeter.UsageQuery) (string, []any, error) {
	if q.From.IsZero() || q.To.IsZero() || !q.From.Before(q.To) {
		return "", nil, keymeter.Errorf(keymeter.EINVALID, "the period [%s, %s) is empty: --from must be before --to",
			q.From.UTC().Format("2006-01-02T15:04:05Z"), q.To.UTC().Format("2006-01-02T15:04:05Z"))
	}
	var sel, order []string
	joins := map[string]bool{}
	for i, d := range q.By {
		ds, ok := dimensionSQL[d]
		if !ok {
			return "", nil, keymeter.Errorf(keymeter.EINVALID, "unknown usage dimension %q", d)
		}
		sel = append(sel, fmt.Sprintf("%s AS g%d", ds.expr, i))
		order = append(order, fmt.Sprintf("g%d NULLS LAST", i))
		if ds.join != "" {
			joins[ds.join] = true
		}
	}
	sources := q.SourceList()
	where := []string{"e.ts >= ?", "e.ts < ?", "e.source IN (" + sourceList(sources) + ")"}
	args := []any{q.From.UTC(), q.To.UTC()}
	if q.Customer != "" {
		where = append(where, "o.customer = ?")
		args = append(args, keymeter.ValidUTF8(q.Customer))
		joins["o"] = true
	}
	var b strings.Builder
	b.WriteString("SELECT ")
	for _, s := range sel {
		b.WriteString(s)
		b.WriteString(", ")
	}
	b.WriteString(`count(*), CAST(coalesce(sum(e.bytes_sent), 0) AS HUGEINT), CAST(coalesce(sum(e.bytes_received), 0) AS HUGEINT),
	count(e.time_taken), CAST(coalesce(sum(e.time_taken), 0) AS HUGEINT),
	quantile_disc(e.time_taken, [0.5, 0.95, 0.99])
FROM `)
	b.WriteString(eventsOf(sources, q.From, q.To))
	b.WriteString(` e`)
	for _, j := range []string{"k", "o", "d", "p"} {
		if joins[j] {
			b.WriteString("\n")
			b.WriteString(joinSQL[j])
		}
	}
	b.WriteString("\nWHERE ")
	b.WriteString(strings.Join(where, " AND "))
	if len(sel) > 0 {
		b.WriteString("\nGROUP BY ALL ORDER BY ")
		b.WriteString(strings.Join(order, ", "))
	}
	return b.String(), args, nil
}
