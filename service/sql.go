package service

import (
	"context"

	"github.com/keymeter/keymeter"
)

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
