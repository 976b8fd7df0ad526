package service_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/keymeter/keymeter/ingest"
	"github.com/keymeter/keymeter/service"
)

// TestFollowDirs has the directory follower read a file, then a new file
// and the first file grown: the grown file is read again from its
// start, its rows already stored counting as duplicates, so that each
// request is stored once; a listing that finds nothing new reads nothing.
func TestFollowDirs(t *testing.T) {
	e := newEnv(t)
	d := october(3, 300)
	dir := filepath.Join(e.dir, "logs")
	e.writeLog("a.gz", d.records[:100])
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var polls []ingest.Summary
	var listed [][]string
	err := e.svc.FollowDirs(ctx, service.FollowDirRequest{
		Dirs: []string{dir}, Interval: time.Millisecond,
		Listed: func(pending []ingest.Input) {
			var names []string
			for _, in := range pending {
				names = append(names, filepath.Base(in.Object.URI))
			}
			listed = append(listed, names)
			if len(listed) == 3 && len(pending) == 0 {
				// After a listing with nothing new: the test's last step.
				e.writeLog("sub/c.gz", d.records[250:300])
			}
		},
		Polled: func(s *ingest.Summary) error {
			polls = append(polls, *s)
			switch len(polls) {
			case 1:
				e.writeLog("b.gz", d.records[100:200])
				e.writeLog("a.gz", append(d.records[:100:100], d.records[200:250]...)) // grown
			case 3:
				cancel()
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(polls) != 3 {
		t.Fatalf("%d polls, want 3: %+v", len(polls), polls)
	}
	for i, want := range []struct{ events, duplicates int64 }{{100, 0}, {150, 100}, {50, 0}} {
		if polls[i].Events != want.events || polls[i].Duplicates != want.duplicates || len(polls[i].Failed) > 0 {
			t.Errorf("poll %d: %d events, %d duplicates, failed %v; want %d, %d", i+1, polls[i].Events, polls[i].Duplicates,
				polls[i].Failed, want.events, want.duplicates)
		}
	}
	if len(listed) < 4 || len(listed[0]) != 1 || len(listed[1]) != 2 || listed[1][0] != "a.gz" || listed[1][1] != "b.gz" || len(listed[2]) != 0 {
		t.Errorf("listings: %v", listed)
	}
}
