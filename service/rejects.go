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
