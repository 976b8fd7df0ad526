package alert_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/alert"
)

// fast is a policy scaled down for tests: the same rules, milliseconds
// instead of seconds. The lease leaves the timeout a wide margin, as the
// default does, so that a machine stalled by load does not expire it.
var fast = alert.Policy{
	Timeout:     500 * time.Millisecond,
	BaseDelay:   40 * time.Millisecond,
	MaxDelay:    320 * time.Millisecond,
	Lease:       2 * time.Second,
	Poll:        10 * time.Millisecond,
	Workers:     4,
	MaxAttempts: 20,
	MaxAge:      time.Minute,
}

// received is one request a receiver got.
type received struct {
	key     string // Idempotency-Key header
	bodyKey string // idempotency_key in the body
	attempt string // Keymeter-Attempt header
	at      time.Time
	sigErr  error
}

// receiver is a real webhook receiver on 127.0.0.1. behave decides the
// status of its n-th request (from 1); it may block on r.Context().
type receiver struct {
	behave func(n int, r *http.Request) int

	mu        sync.Mutex
	reqs      []received
	acks      map[string]int // 2xx answers by key
	effects   int            // keys acted on once, as a receiver that drops repeats does
	srv       *http.Server
	listening string
}

func status(code int) func(int, *http.Request) int {
	return func(int, *http.Request) int { return code }
}

// newReceiver starts a receiver on addr ("127.0.0.1:0" for any port).
func newReceiver(t *testing.T, addr string, behave func(n int, r *http.Request) int) *receiver {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	rc := &receiver{behave: behave, acks: map[string]int{}, listening: ln.Addr().String()}
	rc.srv = &http.Server{Handler: rc, ReadHeaderTimeout: 5 * time.Second}
	go rc.srv.Serve(ln)
	t.Cleanup(func() { rc.srv.Close() })
	return rc
}

func (rc *receiver) url() string { return "http://" + rc.listening + "/hook" }

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, sigErr := alert.VerifyRequest(r, secret, 0)
	var p alert.Payload
	if sigErr == nil {
		if err := json.Unmarshal(body, &p); err != nil {
			sigErr = err
		}
	}
	key := r.Header.Get("Idempotency-Key")
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, received{key: key, bodyKey: p.IdempotencyKey, attempt: r.Header.Get("Keymeter-Attempt"), at: time.Now(), sigErr: sigErr})
	n := len(rc.reqs)
	rc.mu.Unlock()
	if sigErr != nil {
		http.Error(w, sigErr.Error(), http.StatusBadRequest)
		return
	}
	code := rc.behave(n, r)
	if code >= 200 && code < 300 {
		rc.mu.Lock()
		if rc.acks[key] == 0 {
			rc.effects++
		}
		rc.acks[key]++
		rc.mu.Unlock()
	}
	if code >= 300 && code < 400 {
		w.Header().Set("Location", "http://"+rc.listening+"/elsewhere")
	}
	w.WriteHeader(code)
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.reqs...)
}

// check asserts what every receiver must see: good signatures, and one
// idempotency key in header and body.
func (rc *receiver) check(t *testing.T, name, key string) []received {
	t.Helper()
	reqs := rc.requests()
	for i, r := range reqs {
		if r.sigErr != nil {
			t.Errorf("%s: request %d: %v", name, i+1, r.sigErr)
		}
		if r.key != key || r.bodyKey != key {
			t.Errorf("%s: request %d carries key %q (body %q), want %q", name, i+1, r.key, r.bodyKey, key)
		}
	}
	return reqs
}

// wire is the deliverers' HTTP transport in a test: it counts the
// requests of each idempotency key under way, from the moment a request
// is sent until its response body is closed or it fails, and reports
// any overlap when the test ends. (The receiver cannot tell: a handler
// may still run after the sender abandoned its request at the timeout.)
type wire struct {
	base     http.RoundTripper
	mu       sync.Mutex
	inflight map[string]int
	overlaps int
}

func newWire(t *testing.T) *wire {
	w := &wire{base: http.DefaultTransport.(*http.Transport).Clone(), inflight: map[string]int{}}
	t.Cleanup(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.overlaps != 0 {
			t.Errorf("%d requests were sent while another of the same key was under way", w.overlaps)
		}
	})
	return w
}

