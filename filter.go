package keymeter

import "strconv"

// This file holds the typed filter by which a meter selects events and
// the measure it sums. They are the whole language between billing and
// a store: each backend turns them into its own query (store/duckdb into
// SQL with placeholders), and EventFilter.Matches is the reference
// semantics every backend reproduces (store/storetest checks it).

// Measure is what a meter counts.
type Measure string

// Measures.
const (
	MeasureRequests      Measure = "requests"       // one per logged request
	MeasureBytesSent     Measure = "bytes_sent"     // sc-bytes: response bytes, headers included
	MeasureBytesReceived Measure = "bytes_received" // cs-bytes: request bytes, headers included
)

// Measures lists the measures a store must total.
func Measures() []Measure {
	return []Measure{MeasureRequests, MeasureBytesSent, MeasureBytesReceived}
}

// IsBytes reports whether m counts bytes.
func (m Measure) IsBytes() bool { return m == MeasureBytesSent || m == MeasureBytesReceived }

// Of returns the raw value m sums for the request e: 1 for requests, the
// byte count for bytes (a negative count, not logged, counts as zero).
func (m Measure) Of(e *EventFields) int64 {
	switch m {
	case MeasureBytesSent:
		return max(e.BytesSent, 0)
	case MeasureBytesReceived:
		return max(e.BytesReceived, 0)
	}
	return 1
}

// EventFilter selects events: those of Sources that match Include and do
// not match Exclude.
//
// Sources empty means every log (every source but SourceEdge, whose
// events are the logs' own requests joined, and would count them twice).
// An event of SourceEdge is selected only by a filter that names it.
type EventFilter struct {
	Sources []Source
	Include EventMatch
	Exclude EventMatch
}

// EventMatch is a set of conditions on the fields of a request.
//
// Include matches a request when every non-empty list in it matches the
// request (lists are ANDed, the values within a list ORed); an empty
// Include matches every request. Exclude matches a request when any
// value in any of its lists matches it.
//
// A field the log did not carry (an API Gateway request has no edge
// result, a CloudFront request with "-" for a method) matches no value.
// So a request without the field fails an Include list on it, and is
// never dropped by an Exclude list on it.
type EventMatch struct {
	// Status lists status codes and classes: 5xx is 500–599, 404 is 404.
	Status []StatusRange `json:"status,omitempty"`
	// EdgeResult lists CloudFront x-edge-result-type values, exactly
	// ("Error", "LimitExceeded"); case matters, as in the logs.
	EdgeResult []string `json:"edge_result,omitempty"`
	// Path lists patterns over the request path as logged (still
	// percent-encoded, no query string), as MatchPath reads them.
	Path []string `json:"path,omitempty"`
	// Method lists HTTP methods in upper case.
	Method []string `json:"method,omitempty"`
	// KeySource lists the logs whose record gave an edge request its
	// key (SourceCloudFront or SourceCloudFrontRealtime). Only requests
	// of SourceEdge have one.
	KeySource []Source `json:"key_source,omitempty"`
}

// IsEmpty reports whether m has no conditions.
func (m *EventMatch) IsEmpty() bool {
	return len(m.Status) == 0 && len(m.EdgeResult) == 0 && len(m.Path) == 0 && len(m.Method) == 0 && len(m.KeySource) == 0
}

// StatusRange is an inclusive range of HTTP status codes.
type StatusRange struct {
	Min int `json:"min"`
	Max int `json:"max"`
}

// String returns "5xx" for a class and the code for a single status.
func (r StatusRange) String() string {
	if r.Min%100 == 0 && r.Max == r.Min+99 {
		return strconv.Itoa(r.Min/100) + "xx"
	}
	if r.Min == r.Max {
		return strconv.Itoa(r.Min + 1000)[1:]
	}
	return strconv.Itoa(r.Min) + "-" + strconv.Itoa(r.Max)
}

// EventFields are the fields of one request an EventFilter looks at. An
// empty string, a zero Source in KeySource and a negative Status stand
// for a field the log did not carry. BytesSent and BytesReceived are
// what Measure.Of sums; negative means not logged and counts as zero.
type EventFields struct {
	Source        Source
	Path          string
	Method        string
	Status        int
	EdgeResult    string
	KeySource     Source
	BytesSent     int64
	BytesReceived int64
}

// Selects reports whether the filter's Sources select events of src.
func (f *EventFilter) Selects(src Source) bool {
	if len(f.Sources) == 0 {
		return src != SourceEdge
	}
	for _, s := range f.Sources {
		if s == src {
			return true
		}
	}
	return false
}

// Matches reports whether the filter selects the request e. It is the
// reference semantics every store reproduces in its own query language.
func (f *EventFilter) Matches(e *EventFields) bool {
	if !f.Selects(e.Source) {
		return false
	}
	in := &f.Include
	if len(in.Status) > 0 && !matchStatus(in.Status, e.Status) ||
		len(in.EdgeResult) > 0 && !matchString(in.EdgeResult, e.EdgeResult) ||
		len(in.Path) > 0 && !matchPath(in.Path, e.Path) ||
		len(in.Method) > 0 && !matchString(in.Method, e.Method) ||
		len(in.KeySource) > 0 && !matchSource(in.KeySource, e.KeySource) {
		return false
	}
	ex := &f.Exclude
	return !matchStatus(ex.Status, e.Status) && !matchString(ex.EdgeResult, e.EdgeResult) &&
		!matchPath(ex.Path, e.Path) && !matchString(ex.Method, e.Method) && !matchSource(ex.KeySource, e.KeySource)
}

func matchStatus(rs []StatusRange, status int) bool {
	if status < 0 {
		return false
	}
	for _, r := range rs {
		if status >= r.Min && status <= r.Max {
			return true
		}
	}
	return false
}

func matchString(vs []string, v string) bool {
	if v == "" {
		return false
	}
	for _, w := range vs {
		if v == w {
			return true
		}
	}
	return false
}

func matchSource(vs []Source, v Source) bool {
	if v == SourceUnknown {
		return false
	}
	for _, w := range vs {
		if v == w {
			return true
		}
	}
	return false
}

func matchPath(patterns []string, p string) bool {
	if p == "" {
		return false
	}
	for _, pat := range patterns {
		if MatchPath(pat, p) {
			return true
		}
	}
	return false
}

// MatchPath reports whether path matches pattern, where "*" matches any
// run of bytes ("/" included) and "?" any one byte; nothing else is
// special. "/v1/*" matches "/v1/users/42" but not "/v1".
func MatchPath(pattern, path string) bool {
	// Iterative wildcard matching with backtracking to the last star.
	p, s := 0, 0
	star, mark := -1, 0
	for s < len(path) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == path[s]):
			p++
			s++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, s
			p++
		case star >= 0:
			p = star + 1
			mark++
			s = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
