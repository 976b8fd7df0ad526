package service

import (
	"context"

	"github.com/keymeter/keymeter"
)

// ReconcileRequest asks for the edge and the origin side by side.
type ReconcileRequest struct {
	Query keymeter.ReconcileQuery
	// Threshold flags the rows whose unexplained difference exceeds it.
	Threshold keymeter.Threshold
	// FlaggedOnly leaves out the rows that are not flagged.
	FlaggedOnly bool
}

// ReconcileReport is a reconciliation with its flagged rows.
type ReconcileReport struct {
	Edge, Origin keymeter.Source
	// By are the group columns, as asked for.
	By        []keymeter.Dimension
	Threshold keymeter.Threshold
	// Rows are the rows asked for: all of them, or the flagged ones.
	Rows []ReconcileRow
	// Flagged counts the flagged rows, Total all rows of the
	// reconciliation, listed or not.
	Flagged, Total int
}

// ReconcileRow is one group of a reconciliation.
type ReconcileRow struct {
	keymeter.ReconcileRow
	// Flagged says that |Unexplained()| exceeds the threshold.
	Flagged bool
}

// Reconcile lays the edge (CloudFront) and the origin (API Gateway) side
// by side. It returns an EINVALID error for an empty period, a dimension
// not in keymeter.ReconcileDimensions or an edge source that is not one,
// and Open's errors.
func (s *Service) Reconcile(ctx context.Context, req ReconcileRequest) (_ *ReconcileReport, err error) {
	st, err := s.open(ctx, Read)
	if err != nil {
		return nil, err
	}
	defer done(st, &err)
	rec, err := st.Reconciler.Reconcile(ctx, req.Query)
	if err != nil {
		return nil, err
	}
	r := &ReconcileReport{Edge: rec.Edge, Origin: rec.Origin, By: req.Query.By, Threshold: req.Threshold, Total: len(rec.Rows)}
	for i := range rec.Rows {
		row := &rec.Rows[i]
		exceeds := req.Threshold.Exceeds(row)
		if exceeds {
			r.Flagged++
		} else if req.FlaggedOnly {
			continue
		}
		r.Rows = append(r.Rows, ReconcileRow{ReconcileRow: *row, Flagged: exceeds})
	}
	return r, nil
}
