package service

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/keymeter/keymeter/ingest"
	"github.com/keymeter/keymeter/source/file"
	"github.com/keymeter/keymeter/source/kinesis"
	"github.com/keymeter/keymeter/source/s3"
)

// IngestRequest asks to read files and S3 objects into the store once.
type IngestRequest struct {
	// Config holds the run's settings. The service sets its Secret (see
	// Secret), and its Now when nil (Service.Now).
	Config ingest.Config
	// Files are files, directories (read recursively) and glob patterns.
	Files []string
	// S3 are s3://BUCKET/PREFIX URLs, listed with S3Config.
	S3       []string
	S3Config s3.Config
	// Force, with Config.Reprocess, replaces even what changes finalized
	// invoices: the difference is billed on the customers' next
	// invoices, and the report's Warnings say which changed.
	Force bool
	// Billing loads the billing config, which reprocessing needs to check
	// the invoices finalized before keymeter kept their plans; nil when
	// there is none.
	Billing func() (*Billing, error)
}

// IngestReport is what an ingest run did.
type IngestReport struct {
	// Summary counts what was read, stored, skipped and rejected; its
	// Skipped and Failed are in URI order, and Failed includes the
	// arguments that named nothing readable.
	Summary *ingest.Summary
	// Warnings say which finalized invoices a forced reprocessing changed.
	Warnings []string
}

// Ingest reads files and S3 objects into the store, exactly once: an
// object ingested before, under any name, is skipped unless
// Config.Reprocess, which reads the inputs again and replaces what their
// earlier reads stored, in one transaction, and refuses (ECONFLICT,
// nothing replaced) when that changes a finalized invoice, unless Force.
//
// An input that cannot be read is listed in Summary.Failed, the others
// are still ingested, and Ingest returns no error for it: the caller
// decides what a partial run means. A report is returned, with the
// error, whenever the run got as far as counting anything.
func (s *Service) Ingest(ctx context.Context, req IngestRequest) (_ *IngestReport, err error) {
	var inputs []ingest.Input
	if len(req.S3) > 0 {
		if inputs, err = listS3(ctx, req.S3Config, req.S3, nil); err != nil {
			return nil, err
		}
	}
	files, argErrs := file.Expand(req.Files)
	for _, f := range files {
		inputs = append(inputs, ingest.Input{Object: f.Object, Open: f.Open})
	}
	var failed []ingest.Failed
	for _, e := range argErrs {
		var ae *file.ArgError
		if !errors.As(e, &ae) {
			return nil, e
		}
		failed = append(failed, ingest.Failed{URI: ae.Arg, Reason: ae.Err.Error()})
	}
	st, err := s.open(ctx, Write)
	if err != nil {
		return nil, err
	}
	defer done(st, &err)
	cfg := req.Config
	var warnings []string
	if cfg.Reprocess {
		if cfg.Check, err = reprocessCheck(ctx, st, req.Billing, req.Force, &warnings); err != nil {
			return nil, err
		}
	}
	sum, runErr := s.ingestOnce(ctx, st, cfg, inputs)
	if sum == nil {
		if len(warnings) > 0 {
			return &IngestReport{Warnings: warnings}, runErr
		}
		return nil, runErr
	}
	sum.Failed = append(sum.Failed, failed...)
	sum.Objects += len(failed)
	// Objects are read in parallel: list them in a stable order.
	slices.SortStableFunc(sum.Skipped, func(a, b ingest.Skipped) int { return strings.Compare(a.URI, b.URI) })
	slices.SortStableFunc(sum.Failed, func(a, b ingest.Failed) int { return strings.Compare(a.URI, b.URI) })
	return &IngestReport{Summary: sum, Warnings: warnings}, runErr
}

// ingestOnce ingests inputs into the open store in one run.
func (s *Service) ingestOnce(ctx context.Context, st *Stores, cfg ingest.Config, inputs []ingest.Input) (*ingest.Summary, error) {
	in, err := s.ingester(ctx, st, cfg)
	if err != nil {
		return nil, err
	}
	return in.Run(ctx, inputs)
}

// ingester returns an Ingester of cfg writing to the open store, with
// the fingerprint secret and the service's clock.
func (s *Service) ingester(ctx context.Context, st *Stores, cfg ingest.Config) (*ingest.Ingester, error) {
	secret, err := s.Secret(ctx, st.Secrets)
	if err != nil {
		return nil, err
	}
	cfg.Secret = secret
	if cfg.Now == nil {
		cfg.Now = s.now
	}
	if cfg.OnCommit == nil {
		hook, err := s.alertHook(ctx, st)
		if err != nil {
			return nil, err
		}
		if hook != nil {
			cfg.OnCommit = hook
		}
	}
	return ingest.New(st.Ingest, cfg)
}

