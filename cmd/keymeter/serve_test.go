package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// serveProcess is a keymeter serve run by a test.
type serveProcess struct {
	t      *testing.T
	cmd    *exec.Cmd
	addr   string // the HTTP address it listens on
	mu     sync.Mutex
	stderr bytes.Buffer
	exited chan error
}

var listenLine = regexp.MustCompile(`msg=serving listen=(\S+)`)

// startServe starts bin serve with args (and --listen 127.0.0.1:0) in
// dir, and waits until it serves.
func startServe(t *testing.T, bin, dir string, env []string, args ...string) *serveProcess {
	t.Helper()
	p := &serveProcess{t: t, exited: make(chan error, 1)}
	p.cmd = exec.Command(bin, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	p.cmd.Dir, p.cmd.Env = dir, env
	pipe, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			p.mu.Lock()
			p.stderr.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if m := listenLine.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		io.Copy(io.Discard, pipe)
		p.exited <- p.cmd.Wait()
		close(addr)
	}()
	select {
	case a, ok := <-addr:
		if !ok {
			t.Fatalf("keymeter serve exited before serving:\n%s", p.log())
		}
		p.addr = a
	case <-time.After(time.Minute):
		p.cmd.Process.Kill()
		t.Fatalf("keymeter serve did not start serving:\n%s", p.log())
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

func (p *serveProcess) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// stop stops the server with SIGTERM and returns its exit code.
func (p *serveProcess) stop() int {
	p.t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exited:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			p.t.Fatal(err)
		}
		return 0
	case <-time.After(time.Minute):
		p.cmd.Process.Kill()
		p.t.Fatalf("keymeter serve did not stop on SIGTERM:\n%s", p.log())
		return -1
	}
}

