package service

import (
	"context"

	"github.com/keymeter/keymeter"
)

// Rejects lists the records ingest rejected, newest first, as f selects
// them. It returns Open's errors.
func (s *Service) Rejects(ctx context.Context, f keymeter.RejectFilter) (_ []keymeter.Reject, err error) {
	st, err := s.open(ctx, Read)
	if err != nil {
		return nil, err
	}
	defer done(st, &err)
	return st.Rejects.Rejects(ctx, f)
}

// SQL runs one read-only query over the store's tables and views and
// hands its rows to w as they are read (keymeter.SQLQuerier). The store
// is opened with Query access, so that nothing but its own data can be
// reached. It returns an EINVALID error for a query that is not a single
// read or is not valid, w's errors, and Open's.
func (s *Service) SQL(ctx context.Context, query string, w keymeter.RowWriter) (err error) {
	st, err := s.open(ctx, Query)
	if err != nil {
		return err
	}
	defer done(st, &err)
	return st.SQL.StreamSQL(ctx, query, w)
}
