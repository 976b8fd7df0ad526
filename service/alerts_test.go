package service_test

import (
	"cmp"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keymeter/keymeter/alert"
	"github.com/keymeter/keymeter/billing"
	"github.com/keymeter/keymeter/ingest"
	"github.com/keymeter/keymeter/internal/loggen"
	"github.com/keymeter/keymeter/service"
)

// alertBilling puts customer-01 on a plan including 100 requests a month.
const alertBilling = `
currency: USD
time_zone: UTC
meters:
  requests:
    measure: requests
    source: cloudfront
plans:
  pro:
    prices:
      requests: {model: per_unit, included: 100, unit_amount: "0.01"}
customers:
  customer-01: {plan: pro, start: 2025-10-01}
  customer-02: {plan: pro, start: 2025-10-01}
`

var hookSecret = []byte("whsec-test-0123456789abcdef")

// receiver is a real webhook receiver on 127.0.0.1: it checks every
// request's signature against the test's clock, and answers with what
// respond returns (200 when nil).
type receiver struct {
	t   *testing.T
	srv *httptest.Server
	now func() time.Time

	mu       sync.Mutex
	requests []received
	respond  func(n int, r *http.Request) int // n counts requests from 1
}

// received is one request as the receiver saw it.
type received struct {
	key     string // Idempotency-Key header
	payload alert.Payload
	status  int // what the receiver answered; 0 when the client gave up
}

func newReceiver(t *testing.T, now func() time.Time) *receiver {
	rc := &receiver{t: t, now: now}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := alert.Verify(r.Header.Get(alert.SignatureHeader), body, hookSecret, 0, rc.now()); err != nil {
		rc.t.Errorf("receiver: bad signature: %v", err)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var p alert.Payload
	if err := json.Unmarshal(body, &p); err != nil {
		rc.t.Errorf("receiver: payload %s: %v", body, err)
	}
	if p.IdempotencyKey == "" || p.IdempotencyKey != r.Header.Get("Idempotency-Key") {
		rc.t.Errorf("receiver: idempotency key %q in the payload, %q in the header", p.IdempotencyKey, r.Header.Get("Idempotency-Key"))
	}
	rc.mu.Lock()
	rc.requests = append(rc.requests, received{key: p.IdempotencyKey, payload: p})
	n := len(rc.requests)
	respond := rc.respond
	rc.mu.Unlock()
	status := http.StatusOK
	if respond != nil {
		status = respond(n, r)
	}
	if status == 0 { // the client gave up
		return
	}
	rc.mu.Lock()
	rc.requests[n-1].status = status
	rc.mu.Unlock()
	w.WriteHeader(status)
}

func (rc *receiver) got() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.requests...)
}

// withAlerts gives e's service rules on customer-01's requests.
func (e *env) withAlerts(p alert.Policy, rules ...alert.Rule) {
	b := parseBilling(e.t, alertBilling)
	e.svc.Alerts = func() (*service.Alerts, error) {
		return &service.Alerts{Rules: rules, Billing: b, Policy: p}, nil
	}
}

func quantityRule(url string, rearm int64, thresholds ...int64) alert.Rule {
	r := alert.Rule{Name: "c1-requests", Customer: "customer-01", Meter: "requests", Kind: alert.Quantity, URL: url, Secret: hookSecret,
		Rearm: billing.DecimalFromInt(rearm)}
	for _, t := range thresholds {
		r.Thresholds = append(r.Thresholds, billing.DecimalFromInt(t))
	}
	return r
}

// oneCustomer generates n requests of customer-01's one key in October
// 2025, the n-th at Oct 1 + n minutes.
func oneCustomer(n int) ([]loggen.Key, []loggen.Record) {
	gen := loggen.New(loggen.Config{Seed: 3, KeySeed: 1, Start: time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC), Span: 28 * 24 * time.Hour,
		Customers: 1, KeysPerCustomer: 1, Paths: 3})
	recs := make([]loggen.Record, n)
	for i := range recs {
		gen.Next(&recs[i])
	}
	return gen.Keys(), recs
}

