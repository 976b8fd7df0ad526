package alert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keymeter/keymeter"
)

// Policy says how hard a Deliverer tries. A zero field takes its default.
type Policy struct {
	// Timeout bounds one request, connection included. Default 10s.
	Timeout time.Duration
	// BaseDelay is the delay before the first retry; each further retry
	// doubles it, up to MaxDelay. The delay actually waited is drawn
	// uniformly from the upper half: [d/2, d] ("equal jitter"), so
	// retries of many messages spread out but still grow. Defaults 30s
	// and 1h.
	BaseDelay time.Duration
	MaxDelay  time.Duration
	// MaxAttempts and MaxAge bound the attempts: a message whose attempt
	// fails is dead after MaxAttempts attempts, or when it is MaxAge old
	// (its last attempt is made at that age). Defaults 30 (about a day of
	// retries at the default delays) and 72h.
	MaxAttempts int
	MaxAge      time.Duration
	// Lease is how long a claimed message is held; it must exceed
	// Timeout, so that a request always ends before its claim does and
	// no two attempts of one message overlap. Default Timeout + 30s.
	Lease time.Duration
	// Workers is the number of messages sent at a time. Default 4.
	Workers int
	// Poll is how often the outbox is looked at for due messages when
	// nothing else wakes the deliverer. Default 1s.
	Poll time.Duration
}

// DefaultPolicy returns the default policy.
func DefaultPolicy() Policy { return Policy{}.withDefaults() }

func (p Policy) withDefaults() Policy {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&p.Timeout, 10*time.Second)
	def(&p.BaseDelay, 30*time.Second)
	def(&p.MaxDelay, time.Hour)
	def(&p.MaxAge, 72*time.Hour)
	def(&p.Lease, p.Timeout+30*time.Second)
	def(&p.Poll, time.Second)
	if p.MaxAttempts == 0 {
		p.MaxAttempts = 30
	}
	if p.Workers == 0 {
		p.Workers = 4
	}
	return p
}

// Validate reports every problem with p, its defaults applied, at once:
// an EINVALID error, or nil.
func (p Policy) Validate() error {
	p = p.withDefaults()
	var probs []string
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"timeout", p.Timeout}, {"base delay", p.BaseDelay}, {"max delay", p.MaxDelay}, {"max age", p.MaxAge}, {"lease", p.Lease}, {"poll", p.Poll}} {
		if f.d < 0 {
			probs = append(probs, fmt.Sprintf("%s %s is negative", f.name, f.d))
		}
	}
	if p.MaxAttempts < 0 {
		probs = append(probs, fmt.Sprintf("max attempts %d is negative", p.MaxAttempts))
	}
	if p.Workers < 0 {
		probs = append(probs, fmt.Sprintf("workers %d is negative", p.Workers))
	}
	if p.MaxDelay < p.BaseDelay {
		probs = append(probs, fmt.Sprintf("max delay %s is less than base delay %s", p.MaxDelay, p.BaseDelay))
	}
	if p.Lease <= p.Timeout {
		probs = append(probs, fmt.Sprintf("lease %s must be longer than timeout %s", p.Lease, p.Timeout))
	}
	if len(probs) > 0 {
		return keymeter.Errorf(keymeter.EINVALID, "alert delivery: %s", strings.Join(probs, "; "))
	}
	return nil
}

// Ceiling returns the upper bound of the delay after the n-th failed
// attempt (n ≥ 1): BaseDelay × 2^(n-1), capped at MaxDelay.
func (p Policy) Ceiling(n int) time.Duration {
	p = p.withDefaults()
	d := p.BaseDelay
	for i := 1; i < n && d < p.MaxDelay; i++ {
		d *= 2
	}
	return min(d, p.MaxDelay)
}

// Delay returns the delay after the n-th failed attempt, drawn from
// [Ceiling(n)/2, Ceiling(n)].
func (p Policy) Delay(n int) time.Duration {
	c := p.Ceiling(n)
	half := c / 2
	return half + rand.N(c-half+1)
}

// Deliverer sends the outbox's messages to their webhooks. Create it
// with NewDeliverer, start Run, and call Notify after a commit enqueues
// messages. Any number of Deliverers, in any number of processes, may
// serve one outbox: claims keep their attempts apart.
type Deliverer struct {
	outbox  Outbox
	secrets func(rule string) ([]byte, bool)
	policy  Policy
	client  *http.Client
	now     func() time.Time
	log     *slog.Logger
	wake    chan struct{}
	stats   struct{ attempts, delivered, failed, dead, leaseLost atomic.Int64 }
}

