package billing

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keymeter/keymeter"
)

func TestMeterEvents(t *testing.T) {
	c := loadConfig(t, "example.yaml")
	usage := map[string]map[string]int64{
		"acme": {"api_requests": 12_345_678, "egress": 1_500_000_000_000},
	}
	events, err := c.MeterEvents("2025-10", rawBy(usage))
	if err != nil {
		t.Fatal(err)
	}
	// acme's plan prices three meters; each gets an event, zero included.
	if len(events) != 3 {
		t.Fatalf("%d events", len(events))
	}
	for i, want := range []struct{ name, value string }{
		{"api_requests", "12345678"}, {"egress", "1500"}, {"origin_requests", "0"},
	} {
		e := events[i]
		if e.EventName != want.name || e.Payload.Value != want.value || e.Payload.StripeCustomerID != "cus_Qx7acme" {
			t.Errorf("event %d: %+v", i, e)
		}
		// The last second of October 2025, UTC.
		if e.Timestamp != 1761955199 {
			t.Errorf("event %d: timestamp %d", i, e.Timestamp)
		}
		if !strings.HasPrefix(e.Identifier, "keymeter-") || len(e.Identifier) != 41 {
			t.Errorf("event %d: identifier %q", i, e.Identifier)
		}
	}

	// Idempotent: the same period gives the same identifiers, whatever
	// the values; another period, meter or customer gives others.
	again, _ := c.MeterEvents("2025-10", rawBy(map[string]map[string]int64{"acme": {"api_requests": 1}}))
	if again[0].Identifier != events[0].Identifier {
		t.Error("identifier depends on the value")
	}
	next, _ := c.MeterEvents("2025-11", rawBy(usage))
	ids := map[string]bool{}
	for _, e := range append(events, next...) {
		if ids[e.Identifier] {
			t.Errorf("identifier %s repeated", e.Identifier)
		}
		ids[e.Identifier] = true
	}

	got, err := EncodeMeterEvents(events)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSuffix(string(got), "\n"), "\n") {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		p, _ := v["payload"].(map[string]any)
		if _, ok := p["value"].(string); !ok || v["event_name"] == nil || v["timestamp"] == nil || v["identifier"] == nil || p["stripe_customer_id"] == nil {
			t.Errorf("line lacks Stripe's fields: %s", line)
		}
	}
	path := filepath.Join("testdata", "golden", "stripe_meter_events.jsonl")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	} else if want, err := os.ReadFile(path); err != nil || !bytes.Equal(got, want) {
		t.Errorf("meter events differ from %s (%v):\n%s", path, err, got)
	}

	// globex has no Stripe customer ID; nobody is not a customer.
	if _, err := c.MeterEvents("2025-10", rawBy(map[string]map[string]int64{"globex": {}})); keymeter.ErrorCode(err) != keymeter.EINVALID {
		t.Errorf("customer without Stripe ID: %v", err)
	}
	if _, err := c.MeterEvents("2025-10", rawBy(map[string]map[string]int64{"nobody": {}})); keymeter.ErrorCode(err) != keymeter.ENOTFOUND {
		t.Errorf("unknown customer: %v", err)
	}
	// acme starts on Oct 31: there is no September period.
	if _, err := c.MeterEvents("2025-09", rawBy(usage)); keymeter.ErrorCode(err) != keymeter.EINVALID {
		t.Errorf("period before the start: %v", err)
	}
}
