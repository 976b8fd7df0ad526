package storetest

import (
	"testing"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/alert"
	"github.com/keymeter/keymeter/alert/alerttest"
	"github.com/keymeter/keymeter/billing"
)

// AlertWriter is the ability of a store's Writer to write the alert
// state and outbox inside its data transaction: after Prepare, AlertTx
// writes through the open transaction, so that crossings and their
// messages commit, or roll back, with the data they count.
type AlertWriter interface {
	keymeter.Preparer
	AlertTx() alert.Tx
}

// runAlerts runs the alert state and outbox contract (alerttest: insert
// idempotent by key, claims with leases, outcomes recorded only under
// the claim, dead messages kept, ...) against a store that keeps them,
// and checks that a writer's alert writes share its transaction.
func runAlerts(t *testing.T, newStore NewStore) {
	probe := newStore(t)
	_, ok := probe.(alerttest.Store)
	probe.Close()
	if !ok {
		t.Skip("the store does not keep alerts")
	}
	alerttest.Run(t, func(t *testing.T) alerttest.Store {
		s := newStore(t)
		t.Cleanup(func() { s.Close() })
		return s.(alerttest.Store)
	})
	t.Run("WriterTransaction", func(t *testing.T) {
		s := newStore(t)
		defer s.Close()
		testAlertWriterTx(t, s)
	})
}

// testAlertWriterTx checks that a message enqueued through a writer's
// AlertTx is lost with the data when the writer closes without
// committing, and commits with the data otherwise, once however often it
// is enqueued.
func testAlertWriterTx(t *testing.T, s keymeter.Store) {
	outbox := s.(alert.Outbox)
	at := day0.Add(time.Hour)
	m := alert.Message{Key: "k1", Rule: "r", Customer: "acme", Meter: "api_requests", Period: "2025-10",
		URL: "http://127.0.0.1:9/hook", Body: []byte(`{"idempotency_key":"k1"}`), CreatedAt: at}
	run := func(commit bool) {
		t.Helper()
		w, err := s.NewWriter(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		aw, ok := w.(AlertWriter)
		if !ok {
			t.Fatal("the store keeps alerts but its writer is not an AlertWriter")
		}
		for _, b := range batches("obj-alert", ev{at: time.Hour, id: "a", key: "k1"}) {
			if _, err := w.Write(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
		if err := aw.Prepare(ctx); err != nil {
			t.Fatal(err)
		}
		tx := aw.AlertTx()
		if err := tx.PutCrossings(ctx, []alert.Crossing{{Rule: "r", Customer: "acme", Period: "2025-10", Kind: alert.Quantity,
			Threshold: billing.DecimalFromInt(1), Fired: true, Count: 1, FiredAt: at}}); err != nil {
			t.Fatal(err)
		}
		if err := tx.Enqueue(ctx, []alert.Message{m, m}); err != nil {
			t.Fatal(err)
		}
		if commit {
			if err := w.Commit(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	count := func() (int, int) {
		t.Helper()
		ms, err := outbox.Messages(ctx, alert.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		cs, err := s.(alert.State).Crossings(ctx, "acme", "2025-10")
		if err != nil {
			t.Fatal(err)
		}
		return len(ms), len(cs)
	}
	run(false)
	if n, c := count(); n != 0 || c != 0 {
		t.Fatalf("after a rolled-back transaction: %d messages, %d crossings; want none", n, c)
	}
	run(true)
	if n, c := count(); n != 1 || c != 1 {
		t.Fatalf("after a commit: %d messages, %d crossings; want 1 and 1", n, c)
	}
	ms, _ := outbox.Messages(ctx, alert.Filter{})
	if ms[0].Status != alert.Pending || ms[0].Key != "k1" || !ms[0].NextAt.Equal(at) {
		t.Errorf("committed message %+v; want pending k1 due at %s", ms[0], at)
	}
}
