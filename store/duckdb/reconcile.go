package duckdb

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keymeter/keymeter"
)

var _ keymeter.Reconciler = (*DB)(nil)

// Edge outcomes, as SQL conditions on event_rows e joined to dict_dims d.
// keymeter.Reconciliation documents them; keep both in step.
const (
	edgeHitSQL   = `d.edge_result IN ('Hit', 'RefreshHit', 'Redirect')`
	edgeErrorSQL = `(d.edge_result IN ('LimitExceeded', 'CapacityExceeded') OR d.edge_result = 'Error' AND (e.status = 0 OR e.status BETWEEN 500 AND 599))`
)

// Reconcile implements keymeter.Reconciler with one scan of both sources'
// events in the period.
func (s *DB) Reconcile(ctx context.Context, q keymeter.ReconcileQuery) (*keymeter.Reconciliation, error) {
	if q.From.IsZero() || q.To.IsZero() || !q.From.Before(q.To) {
		return nil, keymeter.Errorf(keymeter.EINVALID, "the period [%s, %s) is empty: --from must be before --to",
			q.From.UTC().Format(time.RFC3339), q.To.UTC().Format(time.RFC3339))
	}
	for _, d := range q.By {
		if !slices.Contains(keymeter.ReconcileDimensions(), d) {
			return nil, keymeter.Errorf(keymeter.EINVALID, "reconcile cannot group by %q (want customer, day, hour or month: what means the same at the edge and at the origin)", d)
		}
	}
	res := &keymeter.Reconciliation{Edge: q.Edge, Origin: keymeter.SourceAPIGateway}
	switch q.Edge {
	case keymeter.SourceEdge, keymeter.SourceCloudFront, keymeter.SourceCloudFrontRealtime:
	case keymeter.SourceUnknown:
		res.Edge = keymeter.SourceEdge
	default:
		return nil, keymeter.Errorf(keymeter.EINVALID, "%s is not an edge source (want edge, cloudfront or cloudfront-realtime)", q.Edge)
	}

	var sel, order []string
	for i, d := range q.By {
		sel = append(sel, fmt.Sprintf("%s AS g%d, ", dimensionSQL[d].expr, i))
		order = append(order, fmt.Sprintf("g%d NULLS LAST", i))
	}
	query := `SELECT ` + strings.Join(sel, "") + `
	count(*) FILTER (WHERE e.source = $1),
	count(*) FILTER (WHERE e.source = $1 AND ` + edgeHitSQL + `),
	count(*) FILTER (WHERE e.source = $1 AND ` + edgeErrorSQL + `),
	count(*) FILTER (WHERE e.source = $2)
FROM ` + eventsOf([]keymeter.Source{res.Edge, res.Origin}, q.From, q.To) + ` e
LEFT JOIN key_owner_spans o ON ` + ownerJoin + `
LEFT JOIN dict_dims d ON d.id = e.dims
WHERE e.source IN ($1, $2) AND e.ts >= $3 AND e.ts < $4`
	if len(q.By) > 0 {
		query += "\nGROUP BY ALL ORDER BY " + strings.Join(order, ", ")
	}
	rows, err := s.db.QueryContext(ctx, query, uint8(res.Edge), uint8(res.Origin), q.From.UTC(), q.To.UTC())
	if err != nil {
		return nil, fmt.Errorf("reconcile: %w", err)
	}
	defer rows.Close()
	groups := make([]sql.NullString, len(q.By))
	var r keymeter.ReconcileRow
	dest := make([]any, 0, len(groups)+4)
	for i := range groups {
		dest = append(dest, &groups[i])
	}
	dest = append(dest, &r.EdgeRequests, &r.EdgeHits, &r.EdgeErrors, &r.OriginRequests)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("reconcile: %w", err)
		}
		row := r
		row.Group = make([]keymeter.GroupValue, len(groups))
		for i, g := range groups {
			row.Group[i] = keymeter.GroupValue{Value: g.String, Null: !g.Valid}
		}
		res.Rows = append(res.Rows, row)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reconcile: %w", err)
	}
	return res, nil
}
