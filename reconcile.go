package keymeter

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// Reconciliation compares what the edge (CloudFront) logged with what the
// origin (API Gateway) logged, per group, so that lost log lines on either
// side show up as a difference no known cause explains.
//
// For each group (customer, day, ...):
//
//   - EdgeRequests counts the edge source's events.
//   - EdgeHits counts those CloudFront answered itself, never asking the
//     origin: x-edge-result-type Hit or RefreshHit (from the cache), or
//     Redirect (the viewer-protocol redirect to HTTPS).
//   - EdgeErrors counts those CloudFront answered with an error of its
//     own: x-edge-result-type LimitExceeded or CapacityExceeded (any
//     status), or Error with status 000 (the viewer went away) or 5xx
//     (the edge could not get a response from the origin). Error with any
//     other status is an origin response passed on, and is expected at
//     the origin.
//   - OriginRequests counts the origin source's events.
//   - Unexplained is EdgeRequests − EdgeHits − EdgeErrors − OriginRequests:
//     requests the edge passed to the origin that the origin did not log
//     (positive), or origin requests the edge did not log (negative).
//
// Edge and origin events are grouped by their own times (the edge logs
// when it finished responding, the origin when it received the request),
// so a request that straddles midnight can show as +1 on one day and −1
// on the next. A 5xx the origin itself returned is counted both as an
// edge error and as an origin request (−1): look at such groups with
// usage --by status.
type Reconciliation struct {
	Edge   Source // the edge source compared
	Origin Source // the origin source compared: SourceAPIGateway
	Rows   []ReconcileRow
}

// ReconcileRow is the comparison of one group.
type ReconcileRow struct {
	Group          []GroupValue // one per ReconcileQuery.By, in order
	EdgeRequests   int64
	EdgeHits       int64
	EdgeErrors     int64
	OriginRequests int64
}

// Unexplained returns the difference none of the row's counts explains;
// see Reconciliation.
func (r *ReconcileRow) Unexplained() int64 {
	return r.EdgeRequests - r.EdgeHits - r.EdgeErrors - r.OriginRequests
}

// ReconcileQuery asks for a reconciliation over the half-open period
// [From, To).
type ReconcileQuery struct {
	From, To time.Time
	// By lists the group columns: any of ReconcileDimensions. Customers
	// link the two sides: a customer's API keys (edge) and API Gateway key
	// IDs or identities (origin) are assigned to it by keys import.
	By []Dimension
	// Edge is SourceEdge (the join of both CloudFront logs, each request
	// once, attributed by either), SourceCloudFront or
	// SourceCloudFrontRealtime alone; SourceUnknown means SourceEdge.
	Edge Source
}

// ReconcileDimensions lists the dimensions a reconciliation can be
// grouped by: those that mean the same on both sides.
func ReconcileDimensions() []Dimension {
	return []Dimension{DimCustomer, DimDay, DimHour, DimMonth}
}

// Reconciler compares edge and origin logs. It is an optional ability of
// a Store.
type Reconciler interface {
	// Reconcile returns one row per group with events on either side,
	// ordered by the group columns with nulls last. It returns an EINVALID
	// error for an empty or inverted period, a dimension not in
	// ReconcileDimensions, or an Edge that is not an edge source.
	Reconcile(ctx context.Context, q ReconcileQuery) (*Reconciliation, error)
}

// Threshold says how large an unexplained difference must be to be
// flagged: more than Count requests, or, when Percent, more than
// BasisPoints hundredths of a percent of the group's edge requests (of
// its origin requests when the edge has none).
type Threshold struct {
	Percent     bool
	Count       int64
	BasisPoints int64
}

// ParseThreshold parses "12" (requests) or "0.5%" (of the edge requests,
// at most two decimals).
func ParseThreshold(s string) (Threshold, error) {
	s = strings.TrimSpace(s)
	bad := Errorf(EINVALID, "threshold %q: want a count of requests (10) or a percentage of the edge requests (0.5%%)", s)
	num, pct := strings.CutSuffix(s, "%")
	whole, frac, hasFrac := strings.Cut(num, ".")
	if whole == "" || len(frac) > 2 || hasFrac && (!pct || frac == "") || !digitsOnly(whole) || !digitsOnly(frac) || len(whole) > 12 {
		return Threshold{}, bad
	}
	n, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return Threshold{}, bad
	}
	if !pct {
		return Threshold{Count: n}, nil
	}
	for len(frac) < 2 {
		frac += "0"
	}
	f, _ := strconv.ParseInt(frac, 10, 64)
	return Threshold{Percent: true, BasisPoints: n*100 + f}, nil
}

func digitsOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// String returns the threshold as ParseThreshold reads it.
func (t Threshold) String() string {
	if !t.Percent {
		return strconv.FormatInt(t.Count, 10)
	}
	s := strconv.FormatInt(t.BasisPoints/100, 10)
	if f := t.BasisPoints % 100; f != 0 {
		s += "." + strings.TrimRight(strconv.FormatInt(100+f, 10)[1:], "0")
	}
	return s + "%"
}

// Exceeds reports whether the row's unexplained difference is larger
// than the threshold.
func (t Threshold) Exceeds(r *ReconcileRow) bool {
	u := r.Unexplained()
	if u < 0 {
		u = -u
	}
	if !t.Percent {
		return u > t.Count
	}
	base := r.EdgeRequests
	if base == 0 {
		base = r.OriginRequests
	}
	return u*10000 > t.BasisPoints*base
}
