package alert

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/billing"
)

// Values are one meter's period-to-date figures for one customer.
type Values struct {
	Meter string
	// Quantity is the raw count so far: requests, or bytes. It is what
	// the store's meter totals return, exact.
	Quantity int64
	// Included is the customer's plan's included units on the meter, in
	// the same raw unit as Quantity (included GB times the bytes of a
	// GB); zero when the plan includes none, and Percent rules then
	// cannot be evaluated.
	Included billing.Decimal
	// Amount is the meter's line on the draft invoice so far, in minor
	// units, as billing.RatePrice rounds it; zero when it is not priced.
	Amount billing.Decimal
}

// ValuesFor computes each meter's Values from the raw period-to-date
// quantities (by meter name, as the store totals them) and the
// customer's plan, nil when the customer has none: for every meter in raw
// and every meter the plan prices, sorted by meter name. It rates each
// priced meter with billing.RatePrice, so Amount is the figure the
// invoice would show. It is a pure function, and returns an EINVALID
// error for a negative quantity or a price billing refuses.
func ValuesFor(plan *billing.Plan, raw map[string]int64) ([]Values, error) {
	var out []Values
	seen := make(map[string]bool, len(raw))
	if plan != nil {
		for i := range plan.Prices {
			p := &plan.Prices[i]
			q := raw[p.Meter.Name]
			line, err := billing.RatePrice(p, p.Meter.Quantity(keymeter.NewInt128(q)))
			if err != nil {
				return nil, fmt.Errorf("plan %q: %w", plan.Name, err)
			}
			unit := max(p.Meter.Unit.Bytes, 1)
			out = append(out, Values{
				Meter:    p.Meter.Name,
				Quantity: q,
				Included: p.Included.Mul(billing.DecimalFromInt(unit)),
				Amount:   line.Amount,
			})
			seen[p.Meter.Name] = true
		}
	}
	for m, q := range raw {
		if seen[m] {
			continue
		}
		if q < 0 {
			return nil, keymeter.Errorf(keymeter.EINVALID, "meter %q: negative quantity %d", m, q)
		}
		out = append(out, Values{Meter: m, Quantity: q})
	}
	slices.SortFunc(out, func(a, b Values) int { return strings.Compare(a.Meter, b.Meter) })
	return out, nil
}

// Input is what one evaluation looks at: one customer's period-to-date
// values in one billing period, as of a commit.
type Input struct {
	Customer string
	// Plan is the customer's plan, "" when none; rules on it apply.
	Plan string
	// Period is the billing period the values count; its Month names it
	// in the state and the idempotency keys.
	Period billing.Period
	// At is when the data the values count was committed: the crossings'
	// crossed_at.
	At time.Time
	// Currency is the plan's currency, which Amount rules' events name.
	Currency billing.Currency
	// Values holds one entry per meter; a meter missing from it has used
	// nothing.
	Values []Values
}

// Crossing is the state of one threshold of one rule for one customer in
// one period: what the store keeps so that a threshold fires once per
// crossing. A threshold without a stored Crossing is armed and has never
// fired. Its key is (Rule, Customer, Period, Kind, Threshold), the
// threshold compared by value ("80.0" is "80").
type Crossing struct {
	Rule     string
	Customer string
	Period   string // the billing period's Month, "2025-10"
	Kind     Kind
	// Threshold is stored reduced ("80", not "80.0").
	Threshold billing.Decimal
	// Fired is true from a crossing until the rule re-arms: the value
	// then fell below Threshold minus the rule's margin.
	Fired bool
	// Count is the number of crossings fired in the period; the last one
	// fired had this number.
	Count int64
	// FiredAt is when the last crossing fired; RearmedAt when it last
	// re-armed (zero if never).
	FiredAt   time.Time
	RearmedAt time.Time
}

// crossingKey is the identity of a Crossing.
type crossingKey struct {
	rule, customer, period string
	kind                   Kind
	threshold              string
}

func keyOf(c *Crossing) crossingKey {
	return crossingKey{c.Rule, c.Customer, c.Period, c.Kind, c.Threshold.Reduce().String()}
}

// Result is what an evaluation decided.
type Result struct {
	// Crossings are the crossings that changed (fired or re-armed), to be
	// added or replaced in the State.
	Crossings []Crossing
	// Messages are the webhooks the crossings fire, to be enqueued.
	Messages []Message
	// Skipped lists the rules that apply but could not be evaluated, and
	// why (a percent rule whose plan includes no units of its meter).
	// Index is the rule's position in the rules given to Evaluate.
	Skipped []Problem
}

