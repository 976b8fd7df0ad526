package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keymeter/keymeter/service"
)

func TestSharedSerializesWriters(t *testing.T) {
	closed := false
	sh := NewShared(&service.Stores{Close: func() error { closed = true; return nil }})
	ctx := context.Background()
	w1, err := sh.Open(ctx, service.Write)
	if err != nil {
		t.Fatal(err)
	}
	if _, idle := sh.IdleSince(); idle {
		t.Error("IdleSince says idle while a writer holds the store")
	}
	// Readers are not held up by the writer.
	for _, a := range []service.Access{service.Read, service.Query} {
		r, err := sh.Open(ctx, a)
		if err != nil || r.Close != nil {
			t.Fatalf("open for %v beside a writer: %v (close %v)", a, err, r.Close != nil)
		}
	}
	// A second writer waits: with a context that is done, it gives up.
	done, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := sh.Open(done, service.Write); !errors.Is(err, context.Canceled) {
		t.Fatalf("a second writer while the first holds the store: %v, want context.Canceled", err)
	}
	got := make(chan error, 1)
	go func() {
		w2, err := sh.Open(ctx, service.Write)
		if err == nil {
			err = w2.Close()
		}
		got <- err
	}()
	if err := w1.Close(); err != nil {
		t.Fatal(err)
	}
	w1.Close() // a second Close releases nothing more
	if err := <-got; err != nil {
		t.Fatalf("the second writer after the first closed: %v", err)
	}
	if closed {
		t.Error("Shared closed the shared store")
	}
	if _, idle := sh.IdleSince(); !idle {
		t.Error("IdleSince says busy after every writer closed")
	}
	// Exactly one token: two more writers in turn still work.
	for range 2 {
		w, err := sh.Open(ctx, service.Write)
		if err != nil {
			t.Fatal(err)
		}
		w.Close()
	}
}

func TestForward(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "k.sock")
	if Answers(socket) {
		t.Fatal("Answers before the server listens")
	}
	other := t.TempDir()
	run := func(ctx context.Context, c *Command) int {
		wd, _ := os.Getwd()
		switch c.Args[0] {
		case "echo":
			in, err := io.ReadAll(c.Stdin)
			if err != nil {
				fmt.Fprintln(c.Stderr, "stdin:", err)
				return 1
			}
			fmt.Fprintf(c.Stdout, "args=%s env=%s in=%s", strings.Join(c.Args[1:], ","), c.Env["KEYMETER_DATA"], in)
			fmt.Fprintf(c.Stderr, "wd=%v", wd == other)
			return 3
		case "wait":
			<-ctx.Done()
			fmt.Fprintln(c.Stderr, "keymeter: interrupted")
			return 1
		case "big":
			c.Stdout.Write(bytes.Repeat([]byte("x"), 3*maxFrame+5))
			return 0
		}
		return 2
	}
	cs, err := listenCommands(socket, run, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	go cs.serve()
	defer cs.shutdown(context.Background())
	if fi, err := os.Stat(socket); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode: %v %v", fi, err)
	}
	if !Answers(socket) {
		t.Fatal("Answers is false while the server listens")
	}

	var out, errb bytes.Buffer
	code, err := Forward(context.Background(), socket, Request{Args: []string{"echo", "a", "b"}, Dir: other, Env: map[string]string{"KEYMETER_DATA": "d"}},
		strings.NewReader("hello"), &out, &errb)
	if err != nil || code != 3 || out.String() != "args=a,b env=d in=hello" || errb.String() != "wd=true" {
		t.Errorf("echo: code %d err %v stdout %q stderr %q", code, err, out.String(), errb.String())
	}

	out.Reset()
	if code, err := Forward(context.Background(), socket, Request{Args: []string{"big"}}, nil, &out, &errb); err != nil || code != 0 || out.Len() != 3*maxFrame+5 {
		t.Errorf("big: code %d err %v, %d bytes", code, err, out.Len())
	}

	// Cancelling the client cancels the command, whose last words and
	// exit code still arrive.
	ctx, cancel := context.WithCancel(context.Background())
	errb.Reset()
	res := make(chan int, 1)
	go func() {
		code, err := Forward(ctx, socket, Request{Args: []string{"wait"}}, nil, io.Discard, &errb)
		if err != nil {
			t.Error(err)
		}
		res <- code
	}()
	cancel()
	if code := <-res; code != 1 || errb.String() != "keymeter: interrupted\n" {
		t.Errorf("cancelled: code %d, stderr %q", code, errb.String())
	}

	cs.shutdown(context.Background())
	if _, err := Forward(context.Background(), socket, Request{Args: []string{"echo"}}, nil, io.Discard, io.Discard); !errors.Is(err, ErrNoServer) {
		t.Errorf("after shutdown: %v, want ErrNoServer", err)
	}
}
