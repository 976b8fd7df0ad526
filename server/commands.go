package server

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"
)

// The commands of other keymeter processes come in on a unix socket in
// the data directory, mode 0600: being able to open it (the data
// directory's owner) is the authentication, as being able to open the
// store is without a server. A command is carried out in-process against
// the shared store, its output streamed back, so that its stdout, stderr
// and exit code are the ones it would have had alone.
//
// The protocol is frames of a type byte, a big-endian uint32 length and
// the payload. The client sends a request ('R', JSON), then stdin when
// asked ('I' data, 'E' end) and 'C' to cancel (SIGINT); the server sends
// stdout ('O') and stderr ('e') as they are written, 'N' when the command
// first reads stdin, and 'X' with the exit code (a big-endian int32).
const (
	frameRequest = 'R'
	frameStdin   = 'I'
	frameEOF     = 'E'
	frameCancel  = 'C'
	frameStdout  = 'O'
	frameStderr  = 'e'
	frameNeed    = 'N'
	frameExit    = 'X'
	maxFrame     = 1 << 20
)

// Request is a command as another keymeter process was asked to run it.
type Request struct {
	// Args are the command line without the program name.
	Args []string `json:"args"`
	// Dir is the client's working directory: relative paths are relative
	// to it.
	Dir string `json:"dir"`
	// Env holds the environment variables the command reads.
	Env map[string]string `json:"env"`
}

