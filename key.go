package keymeter

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"time"
	"unicode/utf8"
)

// KeyFingerprint identifies an API key without revealing it. Raw keys are
// never stored, printed or logged; this is what keymeter keeps instead.
type KeyFingerprint struct {
	// ID is the first 8 bytes of the fingerprint, big-endian. Rows refer to
	// keys by ID.
	ID uint64
	// Fingerprint is the hex form of the first 16 bytes of
	// HMAC-SHA256(secret, key): 32 characters.
	Fingerprint string
	// Hint is the last 4 characters of the key when the key is long enough
	// (HintMinLen characters) for that to reveal little, and "" otherwise.
	Hint string
}

// HintMinLen is the shortest key whose last 4 characters are kept as a
// hint.
const HintMinLen = 16

// Key is an API key known to keymeter, imported by the operator or seen
// in a log, over one span of event time with one owner. A key that
// changed owners is listed once per owner span.
type Key struct {
	KeyFingerprint
	// Customer owns the key over [From, Until) of event time; "" when
	// nobody did. A zero From is the beginning of time, a zero Until
	// open-ended.
	Customer    string
	From, Until time.Time
	// Requests counts the requests of the key in the span: at the edge
	// (the join of both CloudFront logs, each request once) or, for a
	// key the edge never saw (an API Gateway key ID), at the origin;
	// LastSeen is the time of the newest event (zero when none).
	Requests int64
	LastSeen time.Time
}

// KeyAssignment says that the key with a fingerprint belongs to a
// customer from a time on.
type KeyAssignment struct {
	KeyFingerprint
	Customer string
	// From is the event time the assignment takes effect at: the key's
	// events from From on belong to Customer, those before keep the owner
	// they had. The zero time is the beginning of time.
	From time.Time
}

// KeyImport reports what an import changed.
type KeyImport struct {
	Added     int // keys that were not known before
	Assigned  int // known keys that got a customer where they had none
	Moved     int // keys that moved from another customer
	Unchanged int // keys that already belonged to the customer from the assignment's time on
}

// OwnerSpan says that a customer owns a key over the span [From, Until)
// of event time, as currently known (a zero From is the beginning of
// time, a zero Until open-ended).
type OwnerSpan struct {
	KeyID       uint64
	Customer    string
	From, Until time.Time
}

// Contains reports whether event time t falls in the span.
func (s OwnerSpan) Contains(t time.Time) bool {
	return (s.From.IsZero() || !t.Before(s.From)) && (s.Until.IsZero() || t.Before(s.Until))
}

// Fingerprinter computes key fingerprints with a secret. It is not safe for
// concurrent use; give each goroutine its own.
type Fingerprinter struct {
	mac hash.Hash
	sum []byte
}

// NewFingerprinter returns a Fingerprinter keyed with secret.
func NewFingerprinter(secret []byte) *Fingerprinter {
	return &Fingerprinter{mac: hmac.New(sha256.New, secret), sum: make([]byte, 0, sha256.Size)}
}

// Fingerprint returns the fingerprint of a raw API key.
func (f *Fingerprinter) Fingerprint(key []byte) KeyFingerprint {
	f.mac.Reset()
	f.mac.Write(key)
	f.sum = f.mac.Sum(f.sum[:0])
	return KeyFingerprint{
		ID:          binary.BigEndian.Uint64(f.sum[:8]),
		Fingerprint: hex.EncodeToString(f.sum[:16]),
		Hint:        keyHint(key),
	}
}

func keyHint(key []byte) string {
	if utf8.RuneCount(key) < HintMinLen {
		return ""
	}
	end := len(key)
	for range 4 {
		_, n := utf8.DecodeLastRune(key[:end])
		end -= n
	}
	return string(key[end:])
}

// FingerprintID returns the ID of a fingerprint in hex form, and false if
// s is not one.
func FingerprintID(s string) (uint64, bool) {
	if len(s) != 32 {
		return 0, false
	}
	var b [16]byte
	if _, err := hex.Decode(b[:], []byte(s)); err != nil {
		return 0, false
	}
	return binary.BigEndian.Uint64(b[:8]), true
}
