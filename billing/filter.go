package billing

import (
	"strconv"

	"github.com/keymeter/keymeter"
)

// MeterFilter says which requests a meter counts: those from Source that
// match Include and do not match Exclude, by the rules of
// keymeter.EventMatch. It is the config's form of a meter's filter;
// Events gives the typed filter a store runs.
type MeterFilter struct {
	Source  keymeter.Source `json:"source"`
	Include Match           `json:"include"`
	Exclude Match           `json:"exclude"`
}

// Match is a set of conditions on the fields of a request. A billing
// config sets Status, EdgeResult, Path and Method.
type Match = keymeter.EventMatch

// StatusRange is an inclusive range of HTTP status codes.
type StatusRange = keymeter.StatusRange

// Events returns the typed filter of the events f selects.
func (f *MeterFilter) Events() keymeter.EventFilter {
	return keymeter.EventFilter{Sources: []keymeter.Source{f.Source}, Include: f.Include, Exclude: f.Exclude}
}

// ParseStatusRange parses "5xx" (a class, 1xx–5xx) or a three-digit code
// such as "404" or "000" (CloudFront's "viewer went away").
func ParseStatusRange(s string) (StatusRange, error) {
	if len(s) == 3 && s[0] >= '1' && s[0] <= '5' && (s[1:] == "xx" || s[1:] == "XX") {
		lo := int(s[0]-'0') * 100
		return StatusRange{Min: lo, Max: lo + 99}, nil
	}
	if len(s) == 3 {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 && n <= 599 && s[0] != '-' && s[0] != '+' {
			return StatusRange{Min: n, Max: n}, nil
		}
	}
	return StatusRange{}, keymeter.Errorf(keymeter.EINVALID, "%q is not a status code or class (want e.g. 5xx or 404)", s)
}

// EdgeResultTypes lists the x-edge-result-type values CloudFront logs.
func EdgeResultTypes() []string {
	return []string{"Hit", "RefreshHit", "Miss", "LimitExceeded", "CapacityExceeded", "Error", "Redirect"}
}

// Methods lists the HTTP methods a filter may name.
func Methods() []string {
	return []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}
}
