package keymeter_test

import (
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
)

func TestFingerprint(t *testing.T) {
	a := keymeter.NewFingerprinter([]byte("secret one"))
	b := keymeter.NewFingerprinter([]byte("secret two"))
	k := []byte("km_0123456789abcdefWXYZ")
	fa, fb := a.Fingerprint(k), b.Fingerprint(k)
	if fa == fb || fa.Fingerprint == fb.Fingerprint {
		t.Error("the fingerprint does not depend on the secret")
	}
	if again := a.Fingerprint(k); again != fa {
		t.Error("the fingerprint is not stable")
	}
	if len(fa.Fingerprint) != 32 || fa.Hint != "WXYZ" {
		t.Errorf("fingerprint %+v", fa)
	}
	if id, ok := keymeter.FingerprintID(fa.Fingerprint); !ok || id != fa.ID {
		t.Errorf("FingerprintID = %d, %v; want %d", id, ok, fa.ID)
	}
	for _, bad := range []string{"", "xyz", fa.Fingerprint[:31] + "g"} {
		if _, ok := keymeter.FingerprintID(bad); ok {
			t.Errorf("FingerprintID(%q) accepted", bad)
		}
	}
	if h := a.Fingerprint([]byte("short")).Hint; h != "" {
		t.Errorf("short keys get no hint, got %q", h)
	}
}

func TestErrors(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", keymeter.Errorf(keymeter.ENOTFOUND, "no %s", "thing"))
	if keymeter.ErrorCode(err) != keymeter.ENOTFOUND || err.Error() != "wrapped: no thing" {
		t.Errorf("%v %q", keymeter.ErrorCode(err), err)
	}
	if keymeter.ErrorCode(errors.New("x")) != keymeter.EINTERNAL || keymeter.ErrorCode(nil) != "" {
		t.Error("codes of plain errors")
	}
	pe := &keymeter.ParseError{File: "a.log", Line: 3, Field: "sc-bytes", Err: errors.New("not a number")}
	if pe.Error() != "a.log:3: sc-bytes: not a number" {
		t.Errorf("%q", pe.Error())
	}
}

// TestErrorfWraps checks that an application error keeps the errors its
// message was made from with %w, so that they are not flattened into
// text: errors.Is and errors.As see them, and the code is the outer one.
func TestErrorfWraps(t *testing.T) {
	pe := &keymeter.ParseError{Field: "x", Err: io.ErrUnexpectedEOF}
	err := keymeter.Errorf(keymeter.EINVALID, "read %s: %w", "a.log", pe)
	if err.Error() != "read a.log: x: unexpected EOF" || keymeter.ErrorCode(err) != keymeter.EINVALID {
		t.Errorf("%q, code %s", err, keymeter.ErrorCode(err))
	}
	var got *keymeter.ParseError
	if !errors.Is(err, io.ErrUnexpectedEOF) || !errors.As(err, &got) || got != pe {
		t.Errorf("%v does not wrap %v", err, pe)
	}
	two := keymeter.Errorf(keymeter.EPARTIAL, "%w; %w", io.EOF, keymeter.Errorf(keymeter.ENOTFOUND, "gone"))
	if !errors.Is(two, io.EOF) || keymeter.ErrorCode(two) != keymeter.EPARTIAL || two.Error() != "EOF; gone" {
		t.Errorf("%q, code %s", two, keymeter.ErrorCode(two))
	}
	if plain := keymeter.Errorf(keymeter.EINVALID, "no %s", "thing"); plain.Err != nil {
		t.Errorf("%v wraps %v", plain, plain.Err)
	}
}

func TestCheckDedupeWindow(t *testing.T) {
	for _, d := range []time.Duration{0, time.Hour, keymeter.DefaultDedupeWindow, 72 * time.Hour} {
		if err := keymeter.CheckDedupeWindow(d); err != nil {
			t.Errorf("%s: %v", d, err)
		}
	}
	for _, d := range []time.Duration{-time.Hour, 90 * time.Minute, time.Second} {
		if err := keymeter.CheckDedupeWindow(d); keymeter.ErrorCode(err) != keymeter.EINVALID {
			t.Errorf("%s: %v, want EINVALID", d, err)
		}
	}
}

func TestNames(t *testing.T) {
	for _, s := range keymeter.Sources() {
		if got, err := keymeter.ParseSource(s.String()); err != nil || got != s {
			t.Errorf("ParseSource(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := keymeter.ParseSource("elb"); keymeter.ErrorCode(err) != keymeter.EINVALID {
		t.Errorf("unknown source: %v", err)
	}
	for _, d := range keymeter.Dimensions() {
		if got, err := keymeter.ParseDimension(string(d)); err != nil || got != d {
			t.Errorf("ParseDimension(%q) = %v, %v", d, got, err)
		}
	}
	if keymeter.NoKey.String() != "no_key" || keymeter.KeyTruncated.String() != "key_truncated" || keymeter.Attributed.String() != "" {
		t.Error("attribution names")
	}
}

func TestLatencyBuckets(t *testing.T) {
	prev := int64(-1)
	for ms := int64(0); ms < 1<<22; ms++ {
		b := keymeter.LatencyBucket(ms)
		if b < prev || b > prev+1 {
			t.Fatalf("bucket of %d is %d after %d: buckets must be ordered and dense", ms, b, prev)
		}
		prev = b
		v := keymeter.BucketValue(b)
		if ms < 64 && v != ms {
			t.Fatalf("BucketValue(LatencyBucket(%d)) = %d, want exact", ms, v)
		}
		if d := v - ms; d*64 > ms || -d*64 > ms {
			t.Fatalf("BucketValue(LatencyBucket(%d)) = %d, more than 1/64 off", ms, v)
		}
		if keymeter.LatencyBucket(v) != b {
			t.Fatalf("the value of bucket %d (%d) is not in it", b, v)
		}
	}
	if b := keymeter.LatencyBucket(1<<31 - 1); b > 1<<15-1 {
		t.Errorf("bucket of the largest time-taken is %d: it must fit a SMALLINT", b)
	}
	for _, c := range []struct{ n, p, want int64 }{{100, 50, 50}, {100, 95, 95}, {100, 99, 99}, {20, 95, 19}, {3, 50, 2}, {1, 99, 1}, {7, 95, 7}} {
		if got := keymeter.PercentileRank(c.n, c.p); got != c.want {
			t.Errorf("PercentileRank(%d, %d) = %d, want %d", c.n, c.p, got, c.want)
		}
	}
}
