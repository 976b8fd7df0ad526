package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keymeter/keymeter/store/duckdb"
)

// built is the keymeter binary the tests run, built once (buildKeymeter).
var built struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// TestMain removes the binary the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// buildKeymeter builds the keymeter binary, once for all the tests of
// the run, and returns its path.
func buildKeymeter(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "keymeter-test-bin-"); built.err != nil {
			return
		}
		built.bin = filepath.Join(built.dir, "keymeter")
		out, err := exec.Command("go", "build", "-o", built.bin, ".").CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bin
}

// subprocessEnv is the test's environment (with the AWS settings of
// awsTestEnv) without keymeter's own variables.
func subprocessEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KEYMETER_") {
			env = append(env, kv)
		}
	}
	return env
}

// storedEvents counts the events in the store, opened read-only: after a
// kill, DuckDB replays what its log holds of committed transactions.
func storedEvents(t *testing.T, data string) int64 {
	t.Helper()
	db, err := duckdb.Open(context.Background(), filepath.Join(data, "keymeter.duckdb"), duckdb.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tab, err := db.QuerySQL(context.Background(), `SELECT count(*) FROM event_rows`)
	if err != nil {
		t.Fatal(err)
	}
	return tab.Rows[0][0].(int64)
}

// TestKinesisKill runs the real keymeter binary as a Kinesis consumer and
// kills it (SIGKILL) at random points, again and again, while a producer
// writes records, redelivers some and splits a shard; then stops a
// follower with SIGTERM, and finally lets a consumer catch up. Whatever
// the kills interrupted, the final totals match the independent count
// exactly.
func TestKinesisKill(t *testing.T) { testKinesisKill(t, false) }

// TestServeKill is TestKinesisKill with keymeter serve as the consumer:
// serve follows the stream (kinesis:// as its SOURCE) and is killed at
// random moments while it ingests, then stopped with SIGTERM, which must
// exit 0 having committed what it read; the totals match exactly.
func TestServeKill(t *testing.T) { testKinesisKill(t, true) }

func testKinesisKill(t *testing.T, serve bool) {
	if testing.Short() {
		t.Skip("builds keymeter and runs it for a while")
	}
	k := newKinesalite(t, 2)
	awsTestEnv(t)
	bin := buildKeymeter(t)
	d := makeRealtimeData(401, 9000)
	c, printed := newRealtimeCLI(t, d)
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	t.Logf("kill times seeded with %d", seed)
	args := []string{"ingest", "kinesis://" + k.name, "--endpoint", k.endpoint, "--fields", strings.Join(configuredFields, ","),
		"--data", c.data, "--quiet", "--json"}
	follow := []string{"--follow", "--commit-every", "50ms"}
	followArgs := func(extra ...string) []string { return append(append(slices.Clone(args), follow...), extra...) }
	if serve {
		followArgs = func(...string) []string {
			return []string{"serve", "kinesis://" + k.name, "--endpoint", k.endpoint, "--fields", strings.Join(configuredFields, ","),
				"--data", c.data, "--listen", "127.0.0.1:0", "--interval", "50ms"}
		}
	}

	// The producer: 100 records every 60 ms, a redelivery of 300 records
	// and a shard split along the way.
	produced := make(chan error, 1)
	go func() {
		for i := 0; i < len(d.records); i += 100 {
			if err := k.tryPut(d, d.records[i:min(i+100, len(d.records))]); err != nil {
				produced <- err
				return
			}
			switch i {
			case 3000:
				if err := k.tryPut(d, d.records[2500:2800]); err != nil {
					produced <- err
					return
				}
			case 5000:
				if err := k.trySplit(); err != nil {
					produced <- err
					return
				}
			}
			time.Sleep(60 * time.Millisecond)
		}
		produced <- nil
	}()

	// Kill at random times; when a run committed nothing new (kinesalite
	// can take a while to serve a backlog), let the next one live longer.
	kills, partial := 0, 0
	var prodErr error
	var stored int64
	minWait := 300 * time.Millisecond
	for done := false; kills < 30 && (!done || kills < 8 || partial < 3 && stored < int64(len(d.unique))); {
		cmd := exec.Command(bin, followArgs()...)
		cmd.Env = subprocessEnv()
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		after := minWait + time.Duration(rng.IntN(2700))*time.Millisecond
		time.Sleep(after)
		cmd.Process.Kill()
		cmd.Wait()
		kills++
		n := storedEvents(t, c.data)
		if n > 0 && n < int64(len(d.unique)) {
			partial++
		}
		if n == stored {
			minWait += 500 * time.Millisecond
		} else {
			minWait = 300 * time.Millisecond
		}
		stored = n
		t.Logf("killed after %v: %d events stored%s", after, n, strings.TrimSpace(" "+stderr.String()))
		select {
		case prodErr = <-produced:
			done = true
		default:
		}
		if prodErr != nil {
			t.Fatal(prodErr)
		}
	}
	if partial < 3 {
		t.Errorf("only %d of %d kills left part of the work committed: the kills did not test much", partial, kills)
	}

	// A follower stopped by SIGTERM commits what it read and exits with 0.
	before := storedEvents(t, c.data)
	cmd := exec.Command(bin, append(slices.Clone(args), "--follow")...)
	if serve {
		cmd = exec.Command(bin, followArgs()...)
	}
	cmd.Env = subprocessEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("follower stopped by SIGTERM: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	if serve {
		if !strings.Contains(stderr.String(), "msg=stopped") {
			t.Errorf("serve stopped by SIGTERM did not log that it stopped:\n%s", stderr.String())
		}
	} else {
		var sum summaryJSON
		if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
			t.Fatalf("summary of the stopped follower: %v\n%s", err, stdout.String())
		}
		if after := storedEvents(t, c.data); after != before+sum.Events {
			t.Errorf("the stopped follower reported %d events, but %d were committed", sum.Events, after-before)
		}
	}
	printed.WriteString(stdout.String() + stderr.String())

	// Catch up without --follow.
	cmd = exec.Command(bin, args...)
	cmd.Env = subprocessEnv()
	out, err := cmd.CombinedOutput()
	printed.Write(out)
	if err != nil {
		t.Fatalf("final run: %v\n%s", err, out)
	}
	t.Logf("%d kills, %d of them with part of the work committed", kills, partial)
	d.check(t, c, "after the kills", printed)
	checkNoRawKeys(t, c, &dataset{keys: d.keys}, printed.String())
}
