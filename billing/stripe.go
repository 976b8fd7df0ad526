package billing

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"time"

	"github.com/keymeter/keymeter"
)

// MeterEvent is one Stripe billing meter event, in the shape of Stripe's
// "create meter event" request: it reports a customer's usage of one
// meter for one whole period.
type MeterEvent struct {
	EventName string `json:"event_name"`
	// Timestamp is the last second of the period, in Unix seconds, so the
	// usage lands in the Stripe billing period that matches keymeter's.
	// Stripe refuses timestamps more than 35 days old: send the events
	// soon after the period closes.
	Timestamp  int64             `json:"timestamp"`
	Payload    MeterEventPayload `json:"payload"`
	Identifier string            `json:"identifier"`
}

// MeterEventPayload is the payload of a MeterEvent.
type MeterEventPayload struct {
	StripeCustomerID string `json:"stripe_customer_id"`
	// Value is the period's quantity in the meter's unit, as a decimal
	// string. Stripe sums values; price byte meters in a unit that keeps
	// the value whole (byte, MB) if your Stripe meter needs integers.
	Value string `json:"value"`
}

// NewMeterEvent returns the event reporting raw usage (requests or bytes)
// of meter m by the customer of a in period p.
//
// The identifier is a hash of the customer, the meter and the period's
// bounds, and not of the value: sending the event again, even with a
// corrected value, is a duplicate Stripe ignores (Stripe enforces
// uniqueness of identifiers over a rolling window of at least 24 hours),
// never a second charge.
func NewMeterEvent(a *Assignment, m *Meter, p Period, raw keymeter.Int128) (MeterEvent, error) {
	if a.StripeCustomerID == "" {
		return MeterEvent{}, keymeter.Errorf(keymeter.EINVALID, "customer %q has no Stripe customer ID", a.Customer)
	}
	if raw.Sign() < 0 {
		return MeterEvent{}, keymeter.Errorf(keymeter.EINVALID, "meter %q: negative usage %d", m.Name, raw)
	}
	name := m.StripeEventName
	if name == "" {
		name = m.Name
	}
	return MeterEvent{
		EventName: name,
		Timestamp: p.End.Unix() - 1,
		Payload: MeterEventPayload{
			StripeCustomerID: a.StripeCustomerID,
			Value:            m.Quantity(raw).String(),
		},
		Identifier: meterEventID(a.Customer, m.Name, p),
	}, nil
}

// meterEventID returns "keymeter-" and 32 hex digits of the SHA-256 of
// the customer, meter and period bounds, NUL-separated.
func meterEventID(customer, meter string, p Period) string {
	h := sha256.New()
	for _, s := range []string{customer, meter, p.Start.UTC().Format(time.RFC3339), p.End.UTC().Format(time.RFC3339)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return "keymeter-" + hex.EncodeToString(h.Sum(nil)[:16])
}

// MeterEvents returns the Stripe meter events for the billing period
// named month: for every customer in usage, one event per meter the
// customer's plan prices, ordered by customer then meter. usage holds
// raw quantities by customer, then by meter name; a priced meter missing
// from it is reported as 0. It returns an EINVALID error naming the
// first customer that is not configured or has no Stripe customer ID.
func (c *Config) MeterEvents(month string, usage map[string]map[string]keymeter.Int128) ([]MeterEvent, error) {
	customers := make([]string, 0, len(usage))
	for id := range usage {
		customers = append(customers, id)
	}
	slices.Sort(customers)
	var events []MeterEvent
	for _, id := range customers {
		a, plan, err := c.lookup(id)
		if err != nil {
			return nil, err
		}
		p, err := PeriodFor(a, month)
		if err != nil {
			return nil, err
		}
		for i := range plan.Prices {
			m := &plan.Prices[i].Meter
			e, err := NewMeterEvent(a, m, p, usage[id][m.Name])
			if err != nil {
				return nil, err
			}
			events = append(events, e)
		}
	}
	return events, nil
}

// EncodeMeterEvents returns events as JSON Lines: one object per line.
func EncodeMeterEvents(events []MeterEvent) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for i := range events {
		if err := enc.Encode(&events[i]); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}
