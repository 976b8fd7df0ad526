package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/ingest"
	"github.com/keymeter/keymeter/source/kinesis"
	"github.com/keymeter/keymeter/source/s3"
)

// s3Client returns a client for the s3:// sources: path-style addressing
// when an endpoint is given, as S3-compatible servers need.
func s3Client(ctx context.Context, o *ingestOptions) (*s3.Client, error) {
	return s3.New(ctx, s3.Config{Endpoint: o.endpoint, Region: o.region, PathStyle: o.endpoint != ""})
}

// listS3 lists the objects under the s3:// URLs, leaving out those in
// seen with the same ETag (objects this process already handled), and
// returns them as inputs. The store recognises objects ingested before
// by URI, size, modification time and ETag, without reading them.
func (m *Main) listS3(ctx context.Context, o *ingestOptions, urls []string, seen map[string]string) ([]ingest.Input, error) {
	client, err := s3Client(ctx, o)
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

// followS3 lists the s3:// sources every --interval and ingests the
// objects it has not seen, until ctx is done. The store is open only
// while a listing's new objects are ingested, so that other keymeter
// commands can use it in between.
func (m *Main) followS3(ctx context.Context, cfg *Config, o *ingestOptions, urls []string) error {
	seen := map[string]string{} // URI to ETag of objects read or skipped
	for {
		inputs, err := m.listS3(ctx, o, urls, seen)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if len(inputs) > 0 {
			sum, err := m.followPoll(ctx, cfg, o, inputs)
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
				m.writePoll(sum, o)
			}
			if err != nil {
				if ctx.Err() != nil { // interrupted: what was not committed is read again next time
					return nil
				}
				return err
			}
		}
		t := time.NewTimer(o.interval)
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
func (m *Main) followPoll(ctx context.Context, cfg *Config, o *ingestOptions, inputs []ingest.Input) (*ingest.Summary, error) {
	db, err := cfg.openStore(ctx, false)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return m.ingestOnce(ctx, db, cfg, o, inputs, nil)
}

// writePoll reports what one listing of a follower ingested: a line for
// people, or one JSON summary per line with --json.
func (m *Main) writePoll(s *ingest.Summary, o *ingestOptions) {
	if o.asJSON {
		json.NewEncoder(m.Stdout).Encode(newSummaryJSON(s, false))
		return
	}
	fmt.Fprintf(m.Stdout, "%s  %d new objects (%d read, %d skipped, %d failed): %d events stored, %d duplicates, %d rejected, %d unattributed (%d key header truncated)\n",
		time.Now().UTC().Format(time.RFC3339), s.Objects, s.Read, len(s.Skipped), len(s.Failed), s.Events, s.Duplicates, s.Rejected,
		s.UnattributedTotal(), s.Unattributed[keymeter.KeyTruncated])
	for _, f := range s.Failed {
		fmt.Fprintf(m.Stdout, "  failed: %s: %s\n", f.URI, f.Reason)
	}
}

// ingestKinesis reads a Kinesis stream of real-time logs from the
// checkpoints in the store: until caught up, or with --follow until ctx
// is done, committing what was read before it returns.
func (m *Main) ingestKinesis(ctx context.Context, cfg *Config, o *ingestOptions, url string) error {
	name, err := kinesis.ParseURL(url)
	if err != nil {
		return err
	}
	stream, err := kinesis.Open(ctx, kinesis.Config{Endpoint: o.endpoint, Region: o.region, Follow: o.follow}, name)
	if err != nil {
		return err
	}
	db, err := cfg.openStore(ctx, false)
	if err != nil {
		return err
	}
	defer db.Close()
	secret, err := cfg.secret(ctx, db)
	if err != nil {
		return err
	}
	var progress *progressLine
	if !o.quiet && isTerminal(m.Stderr) {
		progress = &progressLine{w: m.Stderr, start: time.Now(), stream: true}
	}
	in, err := ingest.New(db, cfg.ingestConfig(o, secret, progress.update))
	if err != nil {
		return err
	}
	sum, runErr := in.RunStream(ctx, stream)
	progress.done()
	if sum == nil {
		return runErr
	}
	if o.asJSON {
		err = writeSummaryJSON(m.Stdout, sum, true)
	} else {
		err = writeSummary(m.Stdout, sum, true)
	}
	if runErr != nil {
		// Stopping a follower is how it ends; what it read is committed.
		if o.follow && errors.Is(runErr, context.Canceled) && ctx.Err() != nil {
			return err
		}
		return runErr
	}
	if err != nil {
		return err
	}
	if o.strict && sum.Rejected > 0 {
		return keymeter.Errorf(keymeter.EPARTIAL, "%d records were rejected (--strict); see keymeter rejects", sum.Rejected)
	}
	return nil
}
