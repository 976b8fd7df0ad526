package keymeter

import "time"

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
	Source   Source // only this source; SourceUnknown means all
	Customer string // only this customer, when set
}

// GroupValue is one group column of a usage row; Null for unattributed
// customers and keys, and for values the log did not carry.
type GroupValue struct {
	Value string
	Null  bool
}

// UsageRow is the usage of one group.
type UsageRow struct {
	Group         []GroupValue // one per UsageQuery.By, in order
	Requests      int64
	BytesSent     int64 // sc-bytes
	BytesReceived int64 // cs-bytes
	TimeTaken     Latency
}

// Latency summarises time-taken over the requests that logged it. All
// values are milliseconds; percentiles are exact (nearest rank).
type Latency struct {
	Count         int64 // requests with a time-taken
	Sum           int64 // sum of time-taken
	P50, P95, P99 int64
}
