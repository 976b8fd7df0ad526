package service

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/keymeter/keymeter/ingest"
	"github.com/keymeter/keymeter/source/file"
)

// FollowDirRequest asks to watch local directories for new log files.
type FollowDirRequest struct {
	// Config holds the runs' settings, as in IngestRequest.
	Config ingest.Config
	// Dirs are directories (read recursively), files or glob patterns,
	// expanded again at every listing.
	Dirs []string
	// Interval is the time between two listings.
	Interval time.Duration
	// Listed, when set, is called after each listing with the files it
	// found that this follower has not read yet, in name order, before
	// they are read.
	Listed func(pending []ingest.Input)
	// Polled is as in FollowRequest.
	Polled func(*ingest.Summary) error
}

// FollowDirs lists the directories every Interval and ingests the files
// it has not seen (a new file, or one whose size or modification time
// changed), until ctx is done; it then returns nil, what was read being
// committed. It is the S3 follower's rule over local files: the store
// skips a file ingested before (by content, or by path, size and
// modification time), and a file that grew is read again from its start,
// its rows already stored counting as duplicates, so nothing counts
// twice. The store is open only while a listing's new files are read. A
// path that cannot be listed is reported in the poll's Failed and tried
// again at the next listing.
func (s *Service) FollowDirs(ctx context.Context, req FollowDirRequest) error {
	type stamp struct {
		size int64
		mod  time.Time
	}
	seen := map[string]stamp{}
	for {
		files, argErrs := file.Expand(req.Dirs)
		var failed []ingest.Failed
		for _, e := range argErrs {
			var ae *file.ArgError
			if !errors.As(e, &ae) {
				return e
			}
			failed = append(failed, ingest.Failed{URI: ae.Arg, Reason: ae.Err.Error()})
		}
		var inputs []ingest.Input
		for _, f := range files {
			if st, ok := seen[f.Object.URI]; ok && st.size == f.Object.Size && st.mod.Equal(f.Object.ModTime) {
				continue
			}
			inputs = append(inputs, ingest.Input{Object: f.Object, Open: f.Open})
		}
		slices.SortFunc(inputs, func(a, b ingest.Input) int { return strings.Compare(a.Object.URI, b.Object.URI) })
		if req.Listed != nil {
			req.Listed(inputs)
		}
		if len(inputs) > 0 || len(failed) > 0 {
			var sum *ingest.Summary
			var err error
			if len(inputs) > 0 {
				sum, err = s.followPoll(ctx, req.Config, inputs)
			} else {
				sum = &ingest.Summary{}
			}
			if sum != nil {
				bad := map[string]bool{}
				for _, f := range sum.Failed {
					bad[f.URI] = true
				}
				for _, in := range inputs {
					if !bad[in.Object.URI] {
						seen[in.Object.URI] = stamp{in.Object.Size, in.Object.ModTime}
					}
				}
				sum.Failed = append(sum.Failed, failed...)
				sum.Objects += len(failed)
				if req.Polled != nil {
					if perr := req.Polled(sum); perr != nil {
						return errors.Join(perr, err)
					}
				}
			}
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
		t := time.NewTimer(req.Interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}
