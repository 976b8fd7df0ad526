package ingest_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/ingest"
	"github.com/keymeter/keymeter/internal/loggen"
	"github.com/keymeter/keymeter/store/duckdb"
)

// TestFrontEndsAgree reads the same real-time records as one object and
// as a stream: whatever the source, the events, the accounting and the
// rejects (reason, field, redacted text and length) are the same; only
// where a reject is placed differs.
func TestFrontEndsAgree(t *testing.T) {
	const query, header = "km_QueryKey0123456789abc", "km_HeaderKey0123456789ab"
	fields := []string{"timestamp", "c-ip", "sc-status", "cs-uri-stem", "x-edge-request-id", "cs-headers"}
	record := func(ts, status, stem, id, headers string) string {
		return strings.Join([]string{ts, "192.0.2.1", status, stem, id, headers}, "\t") + "\n"
	}
	records := []string{
		record("1759276800.123", "200", "/v1/a?api_key="+query, "r1", "host:a%0A"),
		record("1759276801", "200", "/v1/b", "r2", "x-api-key:"+header+"%0A"),
		record("1759276802", "200", "/v1/c", "r3", "host:a%0A"),
		record("1759276803", "OK", "/v1/d?api_key="+query, "r4", "x-api-key:"+header+"%0A"),
		record("1759622400", "200", "/v1/e", "r5", "x-api-key:"+header+"%0A"), // four days after reading
		"1759276804\tthree\tfields\n",
		record("1759276801", "200", "/v1/b", "r2", "x-api-key:"+header+"%0A"), // a copy
	}
	readAt := time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC)
	cfg := ingest.Config{Format: "cloudfront-realtime", RealtimeFields: fields, Secret: testSecret,
		Now: func() time.Time { return readAt }}

	objects := openStore(t)
	osum := run(t, objects, cfg, input("logs/rt.log", []byte(strings.Join(records, ""))))

	stream := openStore(t)
	in, err := ingest.New(stream, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var data [][]byte
	for _, r := range records {
		data = append(data, []byte(r))
	}
	ssum, err := in.RunStream(ctx, &fakeStream{shards: map[string][][]byte{"s1": data}, page: 3})
	if err != nil {
		t.Fatal(err)
	}

	if osum.Lines != 7 || osum.Events != 3 || osum.Duplicates != 1 || osum.Rejected != 3 {
		t.Errorf("objects: %+v", osum)
	}
	if osum.Lines != ssum.Lines || osum.Events != ssum.Events || osum.Duplicates != ssum.Duplicates || osum.Rejected != ssum.Rejected ||
		osum.Unattributed != ssum.Unattributed || !reflect.DeepEqual(osum.UnattributedByDay, ssum.UnattributedByDay) {
		t.Errorf("the summaries differ:\nobjects %+v\nstream  %+v", osum, ssum)
	}
	if got, want := requests(t, stream), requests(t, objects); got != want {
		t.Errorf("the stream stored %d requests, the object %d", got, want)
	}
	orj, err := objects.Rejects(ctx, keymeter.RejectFilter{})
	if err != nil {
		t.Fatal(err)
	}
	srj, err := stream.Rejects(ctx, keymeter.RejectFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(orj) != 3 || len(srj) != 3 {
		t.Fatalf("rejects: %d from the object, %d from the stream", len(orj), len(srj))
	}
	type content struct {
		Source        keymeter.Source
		Field, Reason string
		Text          string
		TextLen       int64
	}
	byText := func(rs []keymeter.Reject) map[string]content {
		m := map[string]content{}
		for _, r := range rs {
			m[r.Text] = content{r.Source, r.Field, r.Reason, r.Text, r.TextLen}
			if strings.Contains(r.Text+r.Reason+r.Field, query) || strings.Contains(r.Text+r.Reason+r.Field, header) {
				t.Errorf("a reject keeps a key: %+v", r)
			}
		}
		return m
	}
	if o, s := byText(orj), byText(srj); !reflect.DeepEqual(o, s) {
		t.Errorf("the rejects differ:\nobjects %+v\nstream  %+v", o, s)
	}
	for _, r := range srj {
		if !strings.HasPrefix(r.Object, "kinesis://fake/s1#") || r.Line != 1 {
			t.Errorf("a stream's reject placed at %s:%d", r.Object, r.Line)
		}
	}
}

// closeFailStore is a store whose writers fail to close, after closing:
// a failed rollback or a lost connection.
type closeFailStore struct{ *duckdb.DB }

var errClose = errors.New("the connection is gone")

func (s closeFailStore) NewWriter(ctx context.Context) (keymeter.Writer, error) {
	w, err := s.DB.NewWriter(ctx)
	if err != nil {
		return nil, err
	}
	return closeFailWriter{w}, nil
}

type closeFailWriter struct{ keymeter.Writer }

func (w closeFailWriter) SetCheckpoint(ctx context.Context, stream, shard, seq string) error {
	return w.Writer.(keymeter.Checkpointer).SetCheckpoint(ctx, stream, shard, seq)
}

func (w closeFailWriter) Close() error {
	w.Writer.Close()
	return errClose
}

// TestWriterCloseError checks that both front-ends report the store
// writer's failure to close instead of swallowing it, with what the run
// committed.
func TestWriterCloseError(t *testing.T) {
	db := openStore(t)
	text, _ := logLines(3, 10)
	in, err := ingest.New(closeFailStore{db}, ingest.Config{Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := in.Run(ctx, []ingest.Input{input("a.log", []byte(text))})
	if !errors.Is(err, errClose) || sum == nil || sum.Events != 10 {
		t.Errorf("Run: %+v, %v; want 10 events and the close error", sum, err)
	}
	in, err = ingest.New(closeFailStore{db}, ingest.Config{Format: "cloudfront-realtime", Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	var recs [][]byte
	for _, r := range realtimeSet(4, 20).records {
		recs = append(recs, r.AppendRealtime(nil, loggen.RealtimeFields))
	}
	sum, err = in.RunStream(ctx, &fakeStream{shards: map[string][][]byte{"s": recs}, page: 5})
	if !errors.Is(err, errClose) || sum == nil || sum.Events != 20 {
		t.Errorf("RunStream: %+v, %v; want 20 events and the close error", sum, err)
	}
}
