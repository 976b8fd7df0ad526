package keymeter_test

import (
	"errors"
	"fmt"
	"testing"

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
