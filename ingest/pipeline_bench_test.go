package ingest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/ingest"
	"github.com/keymeter/keymeter/internal/loggen"
	"github.com/keymeter/keymeter/source/kinesis"
)

// discardStore is a store whose writers count what they are given and
// keep nothing: the pipeline's own cost, without the database's.
type discardStore struct {
	keymeter.Store // nil: only the methods below are called
}

func (discardStore) NewWriter(context.Context) (keymeter.Writer, error) { return &discardWriter{}, nil }

func (discardStore) FindObject(context.Context, keymeter.Object) (*keymeter.ObjectRecord, error) {
	return nil, nil
}

func (discardStore) Checkpoints(context.Context, string) (map[string]string, error) {
	return map[string]string{}, nil
}

type discardWriter struct{}

func (*discardWriter) Write(_ context.Context, b *keymeter.Batch) (keymeter.WriteResult, error) {
	res := keymeter.WriteResult{Stored: len(b.Rows)}
	for i := range b.Rows {
		res.ByAttribution[b.Rows[i].Attribution]++
	}
	return res, nil
}
func (*discardWriter) Reject(context.Context, []keymeter.Reject) error             { return nil }
func (*discardWriter) FinishObject(context.Context, keymeter.ObjectRecord) error   { return nil }
func (*discardWriter) Commit(context.Context) error                                { return nil }
func (*discardWriter) Close() error                                                { return nil }
func (*discardWriter) SetCheckpoint(context.Context, string, string, string) error { return nil }

// benchLines returns n generated standard-log lines (with their header)
// and n real-time records.
func benchLines(n int) (standard []byte, realtime [][]byte) {
	g := loggen.New(loggen.Config{Seed: 9, Start: time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC), Span: 24 * time.Hour,
		Customers: 20, KeysPerCustomer: 2, NoKeyPercent: 5, HeaderKeyPercent: 50, TruncatedPercent: 5, BigHeadersPercent: 5})
	var b strings.Builder
	b.WriteString(loggen.Header(loggen.StandardFields))
	var r loggen.Record
	for range n {
		g.NextRealtime(&r)
		b.Write(r.AppendLine(nil, loggen.StandardFields))
		realtime = append(realtime, r.AppendRealtime(nil, loggen.RealtimeFields))
	}
	return []byte(b.String()), realtime
}

// pagedStream serves records in pages of 500 from one shard.
type pagedStream struct{ pages [][]kinesis.Record }

func newPagedStream(recs [][]byte) *pagedStream {
	s := &pagedStream{}
	for i := 0; i < len(recs); i += 500 {
		var page []kinesis.Record
		for j := i; j < min(i+500, len(recs)); j++ {
			page = append(page, kinesis.Record{Data: recs[j], SequenceNumber: fmt.Sprint(j)})
		}
		s.pages = append(s.pages, page)
	}
	return s
}

func (s *pagedStream) Name() string { return "bench" }

func (s *pagedStream) ReadAll(_ context.Context, _ map[string]string, fn kinesis.ShardFunc) error {
	for _, page := range s.pages {
		if err := fn("shard-0", page, page[len(page)-1].SequenceNumber, 0); err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkPipeline measures the whole per-line path of an ingest run,
// from the bytes of an object or the records of a stream to the batches
// handed to the store's Writer (which discards them): reading, parsing,
// attributing, hiding keys, encoding, batching and accounting. An op is
// one line; allocations are those of a run of 20,000 lines, divided.
func BenchmarkPipeline(b *testing.B) {
	const lines = 20_000
	standard, realtime := benchLines(lines)
	secret := []byte("0123456789abcdef0123456789abcdef")
	check := func(b *testing.B, sum *ingest.Summary, err error) {
		if err != nil || sum.Events != lines {
			b.Fatalf("%+v, %v", sum, err)
		}
	}
	b.Run("objects", func(b *testing.B) {
		in, err := ingest.New(discardStore{}, ingest.Config{Format: "cloudfront", Secret: secret, Workers: 1})
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(standard) / lines))
		b.ReportAllocs()
		b.ResetTimer()
		for n := 0; n < b.N; n += lines {
			inp := input(fmt.Sprintf("s3://b/%d.log", n), standard)
			inp.Object.ETag = "bench" // as S3 objects have: no digest to compute
			sum, err := in.Run(context.Background(), []ingest.Input{inp})
			check(b, sum, err)
		}
	})
	b.Run("stream", func(b *testing.B) {
		in, err := ingest.New(discardStore{}, ingest.Config{Format: "cloudfront-realtime", Secret: secret, CommitInterval: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		size := 0
		for _, r := range realtime {
			size += len(r)
		}
		s := newPagedStream(realtime)
		b.SetBytes(int64(size / lines))
		b.ReportAllocs()
		b.ResetTimer()
		for n := 0; n < b.N; n += lines {
			sum, err := in.RunStream(context.Background(), s)
			check(b, sum, err)
		}
	})
}
