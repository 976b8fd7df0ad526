// Package alerttest is the contract suite of the alert state and outbox:
// every store that keeps them (the in-memory alert.MemStore today, the
// DuckDB store's tables later) runs Run and passes it.
package alerttest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/alert"
	"github.com/keymeter/keymeter/billing"
)

// Store is what the suite tests: the alert state, the outbox, and a
// transaction writing both. In a real store, Update stands for the data
// transaction in which alert.Apply runs.
type Store interface {
	alert.State
	alert.Outbox
	// Update runs fn in a transaction: what fn writes through tx commits
	// when fn returns nil, and nothing does when it returns an error,
	// which Update returns.
	Update(ctx context.Context, fn func(tx alert.Tx) error) error
}

// Run runs the contract suite; newStore returns a new, empty store for
// each test. Times are whole seconds, so that a store may keep
// microseconds.
func Run(t *testing.T, newStore func(t *testing.T) Store) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s Store)
	}{
		{"Crossings", testCrossings},
		{"EnqueueIdempotent", testEnqueueIdempotent},
		{"ClaimDue", testClaimDue},
		{"DeliveredOnce", testDeliveredOnce},
		{"FailedRetries", testFailedRetries},
		{"FailedDead", testFailedDead},
		{"LeaseExpiry", testLeaseExpiry},
		{"UnknownKey", testUnknownKey},
		{"UpdateAtomic", testUpdateAtomic},
		{"MessagesFilter", testMessagesFilter},
		{"ConcurrentClaims", testConcurrentClaims},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

var (
	ctx = context.Background()
	t0  = time.Date(2025, 10, 12, 10, 0, 0, 0, time.UTC)
)

func dec(s string) billing.Decimal { return billing.MustParseDecimal(s) }

func msg(key, customer, rule string, created time.Time) alert.Message {
	return alert.Message{
		Key: key, Rule: rule, Customer: customer, Meter: "api_requests", Period: "2025-10",
		URL: "http://127.0.0.1:9/hook", Body: []byte(`{"idempotency_key":"` + key + `"}`), CreatedAt: created,
	}
}

func get(t *testing.T, s Store, key string) alert.Message {
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
	t.Fatalf("no message %q", key)
	return alert.Message{}
}

func claimOne(t *testing.T, s Store, now time.Time, lease time.Duration) alert.Message {
	t.Helper()
	ms, err := s.Claim(ctx, now, 10, lease)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 {
		t.Fatalf("Claim at %s: %d messages, want 1", now, len(ms))
	}
	return ms[0]
}

func testCrossings(t *testing.T, s Store) {
	if cs, err := s.Crossings(ctx, "acme", "2025-10"); err != nil || len(cs) != 0 {
		t.Fatalf("empty: %v, %v", cs, err)
	}
	a := alert.Crossing{Rule: "r", Customer: "acme", Period: "2025-10", Kind: alert.Percent, Threshold: dec("80.0"), Fired: true, Count: 1, FiredAt: t0}
	b := a
	b.Threshold = dec("100")
	other := a
	other.Customer = "globex"
	later := a
	later.Period = "2025-11"
	if err := s.PutCrossings(ctx, []alert.Crossing{a, b, other, later}); err != nil {
		t.Fatal(err)
	}
	// The same key, the threshold written otherwise: replaces a.
	a2 := a
	a2.Threshold = dec("80")
	a2.Fired = false
	a2.RearmedAt = t0.Add(time.Hour)
	if err := s.PutCrossings(ctx, []alert.Crossing{a2}); err != nil {
		t.Fatal(err)
	}
	cs, err := s.Crossings(ctx, "acme", "2025-10")
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 {
		t.Fatalf("got %d crossings, want 2: %+v", len(cs), cs)
	}
	for _, c := range cs {
		switch c.Threshold.Reduce().String() {
		case "80":
			if c.Fired || c.Count != 1 || !c.FiredAt.Equal(t0) || !c.RearmedAt.Equal(t0.Add(time.Hour)) || c.Kind != alert.Percent || c.Rule != "r" {
				t.Errorf("replaced crossing: %+v", c)
			}
		case "100":
			if !c.Fired || c.Count != 1 {
				t.Errorf("crossing at 100: %+v", c)
			}
		default:
			t.Errorf("unexpected crossing %+v", c)
		}
	}
}

func testEnqueueIdempotent(t *testing.T, s Store) {
	m := msg("k1", "acme", "r", t0)
	if err := s.Enqueue(ctx, []alert.Message{m}); err != nil {
		t.Fatal(err)
	}
	again := m
	again.Body = []byte(`{"other":1}`)
	again.URL = "http://127.0.0.1:9/other"
	if err := s.Enqueue(ctx, []alert.Message{again}); err != nil {
		t.Fatalf("enqueue of a key already held: %v", err)
	}
	ms, err := s.Messages(ctx, alert.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || string(ms[0].Body) != string(m.Body) || ms[0].URL != m.URL {
		t.Fatalf("after enqueuing twice: %+v", ms)
	}
	got := ms[0]
	if got.Status != alert.Pending || got.Attempts != 0 || !got.NextAt.Equal(t0) || !got.CreatedAt.Equal(t0) ||
		got.Rule != "r" || got.Customer != "acme" || got.Meter != "api_requests" || got.Period != "2025-10" {
		t.Errorf("enqueued message: %+v", got)
	}
	for _, bad := range []alert.Message{{Key: "", URL: "http://x", Body: []byte("{}")}, {Key: "k", Body: []byte("{}")}, {Key: "k", URL: "http://x"}} {
		if err := s.Enqueue(ctx, []alert.Message{bad}); keymeter.ErrorCode(err) != keymeter.EINVALID {
			t.Errorf("Enqueue(%+v) = %v, want EINVALID", bad, err)
		}
	}
	// Delivered messages are held too: enqueuing one again does not
	// revive it.
	c := claimOne(t, s, t0, time.Minute)
	if err := s.Delivered(ctx, alert.Attempt{Key: c.Key, Claim: c.Claim, At: t0, Status: 200}); err != nil {
		t.Fatal(err)
	}
	if err := s.Enqueue(ctx, []alert.Message{m}); err != nil {
		t.Fatal(err)
	}
	if got := get(t, s, "k1"); got.Status != alert.Delivered {
		t.Errorf("re-enqueued delivered message is %s", got.Status)
	}
}

func testClaimDue(t *testing.T, s Store) {
	early := msg("early", "acme", "r", t0)
	late := msg("late", "acme", "r", t0.Add(-time.Hour))
	late.NextAt = t0.Add(10 * time.Second)
	if err := s.Enqueue(ctx, []alert.Message{late, early}); err != nil {
		t.Fatal(err)
	}
	if ms, err := s.Claim(ctx, t0.Add(-time.Second), 10, time.Minute); err != nil || len(ms) != 0 {
		t.Fatalf("claim before anything is due: %v, %v", ms, err)
	}
	ms, err := s.Claim(ctx, t0, 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || ms[0].Key != "early" || ms[0].Claim == "" || !ms[0].ClaimedUntil.Equal(t0.Add(time.Minute)) || string(ms[0].Body) != string(early.Body) {
		t.Fatalf("claim at t0: %+v", ms)
	}
	// Held: not claimed again within the lease.
	if ms2, err := s.Claim(ctx, t0.Add(20*time.Second), 10, time.Minute); err != nil || len(ms2) != 1 || ms2[0].Key != "late" {
		t.Fatalf("claim at t0+20s: %+v, %v", ms2, err)
	} else if ms2[0].Claim == ms[0].Claim {
		t.Errorf("two claims share the token %q", ms[0].Claim)
	}
	if ms3, err := s.Claim(ctx, t0.Add(30*time.Second), 10, time.Minute); err != nil || len(ms3) != 0 {
		t.Fatalf("claim while both are held: %+v, %v", ms3, err)
	}
	// Oldest NextAt first, and the limit holds.
	s2 := []alert.Message{msg("a", "x", "r", t0.Add(3*time.Second)), msg("b", "x", "r", t0.Add(time.Second)), msg("c", "x", "r", t0.Add(2*time.Second))}
	if err := s.Enqueue(ctx, s2); err != nil {
		t.Fatal(err)
	}
	ms4, err := s.Claim(ctx, t0.Add(40*time.Second), 2, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms4) != 2 || ms4[0].Key != "b" || ms4[1].Key != "c" {
		t.Errorf("claim with limit 2: %+v", ms4)
	}
	if _, err := s.Claim(ctx, t0, 0, time.Minute); keymeter.ErrorCode(err) != keymeter.EINVALID {
		t.Errorf("claim with limit 0: %v, want EINVALID", err)
	}
}

func testDeliveredOnce(t *testing.T, s Store) {
	if err := s.Enqueue(ctx, []alert.Message{msg("k", "acme", "r", t0)}); err != nil {
		t.Fatal(err)
	}
	c := claimOne(t, s, t0, time.Minute)
	at := t0.Add(2 * time.Second)
	if err := s.Delivered(ctx, alert.Attempt{Key: "k", Claim: c.Claim, At: at, Status: 204}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delivered(ctx, alert.Attempt{Key: "k", Claim: c.Claim, At: at, Status: 204}); !errors.Is(err, alert.ErrLeaseLost) {
		t.Errorf("second Delivered = %v, want ErrLeaseLost", err)
	}
	if err := s.Failed(ctx, alert.Attempt{Key: "k", Claim: c.Claim, At: at, Error: "late"}, at.Add(time.Minute)); !errors.Is(err, alert.ErrLeaseLost) {
		t.Errorf("Failed after Delivered = %v, want ErrLeaseLost", err)
	}
	m := get(t, s, "k")
	if m.Status != alert.Delivered || m.Attempts != 1 || !m.DeliveredAt.Equal(at) || m.LastStatus != 204 || m.LastError != "" || m.Claim != "" {
		t.Errorf("delivered message: %+v", m)
	}
	if ms, err := s.Claim(ctx, t0.Add(time.Hour), 10, time.Minute); err != nil || len(ms) != 0 {
		t.Errorf("claim after delivery: %+v, %v", ms, err)
	}
	if ms, err := s.Messages(ctx, alert.Filter{Status: alert.Delivered}); err != nil || len(ms) != 1 {
		t.Errorf("delivered messages: %+v, %v", ms, err)
	}
}

func testFailedRetries(t *testing.T, s Store) {
	if err := s.Enqueue(ctx, []alert.Message{msg("k", "acme", "r", t0)}); err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= 3; n++ {
		now := t0.Add(time.Duration(n) * time.Hour)
		c := claimOne(t, s, now, time.Minute)
		if c.Attempts != n-1 {
			t.Fatalf("attempt %d: claimed with Attempts %d", n, c.Attempts)
		}
		retry := now.Add(30 * time.Second)
		if err := s.Failed(ctx, alert.Attempt{Key: "k", Claim: c.Claim, At: now, Status: 500, Error: fmt.Sprintf("HTTP 500 #%d", n)}, retry); err != nil {
			t.Fatal(err)
		}
		m := get(t, s, "k")
		if m.Status != alert.Pending || m.Attempts != n || !m.NextAt.Equal(retry) || m.LastStatus != 500 || m.LastError != fmt.Sprintf("HTTP 500 #%d", n) || m.Claim != "" {
			t.Fatalf("after failure %d: %+v", n, m)
		}
		if ms, err := s.Claim(ctx, retry.Add(-time.Second), 10, time.Minute); err != nil || len(ms) != 0 {
			t.Fatalf("claimed before its retry time: %+v, %v", ms, err)
		}
	}
}

func testFailedDead(t *testing.T, s Store) {
	if err := s.Enqueue(ctx, []alert.Message{msg("k", "acme", "r", t0)}); err != nil {
		t.Fatal(err)
	}
	c := claimOne(t, s, t0, time.Minute)
	if err := s.Failed(ctx, alert.Attempt{Key: "k", Claim: c.Claim, At: t0, Status: 410, Error: "HTTP 410 Gone"}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	m := get(t, s, "k")
	if m.Status != alert.Dead || m.Attempts != 1 || m.LastStatus != 410 || m.LastError != "HTTP 410 Gone" {
		t.Errorf("dead message: %+v", m)
	}
	if ms, err := s.Claim(ctx, t0.Add(time.Hour), 10, time.Minute); err != nil || len(ms) != 0 {
		t.Errorf("claimed a dead message: %+v, %v", ms, err)
	}
	if ms, err := s.Messages(ctx, alert.Filter{Status: alert.Dead}); err != nil || len(ms) != 1 || ms[0].Key != "k" {
		t.Errorf("dead messages: %+v, %v", ms, err)
	}
}

func testLeaseExpiry(t *testing.T, s Store) {
	if err := s.Enqueue(ctx, []alert.Message{msg("k", "acme", "r", t0)}); err != nil {
		t.Fatal(err)
	}
	first := claimOne(t, s, t0, 10*time.Second)
	// The lease expired, nobody claimed it since: the holder may still
	// record its outcome.
	if err := s.Failed(ctx, alert.Attempt{Key: "k", Claim: first.Claim, At: t0, Error: "timeout"}, t0.Add(11*time.Second)); err != nil {
		t.Fatalf("Failed after the lease, unclaimed since: %v", err)
	}
	second := claimOne(t, s, t0.Add(12*time.Second), 10*time.Second)
	// second's lease expires and a third claim takes the message: second
	// can no longer record anything.
	third := claimOne(t, s, t0.Add(22*time.Second), 10*time.Second)
	if third.Claim == second.Claim {
		t.Fatalf("a new claim reused token %q", third.Claim)
	}
	if err := s.Delivered(ctx, alert.Attempt{Key: "k", Claim: second.Claim, At: t0.Add(23 * time.Second), Status: 200}); !errors.Is(err, alert.ErrLeaseLost) {
		t.Errorf("Delivered under an expired, retaken claim = %v, want ErrLeaseLost", err)
	}
	if err := s.Delivered(ctx, alert.Attempt{Key: "k", Claim: third.Claim, At: t0.Add(23 * time.Second), Status: 200}); err != nil {
		t.Fatal(err)
	}
	if m := get(t, s, "k"); m.Status != alert.Delivered || m.Attempts != 2 {
		t.Errorf("after two recorded attempts: %+v", m)
	}
	if err := s.Delivered(ctx, alert.Attempt{Key: "k", Claim: "", At: t0}); !errors.Is(err, alert.ErrLeaseLost) {
		t.Errorf("Delivered without a claim = %v, want ErrLeaseLost", err)
	}
}

func testUnknownKey(t *testing.T, s Store) {
	if err := s.Delivered(ctx, alert.Attempt{Key: "nope", Claim: "c", At: t0}); keymeter.ErrorCode(err) != keymeter.ENOTFOUND {
		t.Errorf("Delivered(unknown) = %v, want ENOTFOUND", err)
	}
	if err := s.Failed(ctx, alert.Attempt{Key: "nope", Claim: "c", At: t0}, t0); keymeter.ErrorCode(err) != keymeter.ENOTFOUND {
		t.Errorf("Failed(unknown) = %v, want ENOTFOUND", err)
	}
}

func testUpdateAtomic(t *testing.T, s Store) {
	c := alert.Crossing{Rule: "r", Customer: "acme", Period: "2025-10", Kind: alert.Quantity, Threshold: dec("1000"), Fired: true, Count: 1, FiredAt: t0}
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx alert.Tx) error {
		if err := tx.PutCrossings(ctx, []alert.Crossing{c}); err != nil {
			return err
		}
		if err := tx.Enqueue(ctx, []alert.Message{msg("k", "acme", "r", t0)}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want boom", err)
	}
	if cs, _ := s.Crossings(ctx, "acme", "2025-10"); len(cs) != 0 {
		t.Errorf("rolled back crossings are visible: %+v", cs)
	}
	if ms, _ := s.Messages(ctx, alert.Filter{}); len(ms) != 0 {
		t.Errorf("rolled back messages are visible: %+v", ms)
	}
	err = s.Update(ctx, func(tx alert.Tx) error {
		if err := tx.PutCrossings(ctx, []alert.Crossing{c}); err != nil {
			return err
		}
		// A transaction reads its own writes.
		cs, err := tx.Crossings(ctx, "acme", "2025-10")
		if err != nil {
			return err
		}
		if len(cs) != 1 || !cs[0].Fired {
			return fmt.Errorf("inside the transaction: %+v", cs)
		}
		return tx.Enqueue(ctx, []alert.Message{msg("k", "acme", "r", t0)})
	})
	if err != nil {
		t.Fatal(err)
	}
	if cs, _ := s.Crossings(ctx, "acme", "2025-10"); len(cs) != 1 {
		t.Errorf("committed crossings: %+v", cs)
	}
	if ms, _ := s.Messages(ctx, alert.Filter{}); len(ms) != 1 {
		t.Errorf("committed messages: %+v", ms)
	}
}

func testMessagesFilter(t *testing.T, s Store) {
	in := []alert.Message{
		msg("k3", "globex", "r1", t0.Add(2*time.Second)),
		msg("k1", "acme", "r1", t0),
		msg("k2", "acme", "r2", t0.Add(time.Second)),
		msg("k0", "acme", "r2", t0.Add(time.Second)),
	}
	if err := s.Enqueue(ctx, in); err != nil {
		t.Fatal(err)
	}
	keys := func(f alert.Filter) string {
		ms, err := s.Messages(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		out := ""
		for _, m := range ms {
			out += m.Key + " "
		}
		return out
	}
	for _, tc := range []struct {
		f    alert.Filter
		want string
	}{
		{alert.Filter{}, "k1 k0 k2 k3 "},
		{alert.Filter{Customer: "acme"}, "k1 k0 k2 "},
		{alert.Filter{Rule: "r1"}, "k1 k3 "},
		{alert.Filter{Customer: "acme", Rule: "r2", Status: alert.Pending}, "k0 k2 "},
		{alert.Filter{Status: alert.Dead}, ""},
	} {
		if got := keys(tc.f); got != tc.want {
			t.Errorf("Messages(%+v) = %q, want %q", tc.f, got, tc.want)
		}
	}
}

func testConcurrentClaims(t *testing.T, s Store) {
	const n = 50
	var msgs []alert.Message
	for i := range n {
		msgs = append(msgs, msg(fmt.Sprintf("k%02d", i), "acme", "r", t0))
	}
	if err := s.Enqueue(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	claimed := map[string]int{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				ms, err := s.Claim(ctx, t0, 3, time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				if len(ms) == 0 {
					return
				}
				mu.Lock()
				for _, m := range ms {
					claimed[m.Key]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(claimed) != n {
		t.Errorf("%d messages claimed, want %d", len(claimed), n)
	}
	for k, c := range claimed {
		if c != 1 {
			t.Errorf("%s claimed %d times within its lease", k, c)
		}
	}
}