// Command is a request being carried out, with its standard streams.
type Command struct {
	Request
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// RunFunc carries out a command and returns its exit code.
type RunFunc func(ctx context.Context, c *Command) int

// ErrNoServer says that no server answers on the socket.
var ErrNoServer = errors.New("no keymeter serve answers")

// Answers reports whether a server answers on socket.
func Answers(socket string) bool {
	if _, err := os.Stat(socket); err != nil {
		return false
	}
	c, err := net.DialTimeout("unix", socket, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Forward sends the command req to the server on socket and relays its
// streams: stdin when the command reads it, stdout and stderr as they
// come. When ctx is done the command is cancelled (as SIGINT would
// cancel it) and Forward still waits for its exit code. It returns
// ErrNoServer when no server answers.
func Forward(ctx context.Context, socket string, req Request, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	conn, err := net.DialTimeout("unix", socket, time.Second)
	if err != nil {
		return 0, fmt.Errorf("%w on %s: %v", ErrNoServer, socket, err)
	}
	defer conn.Close()
	fw := &frameWriter{w: conn}
	b, err := json.Marshal(req)
	if err != nil {
		return 0, err
	}
	if err := fw.write(frameRequest, b); err != nil {
		return 0, fmt.Errorf("send command to keymeter serve: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { fw.write(frameCancel, nil) })
	defer stop()
	r := bufio.NewReader(conn)
	var stdinOnce sync.Once
	for {
		typ, payload, err := readFrame(r)
		if err != nil {
			return 0, fmt.Errorf("keymeter serve went away before the command ended: %w", err)
		}
		switch typ {
		case frameStdout:
			if _, err := stdout.Write(payload); err != nil {
				return 0, err
			}
		case frameStderr:
			if _, err := stderr.Write(payload); err != nil {
				return 0, err
			}
		case frameNeed:
			stdinOnce.Do(func() {
				go func() {
					buf := make([]byte, 64<<10)
					for stdin != nil {
						n, err := stdin.Read(buf)
						if n > 0 && fw.write(frameStdin, buf[:n]) != nil {
							return
						}
						if err != nil {
							break
						}
					}
					fw.write(frameEOF, nil)
				}()
			})
		case frameExit:
			if len(payload) != 4 {
				return 0, errors.New("keymeter serve sent a bad exit code")
			}
			return int(int32(binary.BigEndian.Uint32(payload))), nil
		}
	}
}

// commandServer takes commands on the socket.
type commandServer struct {
	ln     net.Listener
	run    RunFunc
	log    *slog.Logger
	done   func(command string, code int) // counts commands; may be nil
	gate   dirGate
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// listenCommands listens on socket, replacing a stale socket file that
// no server answers on (the caller holds the store, so no other server
// runs).
func listenCommands(socket string, run RunFunc, log *slog.Logger) (*commandServer, error) {
	if run == nil {
		return nil, errors.New("server: a socket but no RunFunc")
	}
	if err := os.Remove(socket); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale socket: %w", err)
	}
	ln, err := net.Listen("unix", socket)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", socket, err)
	}
	if err := os.Chmod(socket, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("listen on %s: %w", socket, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &commandServer{ln: ln, run: run, log: log, ctx: ctx, cancel: cancel}, nil
}

func (cs *commandServer) serve() {
	for {
		conn, err := cs.ln.Accept()
		if err != nil {
			return
		}
		cs.wg.Go(func() { cs.handle(conn) })
	}
}

// shutdown stops taking commands, waits for those running until ctx is
// done, then cancels them and waits for them to end.
func (cs *commandServer) shutdown(ctx context.Context) {
	cs.ln.Close()
	done := make(chan struct{})
	go func() { cs.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		cs.cancel()
		<-done
	}
	cs.cancel()
}

func (cs *commandServer) handle(conn net.Conn) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	typ, payload, err := readFrame(r)
	if err != nil || typ != frameRequest {
		return // a probe (Answers), or not a client
	}
	var req Request
	if err := json.Unmarshal(payload, &req); err != nil {
		return
	}
	ctx, cancel := context.WithCancel(cs.ctx)
	defer cancel()
	fw := &frameWriter{w: conn}
	pr, pw := io.Pipe()
	go func() {
		for {
			typ, payload, err := readFrame(r)
			switch {
			case err != nil:
				pw.CloseWithError(io.ErrUnexpectedEOF)
				cancel()
				return
			case typ == frameStdin:
				pw.Write(payload)
			case typ == frameEOF:
				pw.Close()
			case typ == frameCancel:
				cancel()
			}
		}
	}()
	c := &Command{
		Request: req,
		Stdin:   &askingReader{r: pr, ask: func() { fw.write(frameNeed, nil) }},
		Stdout:  streamWriter{fw, frameStdout},
		Stderr:  streamWriter{fw, frameStderr},
	}
	start := time.Now()
	leave := cs.gate.enter(req.Dir)
	code := cs.run(ctx, c)
	leave()
	cs.log.Info("command", "args", commandName(req.Args), "exit", code, "duration", time.Since(start))
	if cs.done != nil {
		cs.done(commandName(req.Args), code)
	}
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(int32(code)))
	fw.write(frameExit, b[:])
	pw.Close()
}

// commandName is the command of args for logs and metrics, without its
// arguments (which can hold SQL or paths): "other" for what is not a
// command's name.
func commandName(args []string) string {
	if len(args) == 0 {
		return ""
	}
	name := args[0]
	if len(name) > 16 {
		return "other"
	}
	for _, c := range name {
		if (c < 'a' || c > 'z') && c != '-' {
			return "other"
		}
	}
	return name
}

// askingReader asks the client for stdin at the first Read.
type askingReader struct {
	r    io.Reader
	ask  func()
	once sync.Once
}

func (a *askingReader) Read(p []byte) (int, error) {
	a.once.Do(a.ask)
	return a.r.Read(p)
}

// frameWriter writes whole frames, one at a time.
type frameWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (fw *frameWriter) write(typ byte, payload []byte) error {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	for {
		n := min(len(payload), maxFrame)
		var hdr [5]byte
		hdr[0] = typ
		binary.BigEndian.PutUint32(hdr[1:], uint32(n))
		if _, err := fw.w.Write(hdr[:]); err != nil {
			return err
		}
		if _, err := fw.w.Write(payload[:n]); err != nil {
			return err
		}
		payload = payload[n:]
		if len(payload) == 0 {
			return nil
		}
	}
}

// streamWriter writes a command's output as frames of one type.
type streamWriter struct {
	fw  *frameWriter
	typ byte
}

func (s streamWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if err := s.fw.write(s.typ, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func readFrame(r *bufio.Reader) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("frame of %d bytes", n)
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, err
	}
	return hdr[0], payload, nil
}

// dirGate runs commands in their client's working directory. The working
// directory is the process's: commands from the same directory run
// side by side, and one from another directory waits until they are done
// (the server's own paths are absolute, so it is unaffected).
type dirGate struct {
	mu      sync.Mutex
	cond    *sync.Cond
	dir     string
	running int
}

func (g *dirGate) enter(dir string) (leave func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cond == nil {
		g.cond = sync.NewCond(&g.mu)
	}
	if dir == "" {
		dir = g.dir
	}
	for g.running > 0 && g.dir != dir {
		g.cond.Wait()
	}
	if g.running == 0 && dir != "" && dir != g.dir {
		if err := os.Chdir(dir); err == nil {
			g.dir = dir
		}
	}
	g.running++
	return func() {
		g.mu.Lock()
		g.running--
		g.cond.Broadcast()
		g.mu.Unlock()
	}
}