func (w *wire) RoundTrip(r *http.Request) (*http.Response, error) {
	key := r.Header.Get("Idempotency-Key")
	w.mu.Lock()
	w.inflight[key]++
	if w.inflight[key] > 1 {
		w.overlaps++
	}
	w.mu.Unlock()
	var once sync.Once
	done := func() {
		once.Do(func() {
			w.mu.Lock()
			w.inflight[key]--
			w.mu.Unlock()
		})
	}
	resp, err := w.base.RoundTrip(r)
	if err != nil {
		done()
		return nil, err
	}
	resp.Body = &closeHook{ReadCloser: resp.Body, done: done}
	return resp, nil
}

type closeHook struct {
	io.ReadCloser
	done func()
}

func (c *closeHook) Close() error {
	err := c.ReadCloser.Close()
	c.done()
	return err
}

// reserveAddr returns a loopback address nothing listens on.
func reserveAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

var errCrash = errors.New("simulated crash")

// recorder wraps an outbox, keeps what the deliverer records, and can
// die: from its crashAt-th Delivered or Failed call on (from 1), or at
// its first Claim with crashAtClaim, it records nothing and returns
// errCrash, as a killed process would.
type recorder struct {
	alert.Outbox
	crashAt      int
	crashAtClaim bool

	mu        sync.Mutex
	calls     int
	crashed   bool
	failures  map[string][]failure
	delivered map[string]int
}

type failure struct {
	a          alert.Attempt
	retryAt    time.Time
	recordedAt time.Time // when Failed was called: after the attempt ended
}

func newRecorder(ob alert.Outbox) *recorder {
	return &recorder{Outbox: ob, failures: map[string][]failure{}, delivered: map[string]int{}}
}

func (r *recorder) crash() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.crashAt > 0 && r.calls >= r.crashAt {
		r.crashed = true
	}
	return r.crashed
}

func (r *recorder) Claim(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]alert.Message, error) {
	r.mu.Lock()
	crashed := r.crashed
	r.mu.Unlock()
	if crashed {
		return nil, errCrash
	}
	ms, err := r.Outbox.Claim(ctx, now, limit, lease)
	if err == nil && len(ms) > 0 && r.crashAtClaim {
		r.mu.Lock()
		r.crashed = true
		r.mu.Unlock()
		return nil, errCrash // claimed in the store, never sent
	}
	return ms, err
}

func (r *recorder) Delivered(ctx context.Context, a alert.Attempt) error {
	if r.crash() {
		return errCrash
	}
	err := r.Outbox.Delivered(ctx, a)
	if err == nil {
		r.mu.Lock()
		r.delivered[a.Key]++
		r.mu.Unlock()
	}
	return err
}

func (r *recorder) Failed(ctx context.Context, a alert.Attempt, retryAt time.Time) error {
	if r.crash() {
		return errCrash
	}
	recordedAt := time.Now()
	err := r.Outbox.Failed(ctx, a, retryAt)
	if err == nil {
		r.mu.Lock()
		r.failures[a.Key] = append(r.failures[a.Key], failure{a, retryAt, recordedAt})
		r.mu.Unlock()
	}
	return err
}

func (r *recorder) failuresOf(key string) []failure {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]failure(nil), r.failures[key]...)
}

// enqueue commits one crossing of each rule (quantity 1 reaches every
// threshold of 1) and returns the messages' keys by rule.
func enqueue(t *testing.T, s *alert.MemStore, rules []alert.Rule) map[string]string {
	t.Helper()
	res := step(t, s, rules, alert.Input{Customer: "acme", Plan: "pro", Period: period(t, "2025-10"), At: time.Now(),
		Values: []alert.Values{{Meter: "api_requests", Quantity: 1}}})
	keys := map[string]string{}
	for _, m := range res.Messages {
		keys[m.Rule] = m.Key
	}
	if len(keys) != len(rules) {
		t.Fatalf("enqueued %d messages for %d rules", len(keys), len(rules))
	}
	return keys
}

func hook(name, url string) alert.Rule {
	return alert.Rule{Name: name, Customer: "acme", Meter: "api_requests", Kind: alert.Quantity, Thresholds: decs("1"), URL: url, Secret: secret}
}

