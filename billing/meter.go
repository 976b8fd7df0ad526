package billing

import (
	"math/big"
	"strconv"

	"github.com/keymeter/keymeter"
)

// Measure is what a meter counts.
type Measure = keymeter.Measure

// Measures.
const (
	MeasureRequests      = keymeter.MeasureRequests      // one per logged request
	MeasureBytesSent     = keymeter.MeasureBytesSent     // sc-bytes: response bytes, headers included
	MeasureBytesReceived = keymeter.MeasureBytesReceived // cs-bytes: request bytes, headers included
)

// Unit is the unit a meter's quantity is priced in. Requests are priced
// per request. Bytes are priced per byte or per a named multiple whose
// size is stated, never guessed: "GB" is 10^9 or 2^30 bytes as the config
// says, "GiB" is always 2^30.
type Unit struct {
	Name  string `json:"name"`  // "request", "byte", "GB", "GiB", ...
	Bytes int64  `json:"bytes"` // bytes per unit; 1 for requests and bytes
}

// byteUnits lists the byte-multiple names with their exponent k: the unit
// is 1000^k or 1024^k bytes.
var byteUnits = map[string]struct {
	k      int
	binary bool // IEC name: only 1024^k
}{
	"byte": {0, false},
	"KB":   {1, false}, "MB": {2, false}, "GB": {3, false}, "TB": {4, false}, "PB": {5, false},
	"KiB": {1, true}, "MiB": {2, true}, "GiB": {3, true}, "TiB": {4, true}, "PiB": {5, true},
}

// Meter says what is counted, from which log, and which requests count.
type Meter struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Measure     Measure         `json:"measure"`
	Source      keymeter.Source `json:"source"`
	Unit        Unit            `json:"unit"`
	Filter      MeterFilter     `json:"filter"`
	// StripeEventName is the event_name of the meter's Stripe meter
	// events; the meter's name by default.
	StripeEventName string `json:"stripe_event_name"`
}

// Quantity converts a raw count (requests, or bytes) to the meter's unit,
// exactly: 1,500,000,000 bytes is "1.5" GB when a GB is 10^9 bytes, and
// "1.3969838619232177734375" GB when it is 2^30. Unit sizes are powers
// of 1000 or 1024, whose reciprocals are finite decimals. A raw total
// is exact however large (see keymeter.Int128).
func (m *Meter) Quantity(raw keymeter.Int128) Decimal {
	return exactDiv(raw, m.Unit.Bytes)
}

// exactDiv returns raw / div for a div with no prime factors but 2 and 5,
// exactly, without trailing zeros.
func exactDiv(raw keymeter.Int128, div int64) Decimal {
	if div <= 1 {
		return decimalOf(raw.Big(), 0)
	}
	twos, fives := 0, 0
	for n := div; n > 1; {
		switch {
		case n%2 == 0:
			n /= 2
			twos++
		case n%5 == 0:
			n /= 5
			fives++
		default:
			panic("billing: unit size " + strconv.FormatInt(div, 10) + " is not 2^a·5^b")
		}
	}
	// raw / (2^a 5^b) = raw · 2^(s-a) 5^(s-b) / 10^s with s = max(a, b).
	s := max(twos, fives)
	c := raw.Big()
	c.Mul(c, new(big.Int).Exp(big.NewInt(2), big.NewInt(int64(s-twos)), nil))
	c.Mul(c, new(big.Int).Exp(big.NewInt(5), big.NewInt(int64(s-fives)), nil))
	return decimalOf(c, int32(s)).Reduce()
}

// Spec returns what a store totals for the meter.
func (m *Meter) Spec() keymeter.MeterSpec {
	return keymeter.MeterSpec{Name: m.Name, Measure: m.Measure, Filter: m.Filter.Events()}
}
