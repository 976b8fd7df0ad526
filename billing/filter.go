package billing

import (
	"strconv"
	"strings"

	"github.com/keymeter/keymeter"
)

// MeterFilter says which requests a meter counts: those from Source that
// match Include and do not match Exclude.
//
// Include matches a request when every non-empty list in it matches the
// request (lists are ANDed, the values within a list ORed); an empty
// Include matches every request. Exclude matches a request when any
// value in any of its lists matches it.
//
// A field the log did not carry (NULL in SQL: an API Gateway request has
// no edge result, a CloudFront request with "-" for a method) matches no
// value. So a request without the field fails an Include list on it, and
// is never dropped by an Exclude list on it.
type MeterFilter struct {
	Source  keymeter.Source `json:"source"`
	Include Match           `json:"include"`
	Exclude Match           `json:"exclude"`
}

// Match is a set of conditions on the fields of a request.
type Match struct {
	// Status lists status codes and classes: 5xx is 500–599, 404 is 404.
	Status []StatusRange `json:"status,omitempty"`
	// EdgeResult lists CloudFront x-edge-result-type values, exactly
	// ("Error", "LimitExceeded"); case matters, as in the logs.
	EdgeResult []string `json:"edge_result,omitempty"`
	// Path lists patterns over the request path as logged (still
	// percent-encoded, no query string). "*" matches any run of
	// characters, "/" included, and "?" any one character; nothing else
	// is special. "/v1/*" matches "/v1/users/42" but not "/v1".
	Path []string `json:"path,omitempty"`
	// Method lists HTTP methods in upper case.
	Method []string `json:"method,omitempty"`
}

// IsEmpty reports whether m has no conditions.
func (m *Match) IsEmpty() bool {
	return len(m.Status) == 0 && len(m.EdgeResult) == 0 && len(m.Path) == 0 && len(m.Method) == 0
}

// StatusRange is an inclusive range of HTTP status codes.
type StatusRange struct {
	Min int `json:"min"`
	Max int `json:"max"`
}

// ParseStatusRange parses "5xx" (a class, 1xx–5xx) or a three-digit code
// such as "404" or "000" (CloudFront's "viewer went away").
func ParseStatusRange(s string) (StatusRange, error) {
	if len(s) == 3 && s[0] >= '1' && s[0] <= '5' && (s[1:] == "xx" || s[1:] == "XX") {
		lo := int(s[0]-'0') * 100
		return StatusRange{lo, lo + 99}, nil
	}
	if len(s) == 3 {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 && n <= 599 && s[0] != '-' && s[0] != '+' {
			return StatusRange{n, n}, nil
		}
	}
	return StatusRange{}, keymeter.Errorf(keymeter.EINVALID, "%q is not a status code or class (want e.g. 5xx or 404)", s)
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

// EdgeResultTypes lists the x-edge-result-type values CloudFront logs.
func EdgeResultTypes() []string {
	return []string{"Hit", "RefreshHit", "Miss", "LimitExceeded", "CapacityExceeded", "Error", "Redirect"}
}

// Methods lists the HTTP methods a filter may name.
func Methods() []string {
	return []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}
}

// EventFields are the fields of one request a MeterFilter looks at. An
// empty string and a negative Status stand for a field the log did not
// carry (NULL in SQL). BytesSent and BytesReceived are used by Meter.Raw;
// negative means not logged and counts as zero.
type EventFields struct {
	Source        keymeter.Source
	Path          string
	Method        string
	Status        int
	EdgeResult    string
	BytesSent     int64
	BytesReceived int64
}