// Options are a Deliverer's optional parts.
type Options struct {
	// Client sends the requests; nil means a client of its own. Its
	// redirects are never followed (a 3xx is a failed attempt), and each
	// request's time is bounded by Policy.Timeout whatever the client's.
	Client *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger, when set, gets a line per failed attempt and dead message.
	Logger *slog.Logger
}

// NewDeliverer returns a Deliverer over outbox. secrets returns the
// webhook secret of a rule by name (Rules.Secrets gives one for a map
// lookup); a message whose rule has none is not sent, and the attempt
// counts as failed. It returns an EINVALID error for a bad policy.
func NewDeliverer(outbox Outbox, secrets func(rule string) ([]byte, bool), p Policy, o Options) (*Deliverer, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if outbox == nil || secrets == nil {
		return nil, keymeter.Errorf(keymeter.EINVALID, "alert delivery needs an outbox and the rules' secrets")
	}
	d := &Deliverer{outbox: outbox, secrets: secrets, policy: p.withDefaults(), now: o.Now, log: o.Logger, wake: make(chan struct{}, 1)}
	if d.now == nil {
		d.now = time.Now
	}
	c := o.Client
	if c == nil {
		c = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	c2 := *c
	c2.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	d.client = &c2
	return d, nil
}

// SecretsOf returns a secret lookup for NewDeliverer from a map by rule
// name, such as Rules.Secrets returns.
func SecretsOf(m map[string][]byte) func(string) ([]byte, bool) {
	return func(rule string) ([]byte, bool) {
		s, ok := m[rule]
		return s, ok && len(s) > 0
	}
}

// Notify wakes Run to look for due messages now; it never blocks.
func (d *Deliverer) Notify() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Stats are counts since the Deliverer was created.
type Stats struct {
	Attempts  int64 // attempts made
	Delivered int64 // messages delivered
	Failed    int64 // failed attempts, including those that killed a message
	Dead      int64 // messages given up on
	LeaseLost int64 // outcomes not recorded because another claim held the message
}

// Stats returns the counts so far.
func (d *Deliverer) Stats() Stats {
	return Stats{
		Attempts:  d.stats.attempts.Load(),
		Delivered: d.stats.delivered.Load(),
		Failed:    d.stats.failed.Load(),
		Dead:      d.stats.dead.Load(),
		LeaseLost: d.stats.leaseLost.Load(),
	}
}

// Run delivers due messages until ctx is done, up to Policy.Workers at a
// time. When ctx is done it stops claiming, lets the attempts under way
// finish (each within Policy.Timeout) and records them, and returns nil.
// It returns an error when the outbox fails; the attempts under way are
// still finished first. Run is not to be called twice at once on one
// Deliverer.
func (d *Deliverer) Run(ctx context.Context) error {
	p := d.policy
	var wg sync.WaitGroup
	defer wg.Wait()
	done := make(chan struct{}, p.Workers)
	errc := make(chan error, p.Workers)
	inflight := 0
	timer := time.NewTimer(p.Poll)
	defer timer.Stop()
	for {
		if free := p.Workers - inflight; free > 0 {
			msgs, err := d.outbox.Claim(ctx, d.now(), free, p.Lease)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("claim alert messages: %w", err)
			}
			for _, m := range msgs {
				inflight++
				wg.Go(func() {
					if err := d.attempt(context.WithoutCancel(ctx), &m); err != nil {
						errc <- err
					}
					done <- struct{}{}
				})
			}
			if len(msgs) == free {
				// Everything claimed may not be all that is due: look
				// again as soon as a worker is free.
				select {
				case <-ctx.Done():
					return nil
				case err := <-errc:
					return err
				case <-done:
					inflight--
				}
				continue
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			return err
		case <-done:
			inflight--
		case <-d.wake:
		case <-timer.C:
			timer.Reset(p.Poll)
		}
	}
}

// attempt makes one attempt to deliver m and records its outcome. It
// returns an error only when the outbox fails.
func (d *Deliverer) attempt(ctx context.Context, m *Message) error {
	p := d.policy
	d.stats.attempts.Add(1)
	now := d.now()
	a := Attempt{Key: m.Key, Claim: m.Claim, At: now}
	var err error
	if secret, ok := d.secrets(m.Rule); !ok {
		err = fmt.Errorf("no webhook secret for rule %q (is it still configured?)", m.Rule)
	} else {
		// The request ends before the claim does, so that no other
		// deliverer can claim the message while it is under way.
		// The bound is a duration, so that it holds on the real clock
		// whatever d.now says.
		timeout := p.Timeout
		if !m.ClaimedUntil.IsZero() {
			timeout = min(timeout, m.ClaimedUntil.Sub(now))
		}
		rctx, cancel := context.WithTimeout(ctx, timeout)
		a.Status, err = d.post(rctx, m, secret, now, m.Attempts+1)
		cancel()
	}
	if err == nil {
		err = d.outbox.Delivered(ctx, a)
		if err == nil {
			d.stats.delivered.Add(1)
			return nil
		}
		return d.recordErr(m, err)
	}
	a.Error = err.Error()
	d.stats.failed.Add(1)
	n := m.Attempts + 1
	var retryAt time.Time
	giveUp := a.Status == http.StatusGone || n >= p.MaxAttempts
	if !giveUp {
		// The delay counts from the end of the attempt, so that a
		// timeout does not eat it.
		end := d.now()
		last := m.CreatedAt.Add(p.MaxAge)
		if !end.Before(last) {
			giveUp = true
		} else {
			retryAt = end.Add(p.Delay(n))
			if retryAt.After(last) {
				retryAt = last
			}
		}
	}
	if err := d.outbox.Failed(ctx, a, retryAt); err != nil {
		return d.recordErr(m, err)
	}
	if giveUp {
		d.stats.dead.Add(1)
	}
	if d.log != nil {
		if giveUp {
			d.log.Warn("alert webhook dead", "key", m.Key, "rule", m.Rule, "customer", m.Customer, "attempts", n, "status", a.Status, "error", a.Error)
		} else {
			d.log.Info("alert webhook failed", "key", m.Key, "rule", m.Rule, "customer", m.Customer, "attempt", n, "status", a.Status, "error", a.Error, "retry_at", retryAt)
		}
	}
	return nil
}

// recordErr handles an outbox error recording m's attempt: a lost lease
// is counted (another claim owns the message now, and its attempt will
// be recorded), anything else is returned.
func (d *Deliverer) recordErr(m *Message, err error) error {
	if errors.Is(err, ErrLeaseLost) {
		d.stats.leaseLost.Add(1)
		return nil
	}
	return fmt.Errorf("record delivery of alert %s: %w", m.Key, err)
}

// post sends m signed at now. A nil error means a 2xx response.
func (d *Deliverer) post(ctx context.Context, m *Message, secret []byte, now time.Time, attempt int) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.URL, bytes.NewReader(m.Body))
	if err != nil {
		return 0, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "keymeter-alerts/1")
	req.Header.Set("Idempotency-Key", m.Key)
	req.Header.Set("Keymeter-Attempt", strconv.Itoa(attempt))
	req.Header.Set(SignatureHeader, Sign(secret, now, m.Body))
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, err
	}
	// Drain a little of the body so that the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, nil
	}
	if loc := resp.Header.Get("Location"); resp.StatusCode >= 300 && resp.StatusCode < 400 && loc != "" {
		return resp.StatusCode, fmt.Errorf("HTTP %d: redirect to %s not followed", resp.StatusCode, loc)
	}
	return resp.StatusCode, fmt.Errorf("HTTP %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
}

