package alert

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader is the header that carries a webhook's signature, in
// the style of Stripe's: "t=<unix seconds>,v1=<hex>", where the hex is
// the HMAC-SHA256, keyed with the rule's secret, of the timestamp, a
// dot and the raw body ("1700000000.{...}").
const SignatureHeader = "Keymeter-Signature"

// DefaultTolerance is how far a signature's timestamp may be from the
// receiver's clock when Verify is given no tolerance.
const DefaultTolerance = 5 * time.Minute

// Errors of Verify.
var (
	ErrNoSignature = errors.New("no v1 signature in the " + SignatureHeader + " header")
	ErrTimestamp   = errors.New("the signature's timestamp is outside the tolerance")
	ErrSignature   = errors.New("no signature matches the body")
)

// Sign returns the SignatureHeader value for body sent at t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	io.WriteString(h, ts)
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks a SignatureHeader value against the raw body, as a
// receiver must before trusting a webhook: one of its v1 signatures is
// the HMAC of the timestamp and body with secret (compared in constant
// time), and the timestamp is within tolerance of now (DefaultTolerance
// when tolerance ≤ 0), which stops an old request from being replayed.
// Unknown schemes in the header are ignored. It returns ErrNoSignature,
// ErrTimestamp or ErrSignature (wrapped with detail), or nil.
func Verify(header string, body, secret []byte, tolerance time.Duration, now time.Time) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			if s, err := hex.DecodeString(v); err == nil && len(s) == sha256.Size {
				sigs = append(sigs, s)
			}
		}
	}
	if len(sigs) == 0 {
		return ErrNoSignature
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: t=%q is not a Unix time", ErrTimestamp, ts)
	}
	if d := now.Sub(time.Unix(sec, 0)).Abs(); d > tolerance {
		return fmt.Errorf("%w: %s from now, tolerance %s", ErrTimestamp, d.Truncate(time.Second), tolerance)
	}
	want := mac(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return nil
		}
	}
	return ErrSignature
}

// MaxBody is the largest body VerifyRequest reads.
const MaxBody = 1 << 20

// VerifyRequest reads r's body (at most MaxBody bytes) and checks its
// signature with Verify at the current time. It returns the body only
// when the signature is good. Decode the body only after that.
func VerifyRequest(r *http.Request, secret []byte, tolerance time.Duration) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		return nil, fmt.Errorf("read webhook body: %w", err)
	}
	if len(body) > MaxBody {
		return nil, fmt.Errorf("webhook body larger than %d bytes", MaxBody)
	}
	if err := Verify(r.Header.Get(SignatureHeader), body, secret, tolerance, time.Now()); err != nil {
		return nil, err
	}
	return body, nil
}
