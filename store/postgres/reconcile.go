package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keymeter/keymeter"
)

// reconcileSchema is migration 3. The reconciliation of the edge with
// the origin (keymeter.Reconciliation) needs, per day and key, how many
// of the edge's requests CloudFront answered itself (hits) or with an
// error of its own: the writer classifies each event by its dimensions'
// edge result and its status, and adds the counts to usage_daily. The
// dimensions dictionary (each DictDims entry's values, which a batch
// hands to the store once) is kept so that every writer classifies the
// events of entries another one stored.
const reconcileSchema = `
CREATE TABLE dict_dims (
	source SMALLINT NOT NULL,
	id     BIGINT   NOT NULL,
	vals   TEXT[]   NOT NULL,
	PRIMARY KEY (source, id)
);
ALTER TABLE usage_daily ADD COLUMN edge_hits BIGINT NOT NULL DEFAULT 0, ADD COLUMN edge_errors BIGINT NOT NULL DEFAULT 0;
`

type dimsKey struct {
	source keymeter.Source
	id     uint64
}

// edgeOutcome is what an edge result says of a request; the rules are
// keymeter.Reconciliation's.
type edgeOutcome uint8

const (
	edgePassed      edgeOutcome = iota // to the origin, or not an edge source
	edgeHit                            // Hit, RefreshHit, Redirect
	edgeErrorResult                    // Error: an error of the edge's own when its status is 000 or 5xx
	edgeError                          // LimitExceeded, CapacityExceeded
)

// outcomeOf classifies the dimensions values of a source's entry.
func outcomeOf(src keymeter.Source, vals []string) edgeOutcome {
	i := slices.Index(keymeter.LayoutOf(src).Dims, keymeter.FieldEdgeResult)
	if i < 0 || i >= len(vals) || !src.IsCloudFront() {
		return edgePassed
	}
	switch vals[i] {
	case "Hit", "RefreshHit", "Redirect":
		return edgeHit
	case "LimitExceeded", "CapacityExceeded":
		return edgeError
	case "Error":
		return edgeErrorResult
	}
	return edgePassed
}

// outcome returns the edge outcome of a row: edgeHit, edgeError or
// edgePassed.
func (w *writer) outcome(src keymeter.Source, r *keymeter.Row) edgeOutcome {
	w.s.mu.Lock()
	o := w.s.dims[dimsKey{src, r.Dims}]
	w.s.mu.Unlock()
	if o == edgeErrorResult {
		if r.Status == 0 || r.Status >= 500 && r.Status <= 599 {
			return edgeError
		}
		return edgePassed
	}
	return o
}

// storeHanded stores the dimensions entries and key fingerprints a batch
// hands to the store, at once and in their own transaction, as DuckDB
// does: a batch hands each entry once (keymeter.Batch.Dict), so an entry
// must outlive a transaction that is rolled back or raced and written
// again. An entry or key the store has is kept unchanged; an entry no
// event refers to is harmless.
func (w *writer) storeHanded(ctx context.Context, b *keymeter.Batch) error {
	dims := map[dimsKey][]string{}
	for _, e := range b.Dict {
		if e.Kind != keymeter.DictDims {
			continue
		}
		vals := make([]string, len(e.Values))
		for i, v := range e.Values {
			vals[i] = keymeter.ValidUTF8(v)
		}
		dims[dimsKey{e.Source, e.ID}] = vals
	}
	if len(dims) == 0 && len(b.Keys) == 0 {
		return nil
	}
	keys := make([]dimsKey, 0, len(dims))
	for k := range dims {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b dimsKey) int {
		return cmp.Or(cmp.Compare(a.source, b.source), cmp.Compare(int64(a.id), int64(b.id)))
	})
	fps := slices.Clone(b.Keys)
	slices.SortFunc(fps, func(a, b keymeter.KeyFingerprint) int { return cmp.Compare(int64(a.ID), int64(b.ID)) })
	fps = slices.CompactFunc(fps, func(a, b keymeter.KeyFingerprint) bool { return a.ID == b.ID })
	err := pgx.BeginFunc(ctx, w.s.pool, func(tx pgx.Tx) error {
		for _, k := range keys {
			if _, err := tx.Exec(ctx, `INSERT INTO dict_dims VALUES ($1, $2, $3) ON CONFLICT (source, id) DO NOTHING`,
				int16(k.source), int64(k.id), dims[k]); err != nil {
				return err
			}
		}
		if len(fps) == 0 {
			return nil
		}
		ids, prints, hints := make([]int64, len(fps)), make([]string, len(fps)), make([]string, len(fps))
		for i, k := range fps {
			ids[i], prints[i], hints[i] = int64(k.ID), keymeter.ValidUTF8(k.Fingerprint), keymeter.ValidUTF8(k.Hint)
		}
		_, err := tx.Exec(ctx, `INSERT INTO api_keys (id, fingerprint, hint)
			SELECT i, f, h FROM unnest($1::bigint[], $2::text[], $3::text[]) WITH ORDINALITY AS t(i, f, h, n) ORDER BY n
			ON CONFLICT (id) DO NOTHING`, ids, prints, hints)
		return err
	})
	if err != nil {
		return fmt.Errorf("write: store dictionary entries and keys: %w", err)
	}
	outcomes := make(map[dimsKey]edgeOutcome, len(dims))
	for k, vals := range dims {
		outcomes[k] = outcomeOf(k.source, vals)
	}
	w.s.keepDims(outcomes)
	return nil
}