// running starts d.Run and returns a function that stops it and returns
// Run's error, and a channel closed when Run has returned.
func running(t *testing.T, d *alert.Deliverer) (stop func() error, done <-chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	finished := make(chan struct{})
	var err error
	go func() {
		err = d.Run(ctx)
		close(finished)
	}()
	stop = func() error {
		cancel()
		select {
		case <-finished:
			return err
		case <-time.After(10 * time.Second):
			return errors.New("Run did not return within 10s of its context ending")
		}
	}
	t.Cleanup(func() { stop() })
	return stop, finished
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func message(t *testing.T, s *alert.MemStore, key string) alert.Message {
	t.Helper()
	ms, err := s.Messages(ctx, alert.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Key == key {
			return m
		}
	}
	t.Fatalf("no message %s", key)
	return alert.Message{}
}

func allSettled(s *alert.MemStore) func() bool {
	return func() bool {
		ms, _ := s.Messages(ctx, alert.Filter{Status: alert.Pending})
		return len(ms) == 0
	}
}

// newDeliverer returns a Deliverer over ob sending through w.
func newDeliverer(t *testing.T, w *wire, ob alert.Outbox, rules []alert.Rule, p alert.Policy) *alert.Deliverer {
	t.Helper()
	d, err := alert.NewDeliverer(ob, alert.SecretsOf(alert.Rules(rules).Secrets()), p, alert.Options{Client: &http.Client{Transport: w}})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestDeliver sends one message each to a receiver that succeeds, one
// that fails with 500 three times, one too slow for the timeout once,
// one that is down (connection refused) and then comes back, and one
// that answers 410 Gone.
func TestDeliver(t *testing.T) {
	ok := newReceiver(t, "127.0.0.1:0", status(http.StatusOK))
	failing := newReceiver(t, "127.0.0.1:0", func(n int, r *http.Request) int {
		if n <= 3 {
			return http.StatusInternalServerError
		}
		return http.StatusAccepted
	})
	slow := newReceiver(t, "127.0.0.1:0", func(n int, r *http.Request) int {
		if n == 1 {
			select {
			case <-r.Context().Done(): // the sender gave up
			case <-time.After(5 * time.Second):
			}
			return http.StatusOK
		}
		return http.StatusNoContent
	})
	gone := newReceiver(t, "127.0.0.1:0", status(http.StatusGone))
	downAddr := reserveAddr(t)
	rules := []alert.Rule{hook("ok", ok.url()), hook("failing", failing.url()), hook("slow", slow.url()), hook("gone", gone.url()), hook("down", "http://"+downAddr+"/hook")}
	s := alert.NewMemStore()
	keys := enqueue(t, s, rules)
	rec := newRecorder(s)
	d := newDeliverer(t, newWire(t), rec, rules, fast)
	stop, _ := running(t, d)
	d.Notify()

	waitFor(t, "two refused attempts", func() bool { return message(t, s, keys["down"]).Attempts >= 2 })
	back := newReceiver(t, downAddr, status(http.StatusOK))
	waitFor(t, "every message delivered or dead", allSettled(s))
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}

	// Exactly once in the outbox; at least once on the wire, each
	// request with the message's key and a good signature.
	for _, tc := range []struct {
		rule     string
		rc       *receiver
		requests int // on the wire
		attempts int // recorded
	}{
		{"ok", ok, 1, 1},
		{"failing", failing, 4, 4},
		{"slow", slow, 2, 2},
		{"down", back, 1, message(t, s, keys["down"]).Attempts},
	} {
		key := keys[tc.rule]
		m := message(t, s, key)
		if m.Status != alert.Delivered || rec.delivered[key] != 1 || m.Attempts != tc.attempts {
			t.Errorf("%s: %s after %d attempts, recorded delivered %d times; want delivered once after %d", tc.rule, m.Status, m.Attempts, rec.delivered[key], tc.attempts)
		}
		reqs := tc.rc.check(t, tc.rule, key)
		if len(reqs) != tc.requests {
			t.Errorf("%s: receiver got %d requests, want %d", tc.rule, len(reqs), tc.requests)
		}
		for i, r := range reqs {
			if tc.rule != "down" && r.attempt != strconv.Itoa(i+1) {
				t.Errorf("%s: request %d says attempt %s", tc.rule, i+1, r.attempt)
			}
		}
		if tc.rc.effects != 1 {
			t.Errorf("%s: receiver acted %d times", tc.rule, tc.rc.effects)
		}
	}
	if n := message(t, s, keys["down"]).Attempts; n < 3 {
		t.Errorf("down: %d attempts, want at least 2 refused and 1 delivered", n)
	}
	for _, f := range rec.failuresOf(keys["down"]) {
		if f.a.Status != 0 || !strings.Contains(f.a.Error, "connection refused") {
			t.Errorf("down: failure %+v, want connection refused", f.a)
		}
	}
	// The slow receiver's first request was abandoned at the timeout,
	// not before.
	if fs := rec.failuresOf(keys["slow"]); len(fs) != 1 || !strings.Contains(fs[0].a.Error, "deadline exceeded") {
		t.Errorf("slow: failures %+v, want one timeout", fs)
	} else if took := fs[0].recordedAt.Sub(fs[0].a.At); took < fast.Timeout {
		t.Errorf("slow: the first attempt ended after %s, before the timeout", took)
	}
	// Backoff: each delay, from the end of an attempt to the next, in
	// [ceiling/2, ceiling], the ceilings doubling, so the delays grow;
	// the receiver saw them as gaps. (The attempt ended between a.At and
	// the call to Failed.)
	fs := rec.failuresOf(keys["failing"])
	if len(fs) != 3 {
		t.Fatalf("failing: %d failures recorded, want 3", len(fs))
	}
	var prev time.Duration
	for i, f := range fs {
		n := i + 1
		ceil := fast.Ceiling(n)
		if ceil != fast.BaseDelay<<(n-1) {
			t.Errorf("ceiling after attempt %d is %s", n, ceil)
		}
		// retryAt - recordedAt is the delay, less the moment between the
		// attempt's end and the call to Failed.
		delay := f.retryAt.Sub(f.recordedAt)
		if delay < ceil/2-2*time.Millisecond || delay > ceil {
			t.Errorf("delay after attempt %d: %s, want within [%s, %s]", n, delay, ceil/2, ceil)
		}
		if delay < prev-2*time.Millisecond {
			t.Errorf("delay after attempt %d (%s) shorter than the one before (%s)", n, delay, prev)
		}
		prev = delay
		if f.a.Status != 500 || f.a.Error != "HTTP 500 Internal Server Error" {
			t.Errorf("failure %d: %+v", n, f.a)
		}
	}
	reqs := failing.requests()
	for i := 1; i < len(reqs); i++ {
		if gap, low := reqs[i].at.Sub(reqs[i-1].at), fast.Ceiling(i)/2; gap < low {
			t.Errorf("failing: request %d came %s after the one before, want at least %s", i+1, gap, low)
		}
	}
	// 410 Gone: dead at once, kept and visible.
	dead, err := s.Messages(ctx, alert.Filter{Status: alert.Dead})
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 || dead[0].Key != keys["gone"] || dead[0].Attempts != 1 || dead[0].LastStatus != 410 || len(gone.requests()) != 1 {
		t.Errorf("dead messages %+v, gone receiver got %d requests", dead, len(gone.requests()))
	}
	if st := d.Stats(); st.Delivered != 4 || st.Dead != 1 || st.LeaseLost != 0 || st.Attempts != st.Failed+st.Delivered {
		t.Errorf("stats %+v", st)
	}
}

// TestDeliverGivesUp: after MaxAttempts, or at MaxAge, a failing message
// is dead, with its last error.
func TestDeliverGivesUp(t *testing.T) {
	t.Run("attempts", func(t *testing.T) {
		rc := newReceiver(t, "127.0.0.1:0", status(http.StatusInternalServerError))
		rules := []alert.Rule{hook("r", rc.url())}
		s := alert.NewMemStore()
		key := enqueue(t, s, rules)["r"]
		p := fast
		p.MaxAttempts = 4
		p.BaseDelay, p.MaxDelay = 10*time.Millisecond, 20*time.Millisecond
		rec := newRecorder(s)
		stop, _ := running(t, newDeliverer(t, newWire(t), rec, rules, p))
		waitFor(t, "dead", allSettled(s))
		stop()
		m := message(t, s, key)
		if m.Status != alert.Dead || m.Attempts != 4 || m.LastStatus != 500 || m.LastError != "HTTP 500 Internal Server Error" || len(rc.check(t, "r", key)) != 4 {
			t.Errorf("%+v; receiver got %d", m, len(rc.requests()))
		}
		fs := rec.failuresOf(key)
		for i, f := range fs {
			last := i == len(fs)-1
			if f.retryAt.IsZero() != last {
				t.Errorf("failure %d: retry at %v", i+1, f.retryAt)
			}
			// The delay counts from the attempt's end, which is before
			// the call to Failed.
			if !last && f.retryAt.Sub(f.recordedAt) > p.MaxDelay {
				t.Errorf("failure %d: delay %s above the cap %s", i+1, f.retryAt.Sub(f.recordedAt), p.MaxDelay)
			}
		}
	})
	t.Run("age", func(t *testing.T) {
		rc := newReceiver(t, "127.0.0.1:0", status(http.StatusServiceUnavailable))
		rules := []alert.Rule{hook("r", rc.url())}
		s := alert.NewMemStore()
		key := enqueue(t, s, rules)["r"]
		p := fast
		p.MaxAge = 300 * time.Millisecond
		p.BaseDelay, p.MaxDelay = 40*time.Millisecond, 80*time.Millisecond
		rec := newRecorder(s)
		stop, _ := running(t, newDeliverer(t, newWire(t), rec, rules, p))
		waitFor(t, "dead", allSettled(s))
		stop()
		m := message(t, s, key)
		fs := rec.failuresOf(key)
		if m.Status != alert.Dead || m.Attempts >= p.MaxAttempts || len(fs) < 2 {
			t.Fatalf("%+v after %d failures", m, len(fs))
		}
		limit := m.CreatedAt.Add(p.MaxAge)
		if lastAt := fs[len(fs)-1].a.At; lastAt.Before(limit) {
			t.Errorf("gave up at age %s, before MaxAge %s", lastAt.Sub(m.CreatedAt), p.MaxAge)
		}
		for _, f := range fs[:len(fs)-1] {
			if f.retryAt.After(limit) {
				t.Errorf("retry scheduled at age %s, after MaxAge", f.retryAt.Sub(m.CreatedAt))
			}
		}
	})
	t.Run("no secret", func(t *testing.T) {
		rc := newReceiver(t, "127.0.0.1:0", status(http.StatusOK))
		rules := []alert.Rule{hook("r", rc.url())}
		s := alert.NewMemStore()
		key := enqueue(t, s, rules)["r"]
		p := fast
		p.MaxAttempts = 2
		d, err := alert.NewDeliverer(s, alert.SecretsOf(nil), p, alert.Options{})
		if err != nil {
			t.Fatal(err)
		}
		stop, _ := running(t, d)
		waitFor(t, "dead", allSettled(s))
		stop()
		if m := message(t, s, key); m.Status != alert.Dead || !strings.Contains(m.LastError, `no webhook secret for rule "r"`) || len(rc.requests()) != 0 {
			t.Errorf("%+v; receiver got %d requests", m, len(rc.requests()))
		}
	})
	t.Run("redirect", func(t *testing.T) {
		rc := newReceiver(t, "127.0.0.1:0", status(http.StatusFound))
		rules := []alert.Rule{hook("r", rc.url())}
		s := alert.NewMemStore()
		key := enqueue(t, s, rules)["r"]
		p := fast
		p.MaxAttempts = 1
		stop, _ := running(t, newDeliverer(t, newWire(t), s, rules, p))
		waitFor(t, "dead", allSettled(s))
		stop()
		if m := message(t, s, key); m.Status != alert.Dead || !strings.Contains(m.LastError, "HTTP 302: redirect to") || len(rc.requests()) != 1 {
			t.Errorf("%+v; receiver got %d requests", m, len(rc.requests()))
		}
	})
}

// TestDeliverNeverConcurrent runs two deliverers over one outbox against
// a receiver that fails, stalls past the timeout and succeeds at random:
// no request is sent while another of its key is under way, and each
// message is recorded delivered once.
func TestDeliverNeverConcurrent(t *testing.T) {
	var mu sync.Mutex
	r := rand.New(rand.NewPCG(3, 4))
	rc := newReceiver(t, "127.0.0.1:0", func(n int, req *http.Request) int {
		mu.Lock()
		x := r.IntN(10)
		mu.Unlock()
		switch {
		case x < 4:
			return http.StatusInternalServerError
		case x < 6:
			select {
			case <-req.Context().Done():
			case <-time.After(time.Second):
			}
			return http.StatusOK
		}
		time.Sleep(5 * time.Millisecond)
		return http.StatusOK
	})
	var thresholds []string
	for i := 1; i <= 30; i++ {
		thresholds = append(thresholds, strconv.Itoa(i))
	}
	rules := []alert.Rule{{Name: "many", Customer: "acme", Meter: "api_requests", Kind: alert.Quantity, Thresholds: decs(thresholds...), URL: rc.url(), Secret: secret}}
	s := alert.NewMemStore()
	res := step(t, s, rules, alert.Input{Customer: "acme", Period: period(t, "2025-10"), At: time.Now(), Values: []alert.Values{{Meter: "api_requests", Quantity: 30}}})
	if len(res.Messages) != 30 {
		t.Fatalf("%d messages", len(res.Messages))
	}
	p := fast
	p.Timeout, p.Lease = 100*time.Millisecond, time.Second
	p.BaseDelay, p.MaxDelay = 10*time.Millisecond, 80*time.Millisecond
	r1, r2 := newRecorder(s), newRecorder(s)
	w := newWire(t)
	stop1, _ := running(t, newDeliverer(t, w, r1, rules, p))
	stop2, _ := running(t, newDeliverer(t, w, r2, rules, p))
	waitFor(t, "all delivered", allSettled(s))
	if err := stop1(); err != nil {
		t.Fatal(err)
	}
	if err := stop2(); err != nil {
		t.Fatal(err)
	}
	byKey := map[string]int{}
	for _, q := range rc.requests() {
		byKey[q.key]++
	}
	for _, m := range res.Messages {
		got := message(t, s, m.Key)
		if got.Status != alert.Delivered || r1.delivered[m.Key]+r2.delivered[m.Key] != 1 {
			t.Errorf("%s: %s, recorded delivered %d+%d times", m.Key, got.Status, r1.delivered[m.Key], r2.delivered[m.Key])
		}
		if byKey[m.Key] < 1 {
			t.Errorf("%s: never on the wire", m.Key)
		}
	}
	if len(byKey) != 30 {
		t.Errorf("receiver saw %d keys, want 30", len(byKey))
	}
}

// TestDeliverCrash kills a deliverer at each point between the commit
// that enqueued a message and the record of its delivery, then lets a
// new deliverer over the same outbox finish: the message is recorded
// delivered exactly once, and every request the receiver got carries
// its key and a good signature, so the receiver acts on it once.
func TestDeliverCrash(t *testing.T) {
	for _, tc := range []struct {
		name         string
		crashAt      int  // Delivered/Failed call the first deliverer dies at
		crashAtClaim bool // dies after claiming, before sending
		noFirst      bool // dies right after the commit: no first deliverer
		wantAcks     int  // 2xx answers the receiver gave
	}{
		{name: "after commit", noFirst: true, wantAcks: 1},
		{name: "after claim", crashAtClaim: true, wantAcks: 1},
		{name: "after first failure", crashAt: 1, wantAcks: 1},
		{name: "after second failure", crashAt: 2, wantAcks: 1},
		{name: "after delivery, before its record", crashAt: 3, wantAcks: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := newReceiver(t, "127.0.0.1:0", func(n int, r *http.Request) int {
				if n <= 2 {
					return http.StatusInternalServerError
				}
				return http.StatusOK
			})
			rules := []alert.Rule{hook("r", rc.url())}
			s := alert.NewMemStore()
			key := enqueue(t, s, rules)["r"]
			p := fast
			p.BaseDelay, p.MaxDelay = 10*time.Millisecond, 20*time.Millisecond
			p.Lease = time.Second // the second deliverer waits it out
			w := newWire(t)
			if !tc.noFirst {
				first := newRecorder(s)
				first.crashAt, first.crashAtClaim = tc.crashAt, tc.crashAtClaim
				stopFirst, done := running(t, newDeliverer(t, w, first, rules, p))
				select {
				case <-done:
					if err := stopFirst(); !errors.Is(err, errCrash) {
						t.Fatalf("first deliverer: %v, want the crash", err)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("first deliverer did not crash")
				}
				if len(first.delivered) != 0 {
					t.Fatalf("first deliverer recorded a delivery")
				}
			}
			// The dead deliverer's claim, if it held one: it is honoured
			// to its end.
			held := message(t, s, key)
			sentBefore := len(rc.requests())
			second := newRecorder(s)
			stop, _ := running(t, newDeliverer(t, w, second, rules, p))
			waitFor(t, "delivery", allSettled(s))
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			m := message(t, s, key)
			if m.Status != alert.Delivered || second.delivered[key] != 1 {
				t.Errorf("%s, recorded delivered %d times", m.Status, second.delivered[key])
			}
			reqs := rc.check(t, "r", key)
			if len(reqs) < 3 {
				t.Errorf("receiver got %d requests, want at least 3 (two failures, one success)", len(reqs))
			}
			rc.mu.Lock()
			acks, effects := rc.acks[key], rc.effects
			rc.mu.Unlock()
			if acks != tc.wantAcks || effects != 1 {
				t.Errorf("receiver answered 2xx %d times (want %d) and acted %d times", acks, tc.wantAcks, effects)
			}
			if (held.Claim != "") != (tc.crashAtClaim || tc.crashAt > 0) {
				t.Fatalf("after the crash the message is held by %q", held.Claim)
			}
			if held.Claim != "" && len(reqs) > sentBefore && reqs[sentBefore].at.Before(held.ClaimedUntil) {
				t.Errorf("the new deliverer sent at %s, before the dead one's claim ended at %s", reqs[sentBefore].at, held.ClaimedUntil)
			}
		})
	}
}

// TestDeliverDrains: when Run's context ends during a request, the
// request finishes and its outcome is recorded before Run returns.
func TestDeliverDrains(t *testing.T) {
	arrived := make(chan struct{}, 1)
	rc := newReceiver(t, "127.0.0.1:0", func(n int, r *http.Request) int {
		arrived <- struct{}{}
		time.Sleep(100 * time.Millisecond)
		return http.StatusOK
	})
	rules := []alert.Rule{hook("r", rc.url())}
	s := alert.NewMemStore()
	key := enqueue(t, s, rules)["r"]
	p := fast
	p.Timeout, p.Lease = 5*time.Second, 10*time.Second
	stop, _ := running(t, newDeliverer(t, newWire(t), s, rules, p))
	<-arrived
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if m := message(t, s, key); m.Status != alert.Delivered {
		t.Errorf("after Run returned: %+v", m)
	}
}

func TestPolicy(t *testing.T) {
	def := alert.DefaultPolicy()
	if def.Timeout != 10*time.Second || def.Lease != 40*time.Second || def.MaxAttempts != 30 || def.MaxAge != 72*time.Hour {
		t.Errorf("defaults %+v", def)
	}
	if err := (alert.Policy{}).Validate(); err != nil {
		t.Errorf("zero policy: %v", err)
	}
	err := alert.Policy{Timeout: time.Minute, Lease: 30 * time.Second, BaseDelay: time.Hour, MaxDelay: time.Minute, MaxAttempts: -1, Workers: -2, Poll: -time.Second}.Validate()
	if keymeter.ErrorCode(err) != keymeter.EINVALID {
		t.Fatalf("bad policy: %v", err)
	}
	for _, w := range []string{"lease 30s must be longer than timeout 1m0s", "max delay 1m0s is less than base delay 1h0m0s", "max attempts -1", "workers -2", "poll -1s"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%v: missing %q", err, w)
		}
	}
	if _, err := alert.NewDeliverer(alert.NewMemStore(), alert.SecretsOf(nil), alert.Policy{Timeout: time.Minute, Lease: time.Second}, alert.Options{}); keymeter.ErrorCode(err) != keymeter.EINVALID {
		t.Errorf("NewDeliverer with a bad policy: %v", err)
	}
	p := alert.Policy{BaseDelay: time.Second, MaxDelay: 10 * time.Second}
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 5: 10 * time.Second, 60: 10 * time.Second} {
		if got := p.Ceiling(n); got != want {
			t.Errorf("Ceiling(%d) = %s, want %s", n, got, want)
		}
		lo, hi := want, time.Duration(0)
		for range 2000 {
			d := p.Delay(n)
			lo, hi = min(lo, d), max(hi, d)
		}
		if lo < want/2 || hi > want || hi-lo < want/4 {
			t.Errorf("Delay(%d) ranged over [%s, %s], want spread within [%s, %s]", n, lo, hi, want/2, want)
		}
	}
}

func ExampleVerify() {
	secret := []byte("whsec_0123456789abcdef")
	http.HandleFunc("POST /keymeter", func(w http.ResponseWriter, r *http.Request) {
		body, err := alert.VerifyRequest(r, secret, 5*time.Minute)
		if err != nil {
			http.Error(w, "bad signature", http.StatusBadRequest)
			return
		}
		var p alert.Payload
		if err := json.Unmarshal(body, &p); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		// Act once per p.IdempotencyKey; answer 2xx to repeats too.
		fmt.Println(p.Event.Customer, p.Event.Meter, p.Event.Threshold)
		w.WriteHeader(http.StatusNoContent)
	})
}
