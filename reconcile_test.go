package keymeter_test

import (
	"testing"

	"github.com/keymeter/keymeter"
)

func TestThreshold(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want keymeter.Threshold
	}{
		{"0", keymeter.Threshold{}},
		{"12", keymeter.Threshold{Count: 12}},
		{"5%", keymeter.Threshold{Percent: true, BasisPoints: 500}},
		{"0.5%", keymeter.Threshold{Percent: true, BasisPoints: 50}},
		{"1.25%", keymeter.Threshold{Percent: true, BasisPoints: 125}},
	} {
		got, err := keymeter.ParseThreshold(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseThreshold(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
		if got.String() != tt.in {
			t.Errorf("%+v.String() = %q, want %q", got, got.String(), tt.in)
		}
	}
	for _, bad := range []string{"", "-1", "1.5", "%", "1.234%", "x%", "1e3", ".5%", "5.%"} {
		if _, err := keymeter.ParseThreshold(bad); keymeter.ErrorCode(err) != keymeter.EINVALID {
			t.Errorf("ParseThreshold(%q): %v, want EINVALID", bad, err)
		}
	}

	row := keymeter.ReconcileRow{EdgeRequests: 1000, EdgeHits: 300, EdgeErrors: 50, OriginRequests: 640}
	if row.Unexplained() != 10 {
		t.Fatalf("unexplained %d", row.Unexplained())
	}
	for _, tt := range []struct {
		th   string
		want bool
	}{{"0", true}, {"9", true}, {"10", false}, {"0.9%", true}, {"1%", false}} {
		th, _ := keymeter.ParseThreshold(tt.th)
		if got := th.Exceeds(&row); got != tt.want {
			t.Errorf("%s exceeded by 10 of 1000: %v", tt.th, got)
		}
	}
	neg := keymeter.ReconcileRow{OriginRequests: 3}
	if th, _ := keymeter.ParseThreshold("50%"); !th.Exceeds(&neg) {
		t.Error("3 origin requests and no edge ones: 100% unexplained")
	}
}

func TestOriginIdentity(t *testing.T) {
	a := keymeter.OriginIdentity(keymeter.IdentityAPIKeyID, []byte("a1b2c3d4e5"))
	b := keymeter.OriginIdentity(keymeter.IdentityCaller, []byte("a1b2c3d4e5"))
	if a.Fingerprint != "apikeyid:a1b2c3d4e5" || a.Hint != "" || a.ID == b.ID || a.ID == 0 {
		t.Errorf("%+v %+v", a, b)
	}
	if again := keymeter.OriginIdentity(keymeter.IdentityAPIKeyID, []byte("a1b2c3d4e5")); again != a {
		t.Error("not stable")
	}
	if ns, v, ok := keymeter.IsOriginIdentity(a.Fingerprint); !ok || ns != "apikeyid" || v != "a1b2c3d4e5" {
		t.Errorf("IsOriginIdentity: %q %q %v", ns, v, ok)
	}
	fp := keymeter.NewFingerprinter([]byte("s")).Fingerprint([]byte("key"))
	if _, _, ok := keymeter.IsOriginIdentity(fp.Fingerprint); ok {
		t.Error("a fingerprint is not an origin identity")
	}
}

// TestLayoutsKeepSecrets checks that no layout stores the raw API key an
// API Gateway record may carry, and that every layout starts its per-row
// strings with the request ID (the events view reads it there).
func TestLayoutsKeepSecrets(t *testing.T) {
	for _, s := range keymeter.Sources() {
		l := keymeter.LayoutOf(s)
		if len(l.Rest) == 0 {
			continue
		}
		if l.Rest[0] != keymeter.FieldRequestID {
			t.Errorf("%s: Rest starts with field %d, not the request ID", s, l.Rest[0])
		}
		all := append(append(append([]keymeter.Field{l.Path}, l.Dims...), l.Client...), l.Rest...)
		for _, f := range all {
			if f == keymeter.FieldAPIKey || f >= keymeter.NumFields {
				t.Errorf("%s: layout names field %d", s, f)
			}
		}
	}
}