// loadDims reads the dimensions entries the batch's rows refer to that
// the store's cache does not hold (entries another writer stored).
func (w *writer) loadDims(ctx context.Context, b *keymeter.Batch) error {
	var missing []int64
	seen := map[uint64]bool{}
	w.s.mu.Lock()
	for i := range b.Rows {
		id := b.Rows[i].Dims
		if seen[id] {
			continue
		}
		seen[id] = true
		if _, ok := w.s.dims[dimsKey{b.Source, id}]; !ok {
			missing = append(missing, int64(id))
		}
	}
	w.s.mu.Unlock()
	if len(missing) == 0 {
		return nil
	}
	rows, err := w.s.pool.Query(ctx, `SELECT id, vals FROM dict_dims WHERE source = $1 AND id = ANY($2::bigint[])`, int16(b.Source), missing)
	if err != nil {
		return fmt.Errorf("write: read dimensions: %w", err)
	}
	defer rows.Close()
	found := map[dimsKey]edgeOutcome{}
	for rows.Next() {
		var id int64
		var vals []string
		if err := rows.Scan(&id, &vals); err != nil {
			return fmt.Errorf("write: read dimensions: %w", err)
		}
		found[dimsKey{b.Source, uint64(id)}] = outcomeOf(b.Source, vals)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("write: read dimensions: %w", err)
	}
	w.s.keepDims(found)
	return nil
}

// keepDims adds stored dictionary entries' outcomes to the store's
// cache (a byte per entry: dimensions are of low cardinality).
func (s *DB) keepDims(m map[dimsKey]edgeOutcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dims == nil {
		s.dims = map[dimsKey]edgeOutcome{}
	}
	for k, o := range m {
		s.dims[k] = o
	}
}

var _ keymeter.Reconciler = (*DB)(nil)

// Reconcile implements keymeter.Reconciler from the daily rollups: for
// periods of whole UTC days, grouped by customer, day or month, of one
// CloudFront log against API Gateway. The edge join of both CloudFront
// logs (the default) and grouping by hour need the lake's events, and
// are refused with an EINVALID error.
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
	switch q.Edge {
	case keymeter.SourceCloudFront, keymeter.SourceCloudFrontRealtime:
	case keymeter.SourceEdge, keymeter.SourceUnknown:
		return nil, needsLake("reconciling the edge join (pass the edge source cloudfront or cloudfront-realtime)")
	default:
		return nil, keymeter.Errorf(keymeter.EINVALID, "%s is not an edge source (want edge, cloudfront or cloudfront-realtime)", q.Edge)
	}
	if !isMidnight(q.From) || !isMidnight(q.To) {
		return nil, needsLake("a period that does not start and end at UTC midnight")
	}
	var sel, groupBy, orderBy []string
	for i, d := range q.By {
		e, ok := rollupDimensionSQL[d]
		if !ok {
			return nil, needsLake("reconciling by " + string(d))
		}
		sel = append(sel, e.expr+", ")
		groupBy = append(groupBy, fmt.Sprint(i+1))
		orderBy = append(orderBy, "("+e.expr+`) COLLATE "C" NULLS LAST`)
	}
	query := `SELECT ` + strings.Join(sel, "") + `
		coalesce(sum(r.requests) FILTER (WHERE r.source = $1), 0)::bigint,
		coalesce(sum(r.edge_hits) FILTER (WHERE r.source = $1), 0)::bigint,
		coalesce(sum(r.edge_errors) FILTER (WHERE r.source = $1), 0)::bigint,
		coalesce(sum(r.requests) FILTER (WHERE r.source = $2), 0)::bigint
		FROM usage_daily r
		LEFT JOIN key_owner_spans o ON o.key_id = r.key_id AND r.key_id <> 0
			AND o.valid_from <= r.day::timestamptz AND r.day::timestamptz < o.valid_until
		WHERE r.source IN ($1, $2) AND r.day >= $3::timestamptz::date AND r.day < $4::timestamptz::date`
	if len(q.By) > 0 {
		query += ` GROUP BY ` + strings.Join(groupBy, ", ") + ` ORDER BY ` + strings.Join(orderBy, ", ")
	}
	rows, err := s.pool.Query(ctx, query, int16(q.Edge), int16(keymeter.SourceAPIGateway), q.From.UTC(), q.To.UTC())
	if err != nil {
		return nil, fmt.Errorf("reconcile: %w", err)
	}
	defer rows.Close()
	res := &keymeter.Reconciliation{Edge: q.Edge, Origin: keymeter.SourceAPIGateway}
	for rows.Next() {
		g := make([]*string, len(q.By))
		var r keymeter.ReconcileRow
		dst := make([]any, 0, len(g)+4)
		for i := range g {
			dst = append(dst, &g[i])
		}
		dst = append(dst, &r.EdgeRequests, &r.EdgeHits, &r.EdgeErrors, &r.OriginRequests)
		if err := rows.Scan(dst...); err != nil {
			return nil, fmt.Errorf("reconcile: %w", err)
		}
		for _, v := range g {
			if v == nil {
				r.Group = append(r.Group, keymeter.GroupValue{Null: true})
			} else {
				r.Group = append(r.Group, keymeter.GroupValue{Value: *v})
			}
		}
		res.Rows = append(res.Rows, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reconcile: %w", err)
	}
	return res, nil
}
