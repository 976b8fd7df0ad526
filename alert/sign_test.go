package alert_test

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/keymeter/keymeter/alert"
)

func TestSign(t *testing.T) {
	body := []byte(`{"idempotency_key":"abc"}`)
	at := time.Unix(1700000000, 0)
	// From `printf '%s' '1700000000.{"idempotency_key":"abc"}' |
	// openssl dgst -sha256 -hmac whsec_0123456789abcdef`.
	const want = "t=1700000000,v1=4a7003dc9364a383a34fcbff4b51aa10c7a36bc69531a81146c6c80cdaf9fac7"
	if got := alert.Sign(secret, at, body); got != want {
		t.Fatalf("Sign = %s\nwant   %s", got, want)
	}
}

func TestVerify(t *testing.T) {
	body := []byte(`{"idempotency_key":"abc"}`)
	at := time.Unix(1700000000, 0)
	h := alert.Sign(secret, at, body)
	other := alert.Sign([]byte("another-secret-0123456789"), at, body)
	for _, tc := range []struct {
		name   string
		header string
		body   string
		secret string
		now    time.Time
		want   error
	}{
		{"good", h, string(body), string(secret), at.Add(time.Minute), nil},
		{"good, clock behind", h, string(body), string(secret), at.Add(-time.Minute), nil},
		{"rotation: one of two matches", other + ",v1=" + strings.SplitN(h, "v1=", 2)[1], string(body), string(secret), at, nil},
		{"spaces and unknown schemes", " t=1700000000 , v0=zz , " + h[len("t=1700000000,"):], string(body), string(secret), at, nil},
		{"body changed", h, `{"idempotency_key":"abd"}`, string(secret), at, alert.ErrSignature},
		{"wrong secret", h, string(body), "whsec_wrong_secret_00", at, alert.ErrSignature},
		{"too old", h, string(body), string(secret), at.Add(6 * time.Minute), alert.ErrTimestamp},
		{"from the future", h, string(body), string(secret), at.Add(-6 * time.Minute), alert.ErrTimestamp},
		{"timestamp changed", strings.Replace(h, "t=1700000000", "t=1700000001", 1), string(body), string(secret), at, alert.ErrSignature},
		{"no timestamp", h[len("t=1700000000,"):], string(body), string(secret), at, alert.ErrTimestamp},
		{"empty", "", string(body), string(secret), at, alert.ErrNoSignature},
		{"bad hex", "t=1700000000,v1=xyz", string(body), string(secret), at, alert.ErrNoSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := alert.Verify(tc.header, []byte(tc.body), []byte(tc.secret), 0, tc.now)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Errorf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
	// A tolerance of its own.
	if err := alert.Verify(h, body, secret, time.Hour, at.Add(59*time.Minute)); err != nil {
		t.Errorf("within an hour's tolerance: %v", err)
	}
}

func TestVerifyRequest(t *testing.T) {
	body := `{"idempotency_key":"abc"}`
	r := httptest.NewRequest("POST", "/hook", strings.NewReader(body))
	r.Header.Set(alert.SignatureHeader, alert.Sign(secret, time.Now(), []byte(body)))
	got, err := alert.VerifyRequest(r, secret, 0)
	if err != nil || string(got) != body {
		t.Fatalf("VerifyRequest = %q, %v", got, err)
	}
	r = httptest.NewRequest("POST", "/hook", strings.NewReader(body+" "))
	r.Header.Set(alert.SignatureHeader, alert.Sign(secret, time.Now(), []byte(body)))
	if got, err := alert.VerifyRequest(r, secret, 0); !errors.Is(err, alert.ErrSignature) || got != nil {
		t.Errorf("tampered request: %q, %v", got, err)
	}
	big := strings.Repeat("x", alert.MaxBody+1)
	r = httptest.NewRequest("POST", "/hook", strings.NewReader(big))
	r.Header.Set(alert.SignatureHeader, alert.Sign(secret, time.Now(), []byte(big)))
	if _, err := alert.VerifyRequest(r, secret, 0); err == nil {
		t.Errorf("oversized body accepted")
	}
}
