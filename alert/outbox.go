package alert

import (
	"context"
	"time"

	"github.com/keymeter/keymeter"
)

// Status is where a message is in its delivery.
type Status string

// Message statuses. A message starts Pending and ends Delivered or Dead;
// it is kept either way.
const (
	Pending   Status = "pending"   // to be sent, now or at NextAt
	Delivered Status = "delivered" // a receiver answered 2xx
	Dead      Status = "dead"      // given up: 410 Gone, too many attempts or too old
)

// Message is one webhook in the outbox: what Evaluate produces, plus the
// delivery state the outbox keeps. Its Key is unique in the outbox.
type Message struct {
	// Key is the crossing's idempotency key (see IdempotencyKey).
	Key      string
	Rule     string
	Customer string
	Meter    string
	Period   string // billing period's Month
	// URL is where the message goes, fixed when it is enqueued.
	URL string
	// Body is the JSON Payload, fixed when it is enqueued: every attempt
	// sends these bytes.
	Body []byte
	// CreatedAt is when the crossing was committed; the message's age,
	// for Policy.MaxAge, counts from it.
	CreatedAt time.Time

	// The rest is kept by the outbox.

	Status Status
	// Attempts counts the attempts recorded so far.
	Attempts int
	// NextAt is when a Pending message is due.
	NextAt time.Time
	// LastStatus is the HTTP status of the last recorded attempt, 0 when
	// it got no response; LastError says what went wrong, "" after a
	// delivery.
	LastStatus  int
	LastError   string
	DeliveredAt time.Time
	// Claim is the token of the claim the message is held under, ""
	// when none; ClaimedUntil when that claim's lease ends.
	Claim        string
	ClaimedUntil time.Time
}

// Attempt is the outcome of one attempt to deliver a message, recorded
// under the claim the message was taken with.
type Attempt struct {
	Key   string
	Claim string    // Message.Claim as Claim returned it
	At    time.Time // when the request was sent
	// Status is the HTTP status of the response, 0 when there was none.
	Status int
	// Error says what went wrong; "" for a delivery.
	Error string
}

// Filter selects messages; empty fields select all.
type Filter struct {
	Status   Status
	Customer string
	Rule     string
}

// ErrLeaseLost is returned by Outbox.Delivered and Outbox.Failed when the
// message is no longer held under the attempt's claim: another claim took
// it after the lease expired, or its outcome was already recorded. The
// attempt's outcome is then not recorded. Its code is ECONFLICT.
var ErrLeaseLost = &keymeter.Error{Code: keymeter.ECONFLICT, Message: "the alert message is no longer held under this claim"}

// State keeps the crossings of the rules' thresholds: what Evaluate
// needs to fire once per crossing. A store table, keyed as Crossing says.
type State interface {
	// Crossings returns every crossing stored for customer in period (a
	// billing period's Month), in any order; none is not an error.
	Crossings(ctx context.Context, customer, period string) ([]Crossing, error)
	// PutCrossings adds crossings, replacing those with the same key.
	PutCrossings(ctx context.Context, cs []Crossing) error
}

// Enqueuer adds messages to an outbox.
type Enqueuer interface {
	// Enqueue adds messages as Pending, due at their NextAt (CreatedAt
	// when zero). A message whose Key the outbox already holds, in any
	// status, is ignored, so enqueuing twice is harmless. It returns an
	// EINVALID error for a message without a key, URL or body.
	Enqueue(ctx context.Context, msgs []Message) error
}

// Tx is what an evaluation writes: the state and the outbox, inside the
// store's transaction. Everything written through one Tx commits or
// rolls back together.
type Tx interface {
	State
	Enqueuer
}

// Outbox is the durable queue of webhooks: a store table that keeps
// every message, delivered or dead, so that the API can show them.
//
// Claims make delivery safe with several deliverers, or a deliverer
// restarted after a crash: a claimed message is held for its lease, and
// only the holder of the current claim can record its outcome.
type Outbox interface {
	Enqueuer
	// Claim takes up to limit Pending messages due at now (NextAt ≤ now)
	// that are not held under an unexpired claim, oldest NextAt first,
	// and holds them under a new claim token, unique in the outbox, until
	// now + lease. It returns them with Claim and ClaimedUntil set.
	Claim(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]Message, error)
	// Delivered records a successful attempt: the message becomes
	// Delivered at a.At, its attempts counted, its claim released. It
	// returns ErrLeaseLost when the message is not Pending under claim
	// a.Claim (the claim's lease may have expired, if no other claim took
	// the message since), and an ENOTFOUND error for an unknown key.
	Delivered(ctx context.Context, a Attempt) error
	// Failed records a failed attempt and releases the claim: the message
	// stays Pending, due at retryAt, or becomes Dead when retryAt is
	// zero. It returns errors as Delivered does.
	Failed(ctx context.Context, a Attempt, retryAt time.Time) error
	// Messages returns the messages f selects, in the order they were
	// created (CreatedAt, then Key).
	Messages(ctx context.Context, f Filter) ([]Message, error)
}
