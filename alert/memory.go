package alert

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keymeter/keymeter"
)

// MemStore is an in-memory State and Outbox, for tests: it passes the
// contract suite in alert/alerttest that a store's tables must pass. It
// is safe for concurrent use; several Deliverers over one MemStore behave
// as deliverers over one database.
type MemStore struct {
	mu        sync.Mutex
	crossings map[crossingKey]Crossing
	msgs      map[string]*Message
	claims    int64
}

var (
	_ State  = (*MemStore)(nil)
	_ Outbox = (*MemStore)(nil)
)

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore {
	return &MemStore{crossings: map[crossingKey]Crossing{}, msgs: map[string]*Message{}}
}

// Crossings implements State.
func (s *MemStore) Crossings(ctx context.Context, customer, period string) ([]Crossing, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.crossingsLocked(customer, period), nil
}

func (s *MemStore) crossingsLocked(customer, period string) []Crossing {
	var out []Crossing
	for _, c := range s.crossings {
		if c.Customer == customer && c.Period == period {
			out = append(out, c)
		}
	}
	return out
}

// PutCrossings implements State.
func (s *MemStore) PutCrossings(ctx context.Context, cs []Crossing) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.putCrossingsLocked(cs)
	return nil
}

func (s *MemStore) putCrossingsLocked(cs []Crossing) {
	for _, c := range cs {
		c.Threshold = c.Threshold.Reduce()
		s.crossings[keyOf(&c)] = c
	}
}

// Enqueue implements Enqueuer.
func (s *MemStore) Enqueue(ctx context.Context, msgs []Message) error {
	if err := checkMessages(msgs); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.enqueueLocked(msgs)
	return nil
}

// checkMessages returns an EINVALID error for a message Enqueue refuses.
func checkMessages(msgs []Message) error {
	for i := range msgs {
		m := &msgs[i]
		if m.Key == "" || m.URL == "" || len(m.Body) == 0 {
			return keymeter.Errorf(keymeter.EINVALID, "alert message %q: a message needs a key, a URL and a body", m.Key)
		}
	}
	return nil
}

func (s *MemStore) enqueueLocked(msgs []Message) {
	for _, m := range msgs {
		if _, ok := s.msgs[m.Key]; ok {
			continue
		}
		m.Body = slices.Clone(m.Body)
		m.Status = Pending
		m.Attempts, m.LastStatus, m.LastError = 0, 0, ""
		m.DeliveredAt, m.Claim, m.ClaimedUntil = time.Time{}, "", time.Time{}
		if m.NextAt.IsZero() {
			m.NextAt = m.CreatedAt
		}
		s.msgs[m.Key] = &m
	}
}

// Update runs fn with a Tx over s: what fn writes through it becomes
// visible when fn returns nil, and is discarded when fn returns an error,
// which Update returns. It stands for the store's data transaction.
func (s *MemStore) Update(ctx context.Context, fn func(tx Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	tx := &memTx{s: s}
	if err := fn(tx); err != nil {
		return err
	}
	s.putCrossingsLocked(tx.crossings)
	s.enqueueLocked(tx.msgs)
	return nil
}

// memTx buffers a transaction's writes; it reads its own.
type memTx struct {
	s         *MemStore
	crossings []Crossing
	msgs      []Message
}

func (tx *memTx) Crossings(ctx context.Context, customer, period string) ([]Crossing, error) {
	byKey := map[crossingKey]Crossing{}
	for _, c := range tx.s.crossingsLocked(customer, period) {
		byKey[keyOf(&c)] = c
	}
	for _, c := range tx.crossings {
		if c.Customer == customer && c.Period == period {
			byKey[keyOf(&c)] = c
		}
	}
	out := make([]Crossing, 0, len(byKey))
	for _, c := range byKey {
		out = append(out, c)
	}
	return out, nil
}

func (tx *memTx) PutCrossings(ctx context.Context, cs []Crossing) error {
	tx.crossings = append(tx.crossings, cs...)
	return nil
}

func (tx *memTx) Enqueue(ctx context.Context, msgs []Message) error {
	if err := checkMessages(msgs); err != nil {
		return err
	}
	for _, m := range msgs {
		m.Body = slices.Clone(m.Body)
		tx.msgs = append(tx.msgs, m)
	}
	return nil
}

// Claim implements Outbox.
func (s *MemStore) Claim(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]Message, error) {
	if limit <= 0 || lease <= 0 {
		return nil, keymeter.Errorf(keymeter.EINVALID, "claim: limit %d and lease %s must be positive", limit, lease)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var due []*Message
	for _, m := range s.msgs {
		if m.Status == Pending && !m.NextAt.After(now) && (m.Claim == "" || !m.ClaimedUntil.After(now)) {
			due = append(due, m)
		}
	}
	slices.SortFunc(due, func(a, b *Message) int {
		return cmp.Or(a.NextAt.Compare(b.NextAt), a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.Key, b.Key))
	})
	if len(due) > limit {
		due = due[:limit]
	}
	out := make([]Message, len(due))
	for i, m := range due {
		s.claims++
		m.Claim = "c" + strconv.FormatInt(s.claims, 10)
		m.ClaimedUntil = now.Add(lease)
		out[i] = *m
		out[i].Body = slices.Clone(m.Body)
	}
	return out, nil
}

// held returns the message a holds, or an error.
func (s *MemStore) held(a Attempt) (*Message, error) {
	m, ok := s.msgs[a.Key]
	switch {
	case !ok:
		return nil, keymeter.Errorf(keymeter.ENOTFOUND, "no alert message %q", a.Key)
	case m.Status != Pending || a.Claim == "" || m.Claim != a.Claim:
		return nil, ErrLeaseLost
	}
	return m, nil
}

// Delivered implements Outbox.
func (s *MemStore) Delivered(ctx context.Context, a Attempt) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.held(a)
	if err != nil {
		return err
	}
	m.Status = Delivered
	m.Attempts++
	m.LastStatus, m.LastError = a.Status, ""
	m.DeliveredAt = a.At
	m.Claim, m.ClaimedUntil = "", time.Time{}
	return nil
}

// Failed implements Outbox.
func (s *MemStore) Failed(ctx context.Context, a Attempt, retryAt time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.held(a)
	if err != nil {
		return err
	}
	m.Attempts++
	m.LastStatus, m.LastError = a.Status, a.Error
	if retryAt.IsZero() {
		m.Status = Dead
	} else {
		m.NextAt = retryAt
	}
	m.Claim, m.ClaimedUntil = "", time.Time{}
	return nil
}

// Messages implements Outbox.
func (s *MemStore) Messages(ctx context.Context, f Filter) ([]Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.msgs {
		if (f.Status == "" || m.Status == f.Status) && (f.Customer == "" || m.Customer == f.Customer) && (f.Rule == "" || m.Rule == f.Rule) {
			c := *m
			c.Body = slices.Clone(m.Body)
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b Message) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.Key, b.Key))
	})
	return out, nil
}