// Evaluate decides which thresholds the values in in have crossed, given
// the stored state prev of the customer's crossings in the period (any
// others are ignored). It looks at the rules that apply to the customer:
// the customer's own and those of its plan.
//
// A threshold fires when it is armed and the value reaches it (value ≥
// threshold); it is then disarmed until the value falls below threshold
// minus the rule's Rearm margin, if the rule has one. A fired threshold
// yields an updated Crossing and one Message whose body carries the
// crossing's idempotency key; a re-armed one an updated Crossing only.
// Thresholds are compared exactly: a percentage as quantity × 100 against
// threshold × included.
//
// Evaluate is a pure function: it does not modify prev, and the same
// inputs give the same Result, byte for byte. Evaluating again with the
// returned state applied finds nothing new. It returns an EINVALID error
// when in has no customer, period or time, or a negative quantity.
func Evaluate(rules []Rule, in Input, prev []Crossing) (Result, error) {
	if in.Customer == "" || in.Period.Month == "" || in.At.IsZero() {
		return Result{}, keymeter.Errorf(keymeter.EINVALID, "alert evaluation needs a customer, a billing period and a time")
	}
	values := make(map[string]*Values, len(in.Values))
	for i := range in.Values {
		v := &in.Values[i]
		if v.Quantity < 0 {
			return Result{}, keymeter.Errorf(keymeter.EINVALID, "customer %q, meter %q: negative quantity %d", in.Customer, v.Meter, v.Quantity)
		}
		values[v.Meter] = v
	}
	state := make(map[crossingKey]Crossing, len(prev))
	for i := range prev {
		c := &prev[i]
		if c.Customer == in.Customer && c.Period == in.Period.Month {
			state[keyOf(c)] = *c
		}
	}
	var res Result
	for i := range rules {
		r := &rules[i]
		if !r.appliesTo(in.Customer, in.Plan) {
			continue
		}
		v := values[r.Meter]
		if v == nil {
			v = &Values{Meter: r.Meter}
		}
		if r.Kind == Percent && v.Included.Sign() <= 0 {
			res.Skipped = append(res.Skipped, Problem{Index: i, Rule: r.Name, Field: "kind",
				Message: fmt.Sprintf("customer %q has no included units of meter %q to take a percentage of", in.Customer, r.Meter)})
			continue
		}
		for _, t := range r.Thresholds {
			t = t.Reduce()
			c := Crossing{Rule: r.Name, Customer: in.Customer, Period: in.Period.Month, Kind: r.Kind, Threshold: t}
			if old, ok := state[keyOf(&c)]; ok {
				c = old
				c.Threshold = t
			}
			switch {
			case !c.Fired && compare(r.Kind, v, t) >= 0:
				c.Fired = true
				c.Count++
				c.FiredAt = in.At
				m, err := message(r, &in, v, &c)
				if err != nil {
					return Result{}, err
				}
				res.Messages = append(res.Messages, m)
			case c.Fired && r.Rearm.Sign() > 0 && compare(r.Kind, v, t.Sub(r.Rearm)) < 0:
				c.Fired = false
				c.RearmedAt = in.At
			default:
				continue
			}
			res.Crossings = append(res.Crossings, c)
		}
	}
	return res, nil
}

// compare compares v's value of kind with x: -1, 0 or +1.
func compare(kind Kind, v *Values, x billing.Decimal) int {
	q := billing.DecimalFromInt(v.Quantity)
	switch kind {
	case Percent:
		// q / included × 100 against x, without dividing.
		return q.Mul(billing.DecimalFromInt(100)).Cmp(x.Mul(v.Included))
	case Amount:
		return v.Amount.Cmp(x)
	}
	return q.Cmp(x)
}

// value returns v's value of kind as it is reported: a percentage to two
// places (half away from zero), the others exactly.
func value(kind Kind, v *Values) billing.Decimal {
	q := billing.DecimalFromInt(v.Quantity)
	switch kind {
	case Percent:
		return q.Mul(billing.DecimalFromInt(100)).QuoRound(v.Included, 2)
	case Amount:
		return v.Amount
	}
	return q
}

