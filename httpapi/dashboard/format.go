package dashboard

import (
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/billing"
)

// Every number a page shows is printed here, from its exact value.

// group puts thousands separators in the integer part of a decimal:
// "-1234567.5" becomes "-1,234,567.5".
func group(s string) string {
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	intPart, frac, hasFrac := strings.Cut(s, ".")
	if len(intPart) <= 3 {
		return sign + s
	}
	var b strings.Builder
	b.WriteString(sign)
	head := len(intPart) % 3
	b.WriteString(intPart[:head])
	for i := head; i < len(intPart); i += 3 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(intPart[i : i+3])
	}
	if hasFrac {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return b.String()
}

// count formats an exact count: 1,234,567.
func count(v keymeter.Int128) string { return group(v.String()) }

// count64 formats an int64 count.
func count64(v int64) string { return group(strconv.FormatInt(v, 10)) }

// byteUnits are the decimal (SI) units of bytes.
var byteUnits = []string{"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB", "RB", "QB"}

// humanBytes formats bytes in the largest SI unit that keeps a value of
// at least 1, to one decimal, rounded half up: "181.6 MB".
func humanBytes(v keymeter.Int128) string {
	n := v.Big()
	neg := n.Sign() < 0
	n.Abs(n)
	unit := 0
	scale := big.NewInt(1)
	thousand := big.NewInt(1000)
	for unit < len(byteUnits)-1 {
		next := new(big.Int).Mul(scale, thousand)
		if n.Cmp(next) < 0 {
			break
		}
		scale, unit = next, unit+1
	}
	var s string
	if unit == 0 {
		s = n.String() + " B"
	} else {
		tenths := roundDiv(new(big.Int).Mul(n, big.NewInt(10)), scale)
		s = decimalString(tenths, 1) + " " + byteUnits[unit]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// roundDiv returns num/den rounded half away from zero; den > 0.
func roundDiv(num, den *big.Int) *big.Int {
	q, r := new(big.Int).QuoRem(num, den, new(big.Int))
	r.Abs(r).Lsh(r, 1)
	if r.Cmp(den) >= 0 {
		if num.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	return q
}

// decimalString formats v × 10^-places: decimalString(1234, 1) is
// "123.4".
func decimalString(v *big.Int, places int) string {
	s := new(big.Int).Abs(v).String()
	if places > 0 {
		if len(s) <= places {
			s = strings.Repeat("0", places-len(s)+1) + s
		}
		s = s[:len(s)-places] + "." + s[len(s)-places:]
	}
	if v.Sign() < 0 {
		s = "-" + s
	}
	return s
}

// ratioBasisPoints returns num/den in hundredths of a percent, rounded
// half up; 0 when den is 0.
func ratioBasisPoints(num, den keymeter.Int128) int64 {
	if den.Sign() == 0 {
		return 0
	}
	bp := roundDiv(new(big.Int).Mul(num.Big(), big.NewInt(10000)), den.Big())
	if !bp.IsInt64() {
		return 0
	}
	return bp.Int64()
}

// basisPoints formats hundredths of a percent as a percentage: "83.42".
func basisPoints(bp int64) string { return decimalString(big.NewInt(bp), 2) }

// ratio formats num/den as a percentage with two decimals, "83.42%", or
// "—" when den is 0.
func ratio(num, den keymeter.Int128) string {
	if den.Sign() == 0 {
		return "—"
	}
	return basisPoints(ratioBasisPoints(num, den)) + "%"
}

// money formats an amount of minor units in major units with thousands
// separators: "1,234.56".
func money(c billing.Currency, minor billing.Decimal) string { return group(c.Format(minor)) }

// decimal formats a quantity with thousands separators.
func decimal(d billing.Decimal) string { return group(d.String()) }

// dateText formats the UTC date of t: 2025-10-01.
func dateText(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format(time.DateOnly)
}

// timeText formats t in UTC to the second: 2025-11-02 09:14:11 UTC.
func timeText(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05") + " UTC"
}

// lastDay returns the date of the last day of [From, To), the day before
// To's when To is a midnight.
func lastDay(r Range) string {
	if r.To.IsZero() {
		return "—"
	}
	return dateText(r.To.Add(-time.Nanosecond))
}

// durationText formats a lag rounded to the second: "3m12s", "0s".
func durationText(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	if d < time.Second {
		if d == 0 {
			return "0s"
		}
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// groupLabel names a group for people: its value, or (none) for a null.
func groupLabel(g keymeter.GroupValue) string {
	if g.Null {
		return "(none)"
	}
	return g.Value
}
