package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keymeter/keymeter"
)

// progressSchema is migration 4: what completeness needs (watermarks,
// the default sources). source_progress holds, per source and
// dimensions entry (which holds the distribution), the times of the
// first and newest events stored; source_hours the UTC hours in which a
// source has events, inserted once and never updated, so that workers
// do not wait for each other on them.
const progressSchema = `
CREATE TABLE source_progress (
	source       SMALLINT    NOT NULL,
	dims         BIGINT      NOT NULL,
	first_event  TIMESTAMPTZ NOT NULL,
	newest_event TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (source, dims)
);
CREATE TABLE source_hours (
	source SMALLINT NOT NULL,
	hour   BIGINT   NOT NULL, -- Unix hours
	PRIMARY KEY (source, hour)
);
`

var _ keymeter.ProgressReader = (*DB)(nil)

type span struct{ first, newest int64 } // Unix microseconds

type hourKey struct {
	source keymeter.Source
	hour   int64
}

// noteProgress records a stored row's time for Progress and SourcesIn.
func (w *writer) noteProgress(src keymeter.Source, r *keymeter.Row) {
	k := dimsKey{src, r.Dims}
	if p, ok := w.progress[k]; ok {
		p.first, p.newest = min(p.first, r.Time), max(p.newest, r.Time)
		w.progress[k] = p
	} else {
		w.progress[k] = span{r.Time, r.Time}
	}
	w.hours[hourKey{src, hourOf(r.Time)}] = true
}

// commitProgress adds the transaction's times to source_progress and
// source_hours, in key order.
func (w *writer) commitProgress(ctx context.Context, tx pgx.Tx) error {
	if len(w.progress) > 0 {
		keys := make([]dimsKey, 0, len(w.progress))
		for k := range w.progress {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b dimsKey) int {
			return cmp.Or(cmp.Compare(a.source, b.source), cmp.Compare(int64(a.id), int64(b.id)))
		})
		src, ids := make([]int16, len(keys)), make([]int64, len(keys))
		first, newest := make([]time.Time, len(keys)), make([]time.Time, len(keys))
		for i, k := range keys {
			p := w.progress[k]
			src[i], ids[i], first[i], newest[i] = int16(k.source), int64(k.id), time.UnixMicro(p.first).UTC(), time.UnixMicro(p.newest).UTC()
		}
		_, err := tx.Exec(ctx, `INSERT INTO source_progress AS p
			SELECT s, d, f, n FROM unnest($1::smallint[], $2::bigint[], $3::timestamptz[], $4::timestamptz[]) WITH ORDINALITY AS t(s, d, f, n, o)
			ORDER BY o
			ON CONFLICT (source, dims) DO UPDATE SET first_event = least(p.first_event, excluded.first_event),
				newest_event = greatest(p.newest_event, excluded.newest_event)
			WHERE excluded.first_event < p.first_event OR excluded.newest_event > p.newest_event`, src, ids, first, newest)
		if err != nil {
			return err
		}
	}
	if len(w.hours) > 0 {
		keys := make([]hourKey, 0, len(w.hours))
		for k := range w.hours {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b hourKey) int { return cmp.Or(cmp.Compare(a.source, b.source), cmp.Compare(a.hour, b.hour)) })
		src, hours := make([]int16, len(keys)), make([]int64, len(keys))
		for i, k := range keys {
			src[i], hours[i] = int16(k.source), k.hour
		}
		_, err := tx.Exec(ctx, `INSERT INTO source_hours
			SELECT s, h FROM unnest($1::smallint[], $2::bigint[]) WITH ORDINALITY AS t(s, h, o) ORDER BY o
			ON CONFLICT DO NOTHING`, src, hours)
		if err != nil {
			return err
		}
	}
	return nil
}

// distributionOf returns the distribution of a source's dimensions
// values: the distribution's domain for CloudFront, the API's ID for API
// Gateway; "" when the log does not say.
func distributionOf(src keymeter.Source, vals []string) string {
	f := keymeter.FieldDistributionDomain
	if src == keymeter.SourceAPIGateway {
		f = keymeter.FieldAPIID
	}
	i := slices.Index(keymeter.LayoutOf(src).Dims, f)
	if i < 0 || i >= len(vals) || vals[i] == "-" {
		return ""
	}
	return vals[i]
}

// Progress implements keymeter.ProgressReader.
func (s *DB) Progress(ctx context.Context) ([]keymeter.SourceProgress, error) {
	rows, err := s.pool.Query(ctx, `SELECT p.source, d.vals, p.first_event, p.newest_event
		FROM source_progress p LEFT JOIN dict_dims d ON d.source = p.source AND d.id = p.dims`)
	if err != nil {
		return nil, fmt.Errorf("source progress: %w", err)
	}
	defer rows.Close()
	type key struct {
		source keymeter.Source
		dist   string
	}
	merged := map[key]*keymeter.SourceProgress{}
	for rows.Next() {
		var src int16
		var vals []string
		var first, newest time.Time
		if err := rows.Scan(&src, &vals, &first, &newest); err != nil {
			return nil, fmt.Errorf("source progress: %w", err)
		}
		k := key{keymeter.Source(src), distributionOf(keymeter.Source(src), vals)}
		p := merged[k]
		if p == nil {
			merged[k] = &keymeter.SourceProgress{Source: k.source, Distribution: k.dist, First: first.UTC(), Newest: newest.UTC()}
			continue
		}
		if first.Before(p.First) {
			p.First = first.UTC()
		}
		if newest.After(p.Newest) {
			p.Newest = newest.UTC()
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("source progress: %w", err)
	}
	out := make([]keymeter.SourceProgress, 0, len(merged))
	for _, p := range merged {
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b keymeter.SourceProgress) int {
		return cmp.Or(cmp.Compare(a.Source, b.Source), cmp.Compare(a.Distribution, b.Distribution))
	})
	return out, nil
}

// SourcesIn implements keymeter.ProgressReader, by whole UTC hours.
func (s *DB) SourcesIn(ctx context.Context, from, to time.Time) ([]keymeter.Source, error) {
	lo, hi := hourOf(from.UnixMicro()), hourOf(to.UnixMicro()-1)
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT source FROM source_hours WHERE hour >= $1 AND hour <= $2 ORDER BY 1`, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("sources: %w", err)
	}
	defer rows.Close()
	var out []keymeter.Source
	for rows.Next() {
		var src int16
		if err := rows.Scan(&src); err != nil {
			return nil, fmt.Errorf("sources: %w", err)
		}
		out = append(out, keymeter.Source(src))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sources: %w", err)
	}
	return out, nil
}