func (e *env) deliver() *service.DeliveryReport {
	e.t.Helper()
	rep, err := e.svc.DeliverAlerts(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return rep
}

func (e *env) alerts(f service.AlertFilter) []service.AlertRecord {
	e.t.Helper()
	list, err := e.svc.ListAlerts(context.Background(), f)
	if err != nil {
		e.t.Fatal(err)
	}
	return list
}

// TestAlertDelivered: an ingest crossing two thresholds commits two
// alerts with the data; one delivery pass sends both, signed, to a real
// receiver, once; a second pass sends nothing; the list is scoped by
// customer and state.
func TestAlertDelivered(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t, func() time.Time { return e.now })
	e.withAlerts(alert.Policy{}, quantityRule(rc.srv.URL+"/hook", 0, 50, 80, 1000))
	keys, recs := oneCustomer(90)
	e.importKeys(keys)
	e.ingest(e.writeLog("a.gz", recs))

	pending := e.alerts(service.AlertFilter{Status: "pending"})
	if len(pending) != 2 {
		t.Fatalf("%d pending alerts after ingest; want 2 (thresholds 50 and 80)", len(pending))
	}
	if n, err := e.svc.AlertCounts(context.Background()); err != nil || n[alert.Pending] != 2 {
		t.Errorf("AlertCounts = %v, %v; want 2 pending", n, err)
	}
	rep := e.deliver()
	if rep.Delivered != 2 || rep.Failed != 0 || rep.OutboxPending != 0 {
		t.Errorf("delivery %+v; want 2 delivered, none pending", rep)
	}
	got := rc.got()
	if len(got) != 2 {
		t.Fatalf("receiver got %d requests; want 2", len(got))
	}
	slices.SortFunc(got, func(a, b received) int { return a.payload.Event.Threshold.Cmp(b.payload.Event.Threshold) })
	for i, want := range []string{"50", "80"} {
		ev := got[i].payload.Event
		if ev.Threshold.String() != want || ev.Quantity != 90 || ev.Customer != "customer-01" || ev.Period.Month != "2025-10" ||
			ev.Crossing != 1 || !ev.CrossedAt.Equal(e.now) || ev.Type != alert.EventType {
			t.Errorf("alert %d: %+v; want threshold %s crossed at 90 requests in 2025-10, at the commit's time", i, ev, want)
		}
	}
	if rep := e.deliver(); rep.Attempts != 0 {
		t.Errorf("second pass made %d attempts; want none", rep.Attempts)
	}
	// Ingesting more, past no new threshold, and ingesting the same file
	// again, fire nothing.
	_, more := oneCustomer(95)
	e.ingest(e.writeLog("b.gz", more[90:]), e.writeLog("a.gz", recs))
	if all := e.alerts(service.AlertFilter{}); len(all) != 2 {
		t.Errorf("%d alerts after more usage; want still 2", len(all))
	}
	sent := e.alerts(service.AlertFilter{Status: "sent", Customer: "customer-01"})
	if len(sent) != 2 || sent[0].DeliveredAt == nil || sent[0].Attempts != 1 || sent[0].LastStatus != 200 {
		t.Errorf("sent alerts %+v; want 2, delivered on the first attempt", sent)
	}
	if other := e.alerts(service.AlertFilter{Customer: "customer-02"}); len(other) != 0 {
		t.Errorf("customer-02 sees %d alerts; want none", len(other))
	}
	if _, err := e.svc.ListAlerts(context.Background(), service.AlertFilter{Status: "lost"}); err == nil {
		t.Error("a bad state gave no error")
	}
}

// TestAlertRetried: a receiver that answers 500 twice, then comes back:
// the alert is retried with backoff (not before its delay) and delivered
// once, with the same key on every attempt.
func TestAlertRetried(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t, func() time.Time { return e.now })
	rc.respond = func(n int, _ *http.Request) int {
		if n <= 2 {
			return http.StatusInternalServerError
		}
		return http.StatusNoContent
	}
	p := alert.Policy{BaseDelay: time.Minute, MaxDelay: time.Hour}
	e.withAlerts(p, quantityRule(rc.srv.URL, 0, 10))
	keys, recs := oneCustomer(20)
	e.importKeys(keys)
	e.ingest(e.writeLog("a.gz", recs))

	for attempt := 1; attempt <= 2; attempt++ {
		start := e.now
		if rep := e.deliver(); rep.Failed != 1 || rep.OutboxPending != 1 {
			t.Fatalf("attempt %d: %+v; want one failure, still pending", attempt, rep)
		}
		a := e.alerts(service.AlertFilter{})[0]
		delay := a.NextAt.Sub(start)
		if a.Attempts != attempt || a.LastStatus != 500 || delay < p.Ceiling(attempt)/2 || delay > p.Ceiling(attempt) {
			t.Fatalf("after attempt %d: %+v; want a retry %s to %s later", attempt, a, p.Ceiling(attempt)/2, p.Ceiling(attempt))
		}
		e.now = a.NextAt.Add(-time.Second)
		if rep := e.deliver(); rep.Attempts != 0 {
			t.Fatalf("a pass before the retry is due made %d attempts", rep.Attempts)
		}
		e.now = *a.NextAt
	}
	if rep := e.deliver(); rep.Delivered != 1 {
		t.Fatalf("third attempt: %+v; want delivered", rep)
	}
	got := rc.got()
	if len(got) != 3 || got[0].key != got[1].key || got[1].key != got[2].key {
		t.Fatalf("receiver got %+v; want 3 attempts of one key", got)
	}
	if rep := e.deliver(); rep.Attempts != 0 {
		t.Errorf("after delivery a pass made %d attempts", rep.Attempts)
	}
	if a := e.alerts(service.AlertFilter{})[0]; a.Status != alert.Delivered || a.Attempts != 3 || a.LastError != "" {
		t.Errorf("delivered alert %+v; want 3 attempts, no error", a)
	}
}

