package cloudfront_test

import (
	"testing"

	"github.com/keymeter/keymeter/format/cloudfront"
)

func TestSniff(t *testing.T) {
	for line, want := range map[string]bool{
		"#Version: 1.0":               true,
		"#Fields: date time":          true,
		"# copied from S3":            false,
		"#fields: date time":          false,
		"2025-10-01\t00:00:01\tIAD89": false, // a record, not a directive
	} {
		if got := cloudfront.IsDirective([]byte(line)); got != want {
			t.Errorf("IsDirective(%q) = %v", line, got)
		}
	}
	for line, want := range map[string]bool{
		"2025-10-01\t00:00:01\tIAD89-C1\t100": true,
		"2025-10-01 00:00:01 GET /":           false, // no tabs
		"2025-1-01\t00:00:01":                 false,
		"1759276800.123\t192.0.2.1":           false,
		"2025-10-01":                          false,
	} {
		if got := cloudfront.LooksLikeRecord([]byte(line)); got != want {
			t.Errorf("LooksLikeRecord(%q) = %v", line, got)
		}
	}
}
