package service

import (
	"context"

	"github.com/keymeter/keymeter"
)

// CoverageReport is the coverage of CloudFront's real-time log over a
// period: per distribution and UTC day, and in all.
type CoverageReport struct {
	Rows []keymeter.CoverageRow
	// Total adds up the rows' counts (its Distribution and Day are
	// empty).
	Total keymeter.CoverageRow
}

// Coverage compares CloudFront's real-time log with its standard log
// over the half-open period [q.From, q.To). It returns an EINVALID error
// for an empty period, and Open's errors.
func (s *Service) Coverage(ctx context.Context, q keymeter.CoverageQuery) (_ *CoverageReport, err error) {
	st, err := s.open(ctx, Read)
	if err != nil {
		return nil, err
	}
	defer done(st, &err)
	rows, err := st.Coverage.Coverage(ctx, q)
	if err != nil {
		return nil, err
	}
	r := &CoverageReport{Rows: rows}
	for i := range rows {
		r.Total.Standard += rows[i].Standard
		r.Total.WithRealtime += rows[i].WithRealtime
		r.Total.RealtimeOnly += rows[i].RealtimeOnly
		r.Total.KeyTruncated += rows[i].KeyTruncated
		r.Total.KeyRecovered += rows[i].KeyRecovered
	}
	return r, nil
}