// TestAlertSlowReceiver: a receiver slower than the attempt timeout
// (it answers only when the client gives up) fails the attempt, which is
// retried; the receiver, back to speed, gets it again with the same key.
func TestAlertSlowReceiver(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t, func() time.Time { return e.now })
	rc.respond = func(n int, r *http.Request) int {
		if n == 1 {
			<-r.Context().Done() // slower than any timeout
			return 0
		}
		return http.StatusOK
	}
	e.withAlerts(alert.Policy{Timeout: 300 * time.Millisecond}, quantityRule(rc.srv.URL, 0, 10))
	keys, recs := oneCustomer(20)
	e.importKeys(keys)
	e.ingest(e.writeLog("a.gz", recs))

	if rep := e.deliver(); rep.Failed != 1 {
		t.Fatalf("slow receiver: %+v; want a failed attempt", rep)
	}
	a := e.alerts(service.AlertFilter{})[0]
	if a.LastStatus != 0 || a.LastError == "" || a.Status != alert.Pending {
		t.Fatalf("after the timeout: %+v; want pending with an error and no status", a)
	}
	e.now = *a.NextAt
	if rep := e.deliver(); rep.Delivered != 1 {
		t.Fatalf("recovered receiver: %+v; want delivered", rep)
	}
	got := rc.got()
	if len(got) != 2 || got[0].key != got[1].key || got[1].status != http.StatusOK {
		t.Errorf("receiver got %+v; want the same key twice, answered the second time", got)
	}
}