// get fetches path from the server and returns the body.
func (p *serveProcess) get(path string) (int, string) {
	p.t.Helper()
	resp, err := http.Get("http://" + p.addr + path)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		p.t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// runBinary runs bin with args in dir and returns what it printed and its
// exit code.
func runBinary(t *testing.T, bin, dir string, env []string, stdin string, args ...string) result2 {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result2{out.String(), errb.String(), code}
}

// TestServeCLIBeside runs every step of TestCLIGolden with the real
// binary twice, alone and from another process beside a running keymeter
// serve (started in another directory, so that relative paths must
// resolve against the client's), and requires the same stdout, stderr
// and exit code from each, but for the data directory's name and the
// times of the run. It also checks that a second serve is refused with
// exit status 4 and that SIGTERM stops serve with 0.
func TestServeCLIBeside(t *testing.T) {
	if testing.Short() {
		t.Skip("builds keymeter and runs it")
	}
	bin := buildKeymeter(t)
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	env := append(subprocessEnv(), "HOME="+t.TempDir(), "KEYMETER_BILLING=../../testdata/sample/billing.yaml")
	newData := func() string {
		d := t.TempDir()
		writeFile(t, filepath.Join(d, "secret"), strings.Repeat("6b", 32)+"\n")
		if err := os.Chmod(filepath.Join(d, "secret"), 0o600); err != nil {
			t.Fatal(err)
		}
		return d
	}
	normalize := func(s, data string) string {
		s = strings.ReplaceAll(s, data, "DATA")
		s = nowLike.ReplaceAllString(s, "NOW")
		return padding.ReplaceAllString(s, " ")
	}
	steps := append(cliSteps[:len(cliSteps):len(cliSteps)],
		struct {
			name string
			args []string
		}{"sql-stdin", []string{"sql", "-"}},
		struct {
			name string
			args []string
		}{"keys-missing-file", []string{"keys", "import", "no-such.csv"}})
	stdinOf := map[string]string{"sql-stdin": "SELECT count(*) AS n FROM events\n"}

	// Alone, the same command runs in-process (what the binary's main
	// does), which is quicker.
	alone := newData()
	aloneEnv := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		aloneEnv[k] = v
	}
	want := make([]result2, len(steps))
	for i, st := range steps {
		var out, errb bytes.Buffer
		m := &Main{Stdin: strings.NewReader(stdinOf[st.name]), Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return aloneEnv[k] }}
		code := m.report(m.Run(context.Background(), append(st.args, "--data", alone)))
		want[i] = result2{out.String(), errb.String(), code}
	}

	beside := newData()
	srv := startServe(t, bin, t.TempDir(), env, "--data", beside)
	if fi, err := os.Stat(filepath.Join(beside, "keymeter.sock")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the socket: %v, %v (want mode 0600)", fi, err)
	}
	for i, st := range steps {
		got := runBinary(t, bin, wd, env, stdinOf[st.name], append(st.args, "--data", beside)...)
		if got.code != want[i].code || normalize(got.stdout, beside) != normalize(want[i].stdout, alone) ||
			normalize(got.stderr, beside) != normalize(want[i].stderr, alone) {
			t.Errorf("%s beside serve: exit %d\nstdout:\n%s\nstderr:\n%s\nalone: exit %d\nstdout:\n%s\nstderr:\n%s",
				st.name, got.code, got.stdout, got.stderr, want[i].code, want[i].stdout, want[i].stderr)
		}
	}
	if !strings.Contains(srv.log(), "msg=command args=usage exit=0") {
		t.Errorf("the commands were not carried out by serve:\n%s", srv.log())
	}

	second := runBinary(t, bin, wd, env, "", "serve", "--data", beside, "--listen", "127.0.0.1:0")
	if second.code != exitConflict || !strings.Contains(second.stderr, "keymeter serve is already running") {
		t.Errorf("a second serve: exit %d, stderr %q (want %d, already running)", second.code, second.stderr, exitConflict)
	}
	if code, body := srv.get("/healthz"); code != 200 {
		t.Errorf("/healthz: %d %s", code, body)
	}
	if code := srv.stop(); code != 0 {
		t.Errorf("serve stopped by SIGTERM exited with %d:\n%s", code, srv.log())
	}
	if _, err := os.Stat(filepath.Join(beside, "keymeter.sock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the socket is left after serve stopped: %v", err)
	}
	// Without the server, the commands open the store themselves again.
	if r := runBinary(t, bin, wd, env, "", "sql", "SELECT count(*) AS n FROM events", "--data", beside); r.code != 0 || !strings.Contains(r.stdout, "6000") {
		t.Errorf("sql after serve stopped: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestServeDirectory has serve watch a directory: log files copied into
// it while it runs, in subdirectories too, are ingested, each request
// once (a copy of a file under another name adds nothing), and the
// source's totals show in /metrics.
func TestServeDirectory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds keymeter and runs it")
	}
	bin := buildKeymeter(t)
	env := append(subprocessEnv(), "HOME="+t.TempDir())
	data, watched := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(data, "keymeter.yaml"), "serve:\n  idle_checkpoint: 300ms\n")
	srv := startServe(t, bin, t.TempDir(), env, "--data", data, "--interval", "100ms", watched)
	count := func() string {
		r := runBinary(t, bin, watched, env, "", "sql", "--format", "csv", "SELECT count(*) AS n FROM events", "--data", data)
		if r.code != 0 {
			t.Fatalf("sql: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		return strings.TrimSpace(strings.TrimPrefix(r.stdout, "n\n"))
	}
	waitFor := func(want string) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for count() != want {
			if time.Now().After(deadline) {
				t.Fatalf("events stored: %s, want %s\n%s", count(), want, srv.log())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	samples, err := filepath.Glob("../../testdata/sample/logs/2025/10/*/*.gz")
	if err != nil || len(samples) != 3 {
		t.Fatalf("sample logs: %v %v", samples, err)
	}
	stage := t.TempDir()
	copyTo := func(src, dst string) { // whole files appear, as a log shipper's rename makes them
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		tmp := filepath.Join(stage, filepath.Base(dst))
		if err := os.WriteFile(tmp, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, dst); err != nil {
			t.Fatal(err)
		}
	}
	copyTo(samples[0], filepath.Join(watched, "a.gz"))
	first := ""
	deadline := time.Now().Add(time.Minute)
	for first = count(); first == "0"; first = count() {
		if time.Now().After(deadline) {
			t.Fatalf("the first file was not ingested:\n%s", srv.log())
		}
		time.Sleep(100 * time.Millisecond)
	}
	copyTo(samples[1], filepath.Join(watched, "b.gz"))
	if err := os.MkdirAll(filepath.Join(watched, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	copyTo(samples[2], filepath.Join(watched, "sub", "c.gz"))
	waitFor("6000")
	copyTo(samples[0], filepath.Join(watched, "a-copy.gz"))
	time.Sleep(500 * time.Millisecond) // several listings
	waitFor("6000")

	code, body := srv.get("/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		`keymeter_source_events_total{kind="dir",source="` + watched + `"} 6000`,
		`keymeter_source_duplicates_total{kind="dir",source="` + watched + `"} 0`,
		`keymeter_source_rejects_total{kind="dir",source="` + watched + `"} 1`,
		`keymeter_commit_duration_seconds_count`,
		`keymeter_store_size_bytes`,
		`keymeter_wal_size_bytes`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
	// Idle, the store is checkpointed: the write-ahead log is emptied.
	checkpointed := regexp.MustCompile(`(?m)^keymeter_checkpoints_total [1-9]`)
	emptyWAL := regexp.MustCompile(`(?m)^keymeter_wal_size_bytes 0$`)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		_, body = srv.get("/metrics")
		if checkpointed.MatchString(body) && emptyWAL.MatchString(body) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint while idle:\n%s\n%s", body, srv.log())
		}
	}
	if code := srv.stop(); code != 0 {
		t.Errorf("serve stopped by SIGTERM exited with %d:\n%s", code, srv.log())
	}
}

// TestServeConfigProblems checks that every problem of the serve section
// is reported at once, with exit status 2, before anything starts.
func TestServeConfigProblems(t *testing.T) {
	c := newCLI(t)
	cfg := filepath.Join(c.data, "keymeter.yaml")
	writeFile(t, cfg, `serve:
  query_timeout: soon
  idle_checkpoint: -1s
  sources:
    - source: ""
    - source: ftp://host/logs
    - source: logs
      format: nginx
      interval: 0s
`)
	r := c.run("serve", "--config", cfg)
	if r.code != exitUsage {
		t.Fatalf("exit %d, want %d\n%s", r.code, exitUsage, r.stderr)
	}
	for _, want := range []string{
		`serve.query_timeout: "soon" is not a duration`,
		`serve.idle_checkpoint: "-1s" is not a duration`,
		`serve.sources[0].source: empty`,
		`serve.sources[1].source: "ftp://host/logs"`,
		`serve.sources[2].format: unknown format "nginx"`,
		`serve.sources[2].interval: "0s" is not a positive duration`,
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if r := c.run("serve", "--log-format", "xml"); r.code != exitUsage {
		t.Errorf("--log-format xml: exit %d, want %d", r.code, exitUsage)
	}
}

// TestServeS3 has serve poll an S3 prefix (s3rver): objects put while it
// runs are ingested, and copies of them under other names add no event
// (their requests count as duplicates), as the source's metrics show.
func TestServeS3(t *testing.T) {
	if testing.Short() {
		t.Skip("builds keymeter and runs it")
	}
	endpoint, bucket, put := s3rverBucket(t)
	bin := buildKeymeter(t)
	env := append(subprocessEnv(), "HOME="+t.TempDir())
	data := t.TempDir()
	src := "s3://" + bucket + "/logs/"
	srv := startServe(t, bin, t.TempDir(), env, "--data", data, "--interval", "200ms", "--endpoint", endpoint, src)
	samples, err := filepath.Glob("../../testdata/sample/logs/2025/10/*/*.gz")
	if err != nil || len(samples) != 3 {
		t.Fatalf("sample logs: %v %v", samples, err)
	}
	metric := func(name string) string {
		_, body := srv.get("/metrics")
		m := regexp.MustCompile(`(?m)^` + name + `\{kind="s3",source="` + regexp.QuoteMeta(src) + `"\} (\S+)$`).FindStringSubmatch(body)
		if m == nil {
			return ""
		}
		return m[1]
	}
	waitMetric := func(name, want string) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); metric(name) != want; time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s = %q, want %s\n%s", name, metric(name), want, srv.log())
			}
		}
	}
	for i, s := range samples {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		put(fmt.Sprintf("logs/2025/10/%d.gz", i), b)
	}
	waitMetric("keymeter_source_events_total", "6000")
	for i, s := range samples {
		b, _ := os.ReadFile(s)
		put(fmt.Sprintf("logs/copy/%d.gz", i), b)
	}
	waitMetric("keymeter_source_duplicates_total", "6000")
	if got := metric("keymeter_source_events_total"); got != "6000" {
		t.Errorf("events after the copies: %s, want 6000", got)
	}
	r := runBinary(t, bin, data, env, "", "sql", "--format", "csv", "SELECT count(*) AS n FROM events", "--data", data)
	if r.code != 0 || r.stdout != "n\n6000\n" {
		t.Errorf("sql beside serve: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if code := srv.stop(); code != 0 {
		t.Errorf("serve stopped by SIGTERM exited with %d:\n%s", code, srv.log())
	}
}