// listS3 lists the objects under the s3:// URLs, leaving out those in
// seen with the same ETag (objects this process already handled), and
// returns them as inputs. The store recognises objects ingested before
// by URI, size, modification time and ETag, without reading them.
func listS3(ctx context.Context, cfg s3.Config, urls []string, seen map[string]string) ([]ingest.Input, error) {
	client, err := s3.New(ctx, cfg)
	if err != nil {
		return nil, err
	}
	var inputs []ingest.Input
	for _, u := range urls {
		bucket, prefix, err := s3.ParseURL(u)
		if err != nil {
			return nil, err
		}
		for obj, err := range client.List(ctx, bucket, prefix) {
			if err != nil {
				return nil, err
			}
			if etag, ok := seen[obj.Object.URI]; ok && etag == obj.Object.ETag {
				continue
			}
			inputs = append(inputs, ingest.Input{
				Object: obj.Object,
				Open:   func(ctx context.Context) (io.ReadCloser, error) { return client.Open(ctx, obj) },
			})
		}
	}
	return inputs, nil
}

// FollowRequest asks to follow S3 prefixes.
type FollowRequest struct {
	// Config holds the runs' settings, as in IngestRequest.
	Config   ingest.Config
	S3       []string // s3://BUCKET/PREFIX URLs
	S3Config s3.Config
	// Interval is the time between two listings.
	Interval time.Duration
	// Listed, when set, is called after each listing with the objects it
	// found that this follower has not handled yet, before they are read.
	Listed func(pending []ingest.Input)
	// Polled is called with what each listing's new objects gave, once
	// they are committed and the store is closed. An error it returns
	// stops the follower, which returns it.
	Polled func(*ingest.Summary) error
}

// FollowS3 lists the S3 prefixes every Interval and ingests the objects
// it has not seen, until ctx is done; it then returns nil, what was read
// being committed (what was not is read again next time). The store is
// open only while a listing's new objects are ingested, so that other
// operations can use it in between. An object that failed is tried
// again at the next listing.
func (s *Service) FollowS3(ctx context.Context, req FollowRequest) error {
	seen := map[string]string{} // URI to ETag of objects read or skipped
	for {
		inputs, err := listS3(ctx, req.S3Config, req.S3, seen)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if req.Listed != nil {
			req.Listed(inputs)
		}
		if len(inputs) > 0 {
			sum, err := s.followPoll(ctx, req.Config, inputs)
			if sum != nil {
				failed := map[string]bool{}
				for _, f := range sum.Failed {
					failed[f.URI] = true
				}
				for _, in := range inputs {
					if !failed[in.Object.URI] {
						seen[in.Object.URI] = in.Object.ETag
					}
				}
				if req.Polled != nil {
					if perr := req.Polled(sum); perr != nil {
						return errors.Join(perr, err)
					}
				}
			}
			if err != nil {
				if ctx.Err() != nil { // interrupted: what was not committed is read again next time
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

// followPoll ingests one listing's new objects, with the store open for
// the time it takes.
func (s *Service) followPoll(ctx context.Context, cfg ingest.Config, inputs []ingest.Input) (_ *ingest.Summary, err error) {
	st, err := s.open(ctx, Write)
	if err != nil {
		return nil, err
	}
	defer done(st, &err)
	return s.ingestOnce(ctx, st, cfg, inputs)
}

// StreamRequest asks to read a Kinesis stream of real-time logs.
type StreamRequest struct {
	// Config holds the run's settings, as in IngestRequest.
	Config ingest.Config
	// URL is kinesis://STREAM.
	URL string
	// Kinesis says how to reach the stream, and whether to follow it.
	Kinesis kinesis.Config
}

// IngestStream reads a Kinesis stream into the store from the
// checkpoints the store keeps: until caught up, or, following, until ctx
// is done, committing what was read before it returns. A follower
// stopped by ctx returns its summary and no error: that is how it ends.
// Otherwise the summary, when there is one, is returned with the error.
func (s *Service) IngestStream(ctx context.Context, req StreamRequest) (_ *ingest.Summary, err error) {
	name, err := kinesis.ParseURL(req.URL)
	if err != nil {
		return nil, err
	}
	stream, err := kinesis.Open(ctx, req.Kinesis, name)
	if err != nil {
		return nil, err
	}
	st, err := s.open(ctx, Write)
	if err != nil {
		return nil, err
	}
	defer done(st, &err)
	in, err := s.ingester(ctx, st, req.Config)
	if err != nil {
		return nil, err
	}
	sum, err := in.RunStream(ctx, stream)
	if err != nil && sum != nil && req.Kinesis.Follow && errors.Is(err, context.Canceled) && ctx.Err() != nil {
		// Stopping a follower is how it ends; what it read is committed.
		return sum, nil
	}
	return sum, err
}