// Matches reports whether the filter counts the request e. It is the
// reference semantics that SQLWhere reproduces in SQL.
func (f *MeterFilter) Matches(e *EventFields) bool {
	if e.Source != f.Source {
		return false
	}
	in := &f.Include
	if len(in.Status) > 0 && !matchStatus(in.Status, e.Status) ||
		len(in.EdgeResult) > 0 && !matchString(in.EdgeResult, e.EdgeResult) ||
		len(in.Path) > 0 && !matchPath(in.Path, e.Path) ||
		len(in.Method) > 0 && !matchString(in.Method, e.Method) {
		return false
	}
	ex := &f.Exclude
	return !matchStatus(ex.Status, e.Status) && !matchString(ex.EdgeResult, e.EdgeResult) &&
		!matchPath(ex.Path, e.Path) && !matchString(ex.Method, e.Method)
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
// run of characters ("/" included) and "?" any one byte. It is the Go
// twin of SQL LIKE with the pattern translated by SQLWhere.
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

// likePattern translates a path pattern to a SQL LIKE pattern with "\"
// as the escape character.
func likePattern(pattern string) string {
	var b strings.Builder
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; c {
		case '*':
			b.WriteByte('%')
		case '?':
			b.WriteByte('_')
		case '%', '_', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// SQLWhere returns the filter as a boolean SQL expression with "?"
// placeholders and its arguments, in order. It is written for DuckDB and
// uses only standard SQL (IN, BETWEEN, LIKE ... ESCAPE, IS NULL), against
// a relation with these columns:
//
//	source         VARCHAR   'cloudfront', 'cloudfront-realtime', 'apigateway'
//	time           TIMESTAMP UTC
//	customer       VARCHAR
//	api_key        VARCHAR
//	path           VARCHAR   as logged: percent-encoded, no query string
//	method         VARCHAR   NULL when not logged
//	status         SMALLINT  NULL when not logged; CloudFront's 000 is 0
//	edge_result    VARCHAR   x-edge-result-type; NULL when not logged
//	edge_location  VARCHAR
//	bytes_sent     BIGINT
//	bytes_received BIGINT
//
// The expression selects exactly the rows Matches accepts, NULLs
// included: a NULL never satisfies an Include list and never triggers an
// Exclude list. It does not restrict time or customer; the caller adds
// "time >= ? AND time < ?" for the period's [ActiveStart, End) and its
// own grouping.
func (f *MeterFilter) SQLWhere() (string, []any) {
	var conds []string
	var args []any
	conds = append(conds, "source = ?")
	args = append(args, f.Source.String())

	in := &f.Include
	if len(in.Status) > 0 {
		c, a := sqlStatus(in.Status)
		conds = append(conds, c)
		args = append(args, a...)
	}
	if len(in.EdgeResult) > 0 {
		c, a := sqlIn("edge_result", in.EdgeResult)
		conds = append(conds, c)
		args = append(args, a...)
	}
	if len(in.Path) > 0 {
		c, a := sqlLike(in.Path)
		conds = append(conds, c)
		args = append(args, a...)
	}
	if len(in.Method) > 0 {
		c, a := sqlIn("method", in.Method)
		conds = append(conds, c)
		args = append(args, a...)
	}

	// An excluded condition on a NULL column is NULL, and NOT NULL is
	// NULL, which would drop the row: so each exclusion is written as
	// "column IS NULL OR NOT (...)".
	ex := &f.Exclude
	if len(ex.Status) > 0 {
		c, a := sqlStatus(ex.Status)
		conds = append(conds, "(status IS NULL OR NOT "+c+")")
		args = append(args, a...)
	}
	if len(ex.EdgeResult) > 0 {
		c, a := sqlIn("edge_result", ex.EdgeResult)
		conds = append(conds, "(edge_result IS NULL OR NOT "+c+")")
		args = append(args, a...)
	}
	if len(ex.Path) > 0 {
		c, a := sqlLike(ex.Path)
		conds = append(conds, "(path IS NULL OR NOT "+c+")")
		args = append(args, a...)
	}
	if len(ex.Method) > 0 {
		c, a := sqlIn("method", ex.Method)
		conds = append(conds, "(method IS NULL OR NOT "+c+")")
		args = append(args, a...)
	}
	return strings.Join(conds, " AND "), args
}

func sqlStatus(rs []StatusRange) (string, []any) {
	parts := make([]string, len(rs))
	var args []any
	for i, r := range rs {
		if r.Min == r.Max {
			parts[i] = "status = ?"
			args = append(args, r.Min)
		} else {
			parts[i] = "status BETWEEN ? AND ?"
			args = append(args, r.Min, r.Max)
		}
	}
	return "(" + strings.Join(parts, " OR ") + ")", args
}

func sqlIn(col string, vs []string) (string, []any) {
	args := make([]any, len(vs))
	for i, v := range vs {
		args[i] = v
	}
	return "(" + col + " IN (" + strings.TrimSuffix(strings.Repeat("?, ", len(vs)), ", ") + "))", args
}

func sqlLike(patterns []string) (string, []any) {
	parts := make([]string, len(patterns))
	args := make([]any, len(patterns))
	for i, p := range patterns {
		parts[i] = `path LIKE ? ESCAPE '\'`
		args[i] = likePattern(p)
	}
	return "(" + strings.Join(parts, " OR ") + ")", args
}
