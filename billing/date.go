package billing

import (
	"fmt"
	"strconv"
	"time"

	"github.com/keymeter/keymeter"
)

// Date is a calendar date with no time zone: a customer's start date is a
// date in the customer's billing time zone, and becomes an instant only
// with one.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// ParseDate parses a date in the form 2006-01-02.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, keymeter.Errorf(keymeter.EINVALID, "%q is not a date (want YYYY-MM-DD)", s)
	}
	return DateOf(t), nil
}

// DateOf returns the date of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// String returns the date as 2006-01-02.
func (d Date) String() string {
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day)
}

// MarshalJSON encodes the date as "2006-01-02".
func (d Date) MarshalJSON() ([]byte, error) {
	return strconv.AppendQuote(nil, d.String()), nil
}

// UnmarshalJSON decodes a date written by MarshalJSON.
func (d *Date) UnmarshalJSON(b []byte) error {
	s, err := strconv.Unquote(string(b))
	if err != nil {
		return keymeter.Errorf(keymeter.EINVALID, "%s is not a date string", b)
	}
	v, err := ParseDate(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// IsZero reports whether d is the zero Date.
func (d Date) IsZero() bool { return d == Date{} }

// In returns midnight at the start of d in loc.
func (d Date) In(loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
}

// Before reports whether d is before e.
func (d Date) Before(e Date) bool { return d.days() < e.days() }

// days returns the number of days since 1970-01-01.
func (d Date) days() int64 {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// DaysUntil returns the number of calendar days from d to e (e − d).
// Calendar days do not depend on a time zone: a day with a daylight
// saving change is still one day.
func (d Date) DaysUntil(e Date) int { return int(e.days() - d.days()) }

// addMonths returns the date n months after d on the same day of the
// month, or on the month's last day when the month is shorter: Jan 31 + 1
// month is Feb 28 (Feb 29 in a leap year), + 2 months is Mar 31.
func (d Date) addMonths(n int) Date {
	first := time.Date(d.Year, d.Month+time.Month(n), 1, 0, 0, 0, 0, time.UTC)
	y, m := first.Year(), first.Month()
	day := min(d.Day, daysIn(y, m))
	return Date{y, m, day}
}

// daysIn returns the number of days in month m of year y.
func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// monthsBetween returns the number of month boundaries from the month of
// d to the month of e: 0 for the same month, 1 for the next.
func monthsBetween(d, e Date) int {
	return (e.Year-d.Year)*12 + int(e.Month) - int(d.Month)
}
