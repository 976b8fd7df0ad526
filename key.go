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

// Key is an API key known to keymeter: imported by the operator or seen in
// a log.
type Key struct {
	KeyFingerprint
	// Customer owns the key; "" when nobody was assigned.
	Customer string
	// Requests counts the stored events attributed to the key, and LastSeen
	// is the time of the newest one (zero when none).
	Requests int64
	LastSeen time.Time
}

// KeyAssignment says that the key with a fingerprint belongs to a customer.
type KeyAssignment struct {
	KeyFingerprint
	Customer string
}

// KeyImport reports what an import changed.
type KeyImport struct {
	Added     int // keys that were not known before
	Assigned  int // known keys that got a customer for the first time
	Moved     int // keys that moved from one customer to another
	Unchanged int // keys already assigned to the same customer
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