// TestAlertHysteresis: usage that hovers around a threshold over many
// commits (files replaced by reprocessing, up and down) fires once;
// falling below the re-arm margin and coming back fires the second
// crossing, with its own key.
func TestAlertHysteresis(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t, func() time.Time { return e.now })
	e.withAlerts(alert.Policy{}, quantityRule(rc.srv.URL, 10, 100))
	keys, recs := oneCustomer(120)
	e.importKeys(keys)
	path := e.writeLog("a.gz", recs[:95])
	e.ingest(path)
	reprocess := func(n int) {
		t.Helper()
		e.writeLog("a.gz", recs[:n])
		e.now = e.now.Add(time.Minute)
		if _, err := e.svc.Ingest(context.Background(), service.IngestRequest{Files: []string{path}, Config: ingest.Config{Reprocess: true}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []int{101, 99, 104, 92, 100, 97, 110, 91, 103} {
		reprocess(n)
	}
	if all := e.alerts(service.AlertFilter{}); len(all) != 1 {
		t.Fatalf("%d alerts from usage hovering around 100 (never below 90); want 1", len(all))
	}
	reprocess(85) // below 100 - 10: re-armed
	reprocess(89)
	if all := e.alerts(service.AlertFilter{}); len(all) != 1 {
		t.Fatalf("%d alerts after falling below the margin; want still 1", len(all))
	}
	reprocess(100)
	reprocess(96)
	reprocess(120)
	e.deliver()
	got := rc.got() // sent at once, in any order
	slices.SortFunc(got, func(a, b received) int { return cmp.Compare(a.payload.Event.Crossing, b.payload.Event.Crossing) })
	if len(got) != 2 || got[0].payload.Event.Crossing != 1 || got[1].payload.Event.Crossing != 2 || got[0].key == got[1].key ||
		got[0].payload.Event.Quantity != 101 || got[1].payload.Event.Quantity != 100 {
		t.Fatalf("receiver got %+v; want crossing 1 at 101 requests and crossing 2 at 100, with different keys", got)
	}
}

// TestRunAlertDelivery: the loop form delivers what commits while it
// runs, reports each pass, and returns nil when its context ends.
func TestRunAlertDelivery(t *testing.T) {
	e := newEnv(t)
	got := make(chan string, 4)
	rc := newReceiver(t, func() time.Time { return e.now })
	rc.respond = func(n int, r *http.Request) int {
		got <- r.Header.Get("Idempotency-Key")
		return http.StatusOK
	}
	e.withAlerts(alert.Policy{}, quantityRule(rc.srv.URL, 0, 10))
	keys, recs := oneCustomer(20)
	e.importKeys(keys)
	// One opening at a time, as one process owns the store (DuckDB in
	// one process does not lock its file against itself): the others
	// wait for Close.
	var storeMu sync.Mutex
	open := e.svc.Open
	e.svc.Open = func(ctx context.Context, access service.Access) (*service.Stores, error) {
		storeMu.Lock()
		st, err := open(ctx, access)
		if err != nil {
			storeMu.Unlock()
			return nil, err
		}
		closeStore := st.Close
		st.Close = func() error { defer storeMu.Unlock(); return closeStore() }
		return st, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	passes := make(chan *service.DeliveryReport, 1000)
	done := make(chan error, 1)
	go func() {
		done <- e.svc.RunAlertDelivery(ctx, 20*time.Millisecond, func(r *service.DeliveryReport) {
			select {
			case passes <- r:
			default:
			}
		})
	}()
	<-passes // a pass ran before the data came
	// The loop holds the store only during a pass.
	if _, err := e.svc.Ingest(context.Background(), service.IngestRequest{Files: []string{e.writeLog("a.gz", recs)}}); err != nil {
		t.Fatalf("ingest beside the delivery loop: %v", err)
	}
	select {
	case <-got:
	case err := <-done:
		t.Fatalf("the loop stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatalf("the loop did not deliver the alert: %+v", e.alerts(service.AlertFilter{}))
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("RunAlertDelivery returned %v when stopped; want nil", err)
	}
	if err := e.svc.RunAlertDelivery(context.Background(), 0, nil); err == nil {
		t.Error("an interval of 0 gave no error")
	}
}

// TestAlertPlanRule: a rule on a plan watches every customer on it
// (totalled together), each with its own exact count and key.
func TestAlertPlanRule(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t, func() time.Time { return e.now })
	rule := alert.Rule{Name: "pro-half", Plan: "pro", Meter: "requests", Kind: alert.Percent, URL: rc.srv.URL, Secret: hookSecret,
		Thresholds: []billing.Decimal{billing.DecimalFromInt(50), billing.DecimalFromInt(1000)}}
	e.withAlerts(alert.Policy{}, rule)
	gen := loggen.New(loggen.Config{Seed: 9, KeySeed: 1, Start: time.Date(2025, 10, 1, 0, 0, 0, 0, time.UTC), Span: 28 * 24 * time.Hour,
		Customers: 3, KeysPerCustomer: 1, Paths: 3})
	recs := make([]loggen.Record, 400)
	for i := range recs {
		gen.Next(&recs[i])
	}
	e.importKeys(gen.Keys())
	e.ingest(e.writeLog("a.gz", recs))
	truth := requests(recs, nil)
	list := e.alerts(service.AlertFilter{})
	if len(list) != 2 {
		t.Fatalf("%d alerts; want customer-01's and customer-02's (customer-03 is on no plan)", len(list))
	}
	for _, a := range list {
		var p alert.Payload
		if err := json.Unmarshal(a.Payload, &p); err != nil {
			t.Fatal(err)
		}
		ev := p.Event
		want := billing.DecimalFromInt(truth[a.Customer]).QuoRound(billing.DecimalFromInt(1), 2) // percent of 100 included
		if ev.Quantity != truth[a.Customer] || ev.Value.Cmp(want) != 0 || ev.Threshold.String() != "50" || ev.Kind != alert.Percent {
			t.Errorf("%s: %+v; want %d requests, %s %%, past 50 %%", a.Customer, ev, truth[a.Customer], want)
		}
	}
	if list[0].Key == list[1].Key {
		t.Error("two customers' crossings share a key")
	}
}
