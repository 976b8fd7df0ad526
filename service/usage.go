package service

import (
	"context"
	"slices"
	"time"

	"github.com/keymeter/keymeter"
)

// UsageRequest asks for usage.
type UsageRequest struct {
	// Query is the question. Without Sources it counts each request once:
	// the sources with events in the period, by keymeter.DefaultSources
	// (the edge join of CloudFront's two logs, and API Gateway beside it).
	Query keymeter.UsageQuery
	// CoverageThreshold, in basis points, is the share of the standard
	// log's requests the real-time log must have a record of below which
	// the report warns that what it counts from real-time records is
	// short.
	CoverageThreshold int64
}

// UsageReport is usage with how complete it is.
type UsageReport struct {
	// Query is the question as answered: its sources chosen, and, with
	// more than one source, grouped by source first (the sources are
	// never added into one number).
	Query keymeter.UsageQuery
	Rows  []UsageRow
	// Watermarks holds the watermark of each of Query's sources.
	Watermarks map[keymeter.Source]keymeter.Watermark
	// Warnings say what a real-time log below the coverage threshold
	// leaves out, and by about how much.
	Warnings []string
}

// UsageRow is one row of usage and whether it is final.
type UsageRow struct {
	keymeter.UsageRow
	// Watermark is the watermark of the row's source (Known is false
	// when the source has no events yet).
	Watermark keymeter.Watermark
	// Provisional says that the row counts time past its source's
	// watermark (or a source of unknown completeness): its numbers may
	// still change.
	Provisional bool
}

// Usage reports requests and bytes over a period, grouped, with each
// row's completeness. It returns an EINVALID error for an empty period
// or a dimension or source the store does not know, and Open's errors.
func (s *Service) Usage(ctx context.Context, req UsageRequest) (_ *UsageReport, err error) {
	st, err := s.open(ctx, Read)
	if err != nil {
		return nil, err
	}
	defer done(st, &err)
	q := req.Query
	q.By = slices.Clone(q.By)
	if len(q.Sources) == 0 {
		present, err := st.Usage.SourcesIn(ctx, q.From, q.To)
		if err != nil {
			return nil, err
		}
		q.Sources = keymeter.DefaultSources(present)
	}
	if len(q.Sources) > 1 && !slices.Contains(q.By, keymeter.DimSource) {
		// Edge and origin, or two logs of the same requests, are never
		// added into one number.
		q.By = append([]keymeter.Dimension{keymeter.DimSource}, q.By...)
	}
	rows, err := st.Usage.Usage(ctx, q)
	if err != nil {
		return nil, err
	}
	settle := s.settle()
	marks, err := watermarks(ctx, st.Usage, q.SourceList(), q.From, q.To, settle)
	if err != nil {
		return nil, err
	}
	warnings, err := coverageWarnings(ctx, completeness{st.Usage, st.Meters}, q, rows, slices.Index(q.By, keymeter.DimSource), req.CoverageThreshold)
	if err != nil {
		return nil, err
	}
	r := &UsageReport{Query: q, Watermarks: marks, Warnings: warnings, Rows: make([]UsageRow, len(rows))}
	sourceCol := slices.Index(q.By, keymeter.DimSource)
	for i, row := range rows {
		src := keymeter.SourceUnknown
		if sourceCol >= 0 {
			src, _ = keymeter.ParseSource(row.Group[sourceCol].Value) // the store's own name: always known
		} else if l := q.SourceList(); len(l) == 1 {
			src = l[0]
		}
		w, ok := marks[src]
		r.Rows[i] = UsageRow{UsageRow: row, Watermark: w, Provisional: !ok || w.Provisional(rowEnd(q, row))}
	}
	return r, nil
}

// rowEnd returns the end of the time a usage row counts: its day, hour or
// month when grouped by one, within the period.
func rowEnd(q keymeter.UsageQuery, r keymeter.UsageRow) time.Time {
	end := q.To
	for i, d := range q.By {
		g := r.Group[i]
		if g.Null {
			continue
		}
		var t time.Time
		var err error
		switch d {
		case keymeter.DimDay:
			t, err = time.Parse("2006-01-02", g.Value)
			t = t.AddDate(0, 0, 1)
		case keymeter.DimHour:
			t, err = time.Parse(time.RFC3339, g.Value)
			t = t.Add(time.Hour)
		case keymeter.DimMonth:
			t, err = time.Parse("2006-01", g.Value)
			t = t.AddDate(0, 1, 0)
		default:
			continue
		}
		if err == nil && t.Before(end) {
			end = t
		}
	}
	return end
}
