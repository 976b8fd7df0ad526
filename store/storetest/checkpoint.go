package storetest

import (
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
)

// testUnattributedByDay checks that Write counts the stored rows without
// a key per UTC day and reason, leaving out duplicates and keyed rows.
func testUnattributedByDay(t *testing.T, s keymeter.Store) {
	day := keymeter.DayOf(day0.UnixMicro())
	res := write(t, s, "obj1",
		ev{at: time.Hour, id: "a", key: "k1"},
		ev{at: 2 * time.Hour, id: "b"},
		ev{at: 3 * time.Hour, id: "c", truncated: true, source: keymeter.SourceCloudFrontRealtime},
		ev{at: 24*time.Hour - time.Microsecond, id: "d", truncated: true, source: keymeter.SourceCloudFrontRealtime},
		ev{at: 24 * time.Hour, id: "e", truncated: true, source: keymeter.SourceCloudFrontRealtime},
		ev{at: 24 * time.Hour, id: "e", truncated: true, source: keymeter.SourceCloudFrontRealtime}, // a duplicate
	)
	want := map[keymeter.DayAttribution]int{
		{Day: day, Attribution: keymeter.NoKey}:            1,
		{Day: day, Attribution: keymeter.KeyTruncated}:     2,
		{Day: day + 1, Attribution: keymeter.KeyTruncated}: 1,
	}
	if !maps.Equal(res.UnattributedByDay, want) || res.ByAttribution != [keymeter.NumAttributions]int{1, 1, 3} {
		t.Errorf("write result %+v; want by day %v", res, want)
	}
	if res := write(t, s, "obj2", ev{at: time.Hour, id: "f", key: "k1"}); res.UnattributedByDay != nil {
		t.Errorf("all rows keyed: UnattributedByDay = %v, want nil", res.UnattributedByDay)
	}
	expect(t, "usage by day and reason", usage(t, s, keymeter.UsageQuery{By: []keymeter.Dimension{keymeter.DimDay, keymeter.DimReason}}),
		[]string{"2025-10-01|key_truncated: 2 0 0", "2025-10-01|no_key: 1 0 0", "2025-10-01|<null>: 2 0 0", "2025-10-02|key_truncated: 1 0 0"})
}

// testCheckpoints checks stream checkpoints, for stores whose writers can
// keep them: they commit and roll back with the events, the last one set
// wins, and streams are kept apart.
func testCheckpoints(t *testing.T, s keymeter.Store) {
	reader, ok := s.(keymeter.CheckpointReader)
	if !ok {
		t.Skip("the store does not implement keymeter.CheckpointReader")
	}
	checkpoints := func(stream string) string {
		t.Helper()
		m, err := reader.Checkpoints(ctx, stream)
		if err != nil {
			t.Fatal(err)
		}
		if m == nil {
			t.Fatal("Checkpoints returned a nil map")
		}
		return fmt.Sprint(m)
	}
	newWriter := func() (keymeter.Writer, keymeter.Checkpointer) {
		t.Helper()
		w, err := s.NewWriter(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c, ok := w.(keymeter.Checkpointer)
		if !ok {
			w.Close()
			t.Fatal("the store reads checkpoints but its writer does not implement keymeter.Checkpointer")
		}
		return w, c
	}
	set := func(c keymeter.Checkpointer, stream, shard, seq string) {
		t.Helper()
		if err := c.SetCheckpoint(ctx, stream, shard, seq); err != nil {
			t.Fatal(err)
		}
	}
	writeEvents := func(w keymeter.Writer, events ...ev) {
		t.Helper()
		for _, b := range batches("kinesis://s1", events...) {
			b.Source = keymeter.SourceCloudFrontRealtime
			if _, err := w.Write(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
	}

	if got := checkpoints("s1"); got != "map[]" {
		t.Fatalf("before any write: %s", got)
	}
	w, c := newWriter()
	writeEvents(w, ev{at: time.Hour, id: "a", sent: 1})
	set(c, "s1", "shardId-000000000000", "100")
	set(c, "s1", "shardId-000000000001", "5")
	set(c, "s1", "shardId-000000000000", "200") // the last one wins
	set(c, "s2", "shardId-000000000000", "7")
	if got := checkpoints("s1"); got != "map[]" {
		t.Errorf("visible before commit: %s", got)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := checkpoints("s1"), "map[shardId-000000000000:200 shardId-000000000001:5]"; got != want {
		t.Errorf("after commit: %s, want %s", got, want)
	}
	if got, want := checkpoints("s2"), "map[shardId-000000000000:7]"; got != want {
		t.Errorf("other stream: %s, want %s", got, want)
	}

	// A checkpoint alone commits too, and moves on from the stored one.
	set(c, "s1", "shardId-000000000001", "6")
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := checkpoints("s1"), "map[shardId-000000000000:200 shardId-000000000001:6]"; got != want {
		t.Errorf("after a second commit: %s, want %s", got, want)
	}

	// A writer closed before its commit loses its checkpoints with its
	// events: both are read and written again after a restart.
	writeEvents(w, ev{at: time.Hour, id: "b", sent: 2})
	set(c, "s1", "shardId-000000000000", "300")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := checkpoints("s1"), "map[shardId-000000000000:200 shardId-000000000001:6]"; got != want {
		t.Errorf("after a rollback: %s, want %s", got, want)
	}
	expect(t, "events after the rollback", usage(t, s, keymeter.UsageQuery{}), []string{": 1 1 0"})

	w, c = newWriter()
	defer w.Close()
	writeEvents(w, ev{at: time.Hour, id: "b", sent: 2})
	set(c, "s1", "shardId-000000000000", "300")
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := checkpoints("s1"), "map[shardId-000000000000:300 shardId-000000000001:6]"; got != want {
		t.Errorf("after the rerun: %s, want %s", got, want)
	}
	expect(t, "events after the rerun", usage(t, s, keymeter.UsageQuery{}), []string{": 2 3 0"})
}
