package dashboard

import (
	"net/http"
	"time"

	"github.com/keymeter/keymeter"
)

// CoveragePage says how complete the edge's numbers are: how much of the
// standard logs the real-time logs cover, per distribution and day, and
// up to when each source's data is believed complete. Admin only.
//
// The figures come from the join of standard and real-time logs (issue
// 10); until the server fills them the page says that coverage needs both
// logs of a distribution.
type CoveragePage struct {
	Frame
	Period     Range
	Days       []CoverageDay
	Watermarks []Watermark
	// ThresholdBasisPoints is the real-time/standard ratio, in
	// hundredths of a percent, under which a day is marked (a meter
	// billing from real-time logs under-bills then); 0 marks none.
	ThresholdBasisPoints int64
}

// CoverageDay is the coverage of one distribution on one UTC day.
type CoverageDay struct {
	Distribution string
	Day          time.Time
	// StandardRequests counts the requests of the standard log;
	// WithRealtime those of them that have a real-time record.
	StandardRequests int64
	WithRealtime     int64
	// RealtimeOnly counts real-time records still without their standard
	// line (counted once, from the real-time record, until it arrives).
	RealtimeOnly int64
	// KeysCut counts real-time records whose key header was lost to the
	// 800-byte cut of cs-headers, and KeysRecovered those of them whose
	// key was still found (in the query string).
	KeysCut       int64
	KeysRecovered int64
}

// RatioBasisPoints returns WithRealtime / StandardRequests in hundredths
// of a percent, rounded half up: the estimate of the real-time logs'
// sampling rate. ok is false without standard requests.
func (d CoverageDay) RatioBasisPoints() (bp int64, ok bool) {
	if d.StandardRequests <= 0 {
		return 0, false
	}
	return ratioBasisPoints(keymeter.NewInt128(d.WithRealtime), keymeter.NewInt128(d.StandardRequests)), true
}

// Watermark is how far one source's data is believed complete.
type Watermark struct {
	Source keymeter.Source
	// Distribution is the CloudFront distribution (or API) the watermark
	// is for; "" for the whole source.
	Distribution string
	// CompleteUntil: the data before it is believed complete.
	CompleteUntil time.Time
	// Rule says how CompleteUntil was derived, in words shown beside it
	// ("hours covered by delivered objects, less a settling delay of
	// 6h").
	Rule string
	// Provisional lists the periods that reach past CompleteUntil, whose
	// figures may still grow.
	Provisional []Range
}

func (p *CoveragePage) spec() pageSpec {
	return pageSpec{template: "coverage", charts: true, title: "Coverage", status: http.StatusOK, frame: p.Frame, nav: "coverage", admin: true, data: p}
}