// Drain makes one pass over the outbox: it delivers the messages due now,
// up to Policy.Workers at a time, until none is due, and returns the
// counts of what it did (Stats as of its start subtracted). A message
// whose attempt fails is due again only later (its retry is at least
// half of BaseDelay away), and one claimed twice in a pass is not
// attempted again by it. It returns an error when the outbox fails, the
// attempts under way being finished and recorded first; ctx done stops
// it between claims.
func (d *Deliverer) Drain(ctx context.Context) (Stats, error) {
	p := d.policy
	before := d.Stats()
	tried := map[string]bool{}
	for ctx.Err() == nil {
		msgs, err := d.outbox.Claim(ctx, d.now(), p.Workers, p.Lease)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return d.since(before), fmt.Errorf("claim alert messages: %w", err)
		}
		var fresh []Message
		for _, m := range msgs {
			if !tried[m.Key] {
				tried[m.Key] = true
				fresh = append(fresh, m)
			}
		}
		if len(fresh) == 0 {
			break
		}
		var wg sync.WaitGroup
		errs := make([]error, len(fresh))
		for i := range fresh {
			wg.Go(func() { errs[i] = d.attempt(context.WithoutCancel(ctx), &fresh[i]) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return d.since(before), err
		}
	}
	return d.since(before), nil
}

// since returns the Stats counted after before.
func (d *Deliverer) since(before Stats) Stats {
	s := d.Stats()
	return Stats{
		Attempts:  s.Attempts - before.Attempts,
		Delivered: s.Delivered - before.Delivered,
		Failed:    s.Failed - before.Failed,
		Dead:      s.Dead - before.Dead,
		LeaseLost: s.LeaseLost - before.LeaseLost,
	}
}
