package cloudfrontrt

import "testing"

func TestLooksLikeRecord(t *testing.T) {
	for line, want := range map[string]bool{
		"1759276800.123\t192.0.2.1\t200": true,
		"1759276800\t2001:db8::1\t200":   true,
		"175927680.5\tx":                 true, // 9 digits
		"1759276800.\tx":                 false,
		"17592768\tx":                    false, // 8 digits
		"1759276800.123 192.0.2.1":       false, // no tabs
		"2025-10-01\t00:00:01":           false,
	} {
		if got := LooksLikeRecord([]byte(line)); got != want {
			t.Errorf("LooksLikeRecord(%q) = %v", line, got)
		}
	}
	if n := CountFields([]byte("a\tb\t\tc\r")); n != 4 {
		t.Errorf("CountFields: %d, want 4", n)
	}
}
