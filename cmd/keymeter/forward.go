package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/keymeter/keymeter/server"
)

// A command run beside a keymeter serve that owns the store is carried
// out by the server: the store's opener finds the server's socket in the
// data directory and returns a forwardError, and Run sends the command
// line, the working directory, the environment the commands read and
// standard input to the server, which runs the same command in-process
// (serve.go) and streams its output and exit code back.

// forwardError says that a keymeter serve owns the store and answers on
// socket.
type forwardError struct{ socket string }

func (e *forwardError) Error() string {
	return "the store is owned by the keymeter serve answering on " + e.socket
}

// exitStatus is the exit code of a command a server ran, which printed
// its own messages.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// forwardedEnv are the environment variables commands read, sent with a
// command to the server.
var forwardedEnv = []string{envData, envConfig, envBilling, "XDG_DATA_HOME", "HOME"}

// forward has the server on socket run args, and returns its exit code
// as an exitStatus (nil for 0).
func (m *Main) forward(ctx context.Context, socket string, args []string, stdin *recordingReader) error {
	dir, err := os.Getwd()
	if err != nil {
		return fmt.Errorf("forward to keymeter serve: %w", err)
	}
	req := server.Request{Args: args, Dir: dir, Env: map[string]string{}}
	for _, k := range forwardedEnv {
		if v := m.Getenv(k); v != "" {
			req.Env[k] = v
		}
	}
	var in io.Reader
	if stdin != nil {
		stdin.stop = true
		in = io.MultiReader(bytes.NewReader(stdin.buf.Bytes()), stdin.r)
	}
	code, err := server.Forward(ctx, socket, req, in, m.Stdout, m.Stderr)
	if err != nil {
		return err
	}
	if code == exitOK {
		return nil
	}
	return exitStatus(code)
}

// recordingReader keeps what is read through it, until stop.
type recordingReader struct {
	r    io.Reader
	buf  bytes.Buffer
	stop bool
}

func (r *recordingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if !r.stop {
		r.buf.Write(p[:n])
	}
	return n, err
}