// IdempotencyKey returns the idempotency key of the n-th crossing (from
// 1) of a threshold of a rule for a customer in a period: 32 hex digits
// of a SHA-256 of those, with the threshold reduced. It is the same on
// every attempt to deliver the crossing, and differs for any other.
func IdempotencyKey(rule, customer, period string, kind Kind, threshold billing.Decimal, n int64) string {
	h := sha256.New()
	for _, s := range []string{"keymeter-alert-v1", rule, customer, period, string(kind), threshold.Reduce().String(), fmt.Sprint(n)} {
		fmt.Fprintf(h, "%d:%s;", len(s), s)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// EventType is the type of the event every alert webhook carries.
const EventType = "threshold.crossed"

// Payload is the JSON body of an alert webhook.
type Payload struct {
	// IdempotencyKey is the same on every delivery of one crossing, and
	// is also sent as the Idempotency-Key header: a receiver that has
	// seen it should answer 2xx and do nothing.
	IdempotencyKey string `json:"idempotency_key"`
	Event          Event  `json:"event"`
}

// Event describes one crossing.
type Event struct {
	Type     string `json:"type"` // EventType
	Rule     string `json:"rule"`
	Customer string `json:"customer"`
	Meter    string `json:"meter"`
	// Period is the billing period: its name, and the half-open interval
	// [Start, End) of usage it counts (Start is later than the period's
	// first midnight in a customer's first, partial month).
	Period struct {
		Month string    `json:"month"`
		Start time.Time `json:"start"`
		End   time.Time `json:"end"`
	} `json:"period"`
	Kind Kind `json:"kind"`
	// Threshold and Value are decimal strings in the unit of Kind:
	// requests or bytes, percent (Value to two places), or minor units
	// of Currency (cents), which is set for amount rules only.
	Threshold billing.Decimal   `json:"threshold"`
	Value     billing.Decimal   `json:"value"`
	Currency  *billing.Currency `json:"currency,omitempty"`
	// Quantity is the raw period-to-date count, a decimal string.
	Quantity int64 `json:"quantity,string"`
	// Crossing numbers the crossings of this threshold in the period: 1,
	// then 2 after the rule re-armed, ...
	Crossing  int64     `json:"crossing"`
	CrossedAt time.Time `json:"crossed_at"`
}

// message builds the outbox message of crossing c.
func message(r *Rule, in *Input, v *Values, c *Crossing) (Message, error) {
	key := IdempotencyKey(r.Name, in.Customer, in.Period.Month, r.Kind, c.Threshold, c.Count)
	p := Payload{IdempotencyKey: key, Event: Event{
		Type:      EventType,
		Rule:      r.Name,
		Customer:  in.Customer,
		Meter:     r.Meter,
		Kind:      r.Kind,
		Threshold: c.Threshold,
		Value:     value(r.Kind, v),
		Quantity:  v.Quantity,
		Crossing:  c.Count,
		CrossedAt: in.At.UTC(),
	}}
	if r.Kind == Amount {
		cur := in.Currency
		p.Event.Currency = &cur
	}
	p.Event.Period.Month = in.Period.Month
	p.Event.Period.Start = in.Period.ActiveStart.UTC()
	p.Event.Period.End = in.Period.End.UTC()
	body, err := json.Marshal(&p)
	if err != nil {
		return Message{}, fmt.Errorf("encode alert %s: %w", key, err)
	}
	return Message{
		Key:       key,
		Rule:      r.Name,
		Customer:  in.Customer,
		Meter:     r.Meter,
		Period:    in.Period.Month,
		URL:       r.URL,
		Body:      body,
		CreatedAt: in.At,
		NextAt:    in.At,
	}, nil
}

// Apply evaluates rules for in against the crossings stored in tx, and
// writes the changed crossings and the messages they fire through tx.
// The store calls it inside the transaction that commits the data the
// values count, so that data, state and messages commit together; after
// the commit, Deliverer.Notify starts delivery at once. It returns what
// Evaluate decided.
func Apply(ctx context.Context, tx Tx, rules []Rule, in Input) (Result, error) {
	prev, err := tx.Crossings(ctx, in.Customer, in.Period.Month)
	if err != nil {
		return Result{}, fmt.Errorf("read alert state of %s in %s: %w", in.Customer, in.Period.Month, err)
	}
	res, err := Evaluate(rules, in, prev)
	if err != nil {
		return Result{}, err
	}
	if len(res.Crossings) > 0 {
		if err := tx.PutCrossings(ctx, res.Crossings); err != nil {
			return Result{}, fmt.Errorf("store alert state of %s in %s: %w", in.Customer, in.Period.Month, err)
		}
	}
	if len(res.Messages) > 0 {
		if err := tx.Enqueue(ctx, res.Messages); err != nil {
			return Result{}, fmt.Errorf("enqueue alerts of %s in %s: %w", in.Customer, in.Period.Month, err)
		}
	}
	return res, nil
}
