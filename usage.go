package keymeter

import (
	"math/bits"
	"time"
)

// Dimension is a column usage can be grouped by.
type Dimension string

// Dimensions of a usage query.
const (
	DimCustomer     Dimension = "customer"
	DimAPIKey       Dimension = "api_key" // the key's fingerprint, never the key; or an origin identity (apikeyid:ID)
	DimPath         Dimension = "path"
	DimMethod       Dimension = "method"
	DimStatus       Dimension = "status"
	DimEdgeResult   Dimension = "edge_result"
	DimEdgeLocation Dimension = "edge_location"
	DimDay          Dimension = "day"   // 2006-01-02, UTC
	DimHour         Dimension = "hour"  // 2006-01-02T15:00:00Z
	DimMonth        Dimension = "month" // 2006-01, UTC
	DimSource       Dimension = "source"
	DimReason       Dimension = "unattributed_reason" // no_key, key_truncated; null when attributed
)

// Dimensions lists every dimension in documentation order.
func Dimensions() []Dimension {
	return []Dimension{DimCustomer, DimAPIKey, DimPath, DimMethod, DimStatus, DimEdgeResult,
		DimEdgeLocation, DimDay, DimHour, DimMonth, DimSource, DimReason}
}

// ParseDimension returns the dimension with the given name.
func ParseDimension(name string) (Dimension, error) {
	for _, d := range Dimensions() {
		if string(d) == name {
			return d, nil
		}
	}
	return "", Errorf(EINVALID, "unknown column %q for --by (want one of customer, api_key, path, method, status, edge_result, edge_location, day, hour, month, source, unattributed_reason)", name)
}

// UsageQuery asks for usage totals over the half-open period [From, To).
type UsageQuery struct {
	From, To time.Time
	By       []Dimension
	// Source counts only this source (SourceEdge: the join of both
	// CloudFront logs), and Sources only these, when set. With neither,
	// every stored event counts, each log's record of a request apart:
	// group by DimSource, or choose the sources (DefaultSources), to
	// count each request once.
	Source   Source
	Sources  []Source
	Customer string // only this customer, when set
}

// SourceList returns the sources q counts: Sources, else Source, else
// every stored source (Sources()).
func (q *UsageQuery) SourceList() []Source {
	switch {
	case len(q.Sources) > 0:
		return q.Sources
	case q.Source != SourceUnknown:
		return []Source{q.Source}
	}
	return Sources()
}

// GroupValue is one group column of a usage row; Null for unattributed
// customers and keys, and for values the log did not carry.
type GroupValue struct {
	Value string
	Null  bool
}

// UsageRow is the usage of one group. Totals are exact, whatever the
// values logged (see Int128).
type UsageRow struct {
	Group         []GroupValue // one per UsageQuery.By, in order
	Requests      Int128
	BytesSent     Int128 // sc-bytes
	BytesReceived Int128 // cs-bytes
	TimeTaken     Latency
}

// Latency summarises time-taken over the requests that logged it. All
// values are milliseconds. Count and Sum are exact. The percentiles are
// those of a histogram of LatencyBucket buckets: the percentile is the
// value of rank ceil(n*p) among the n values (nearest rank), reported as
// BucketValue of its bucket, so exact below 64 ms and within 1/64 (1.6%)
// above, whichever way a store computes them.
type Latency struct {
	Count         int64  // requests with a time-taken
	Sum           Int128 // sum of time-taken
	P50, P95, P99 int64
}

// Percentiles are the fractions Latency reports, as integers over 100.
var Percentiles = [3]int64{50, 95, 99}

// PercentileRank returns the 1-based rank of percentile p (over 100)
// among n values: ceil(n*p/100), at least 1.
func PercentileRank(n, p int64) int64 {
	return max(1, (n*p+99)/100)
}

// LatencyBucket returns the histogram bucket of a time-taken in
// milliseconds: the value itself below 64, and above, one of 32 buckets
// of equal width per power of two. Buckets are ordered like the values
// they hold.
func LatencyBucket(ms int64) int64 {
	if ms < 64 {
		return max(ms, 0)
	}
	e := int64(bits.Len64(uint64(ms))) - 6 // ms >> e is in [32, 64)
	return 64 + (e-1)*32 + (ms >> e) - 32
}

// BucketValue returns the value reported for a latency bucket: the
// middle of the values it holds (the value itself below 64).
func BucketValue(b int64) int64 {
	if b < 64 {
		return b
	}
	e := (b-64)/32 + 1
	lo := (32 + (b-64)%32) << e
	return lo + 1<<(e-1)
}
