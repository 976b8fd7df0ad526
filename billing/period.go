package billing

import (
	"time"

	"github.com/keymeter/keymeter"
)

// PeriodKind says how a customer's billing periods are cut.
type PeriodKind string

// Period kinds.
const (
	// Calendar periods are calendar months in the billing time zone. A
	// customer who starts mid-month has a short first period, and its flat
	// fee is prorated by day.
	Calendar PeriodKind = "calendar"
	// Anniversary periods run from the customer's start date to the same
	// day of the next month. When that month is shorter, the period ends
	// on its last day, and the following period goes back to the start
	// day: a customer who starts on Jan 31 has periods starting Jan 31,
	// Feb 28 (29 in a leap year), Mar 31, Apr 30, May 31, ... Boundaries
	// are always computed from the start date, never from the previous
	// boundary, so they do not drift. The first period is a full one, so
	// nothing is prorated.
	Anniversary PeriodKind = "anniversary"
)

// Assignment puts a customer on a plan from a start date.
type Assignment struct {
	Customer string
	Plan     string
	// Start is the first day the customer is on the plan, in Location.
	Start Date
	// StripeCustomerID ("cus_...") is where Stripe meter events go; empty
	// when the customer is not billed through Stripe.
	StripeCustomerID string
	// Periods is how billing periods are cut; empty means Calendar.
	Periods PeriodKind
	// Location is the billing time zone; nil means UTC. Period boundaries
	// are midnights in it.
	Location *time.Location
}

func (a *Assignment) location() *time.Location {
	if a.Location == nil {
		return time.UTC
	}
	return a.Location
}

func (a *Assignment) kind() PeriodKind {
	if a.Periods == "" {
		return Calendar
	}
	return a.Periods
}

// Period is one billing period of one customer.
//
// Usage for the period is the usage in the half-open interval
// [ActiveStart, End), instants in UTC; that is what store queries use.
// Start and End bound the whole period, and Days counts its calendar
// days; ActiveStart and ActiveDays are the part the customer was on the
// plan, which differ from Start and Days only in a calendar customer's
// first period. The flat fee is prorated by ActiveDays / Days.
type Period struct {
	// Month names the period: the month it starts in, "2025-10". Each
	// month starts exactly one period of either kind.
	Month      string     `json:"month"`
	Kind       PeriodKind `json:"kind"`
	TimeZone   string     `json:"time_zone"`
	StartDate  Date       `json:"start_date"` // first day, in TimeZone
	EndDate    Date       `json:"end_date"`   // first day after the period
	Start      time.Time  `json:"start"`      // StartDate's midnight, UTC
	End        time.Time  `json:"end"`        // EndDate's midnight, UTC
	Days       int        `json:"days"`
	ActiveFrom Date       `json:"active_from"` // first day on the plan
	// ActiveStart is ActiveFrom's midnight, UTC: usage is counted from it.
	ActiveStart time.Time `json:"active_start"`
	ActiveDays  int       `json:"active_days"`
}

// Prorated reports whether the customer was on the plan for only part of
// the period.
func (p Period) Prorated() bool { return p.ActiveDays < p.Days }

// PeriodFor returns the customer's period named month ("2025-10"): the
// calendar month, or the anniversary period that starts in that month.
// It returns an EINVALID error for a malformed month or a period that
// ends before the customer's start date.
func PeriodFor(a *Assignment, month string) (Period, error) {
	t, err := time.Parse("2006-01", month)
	if err != nil {
		return Period{}, keymeter.Errorf(keymeter.EINVALID, "%q is not a billing month (want YYYY-MM)", month)
	}
	first := Date{t.Year(), t.Month(), 1}
	var start, end Date
	switch a.kind() {
	case Anniversary:
		n := monthsBetween(a.Start, first)
		start, end = a.Start.addMonths(n), a.Start.addMonths(n+1)
	default:
		start, end = first, first.addMonths(1)
	}
	if !a.Start.Before(end) {
		return Period{}, keymeter.Errorf(keymeter.EINVALID, "customer %q starts on %s, after billing period %s", a.Customer, a.Start, month)
	}
	return a.period(start, end), nil
}

// PeriodAt returns the customer's period that contains the instant t. It
// returns an EINVALID error when t is before the customer's start.
func PeriodAt(a *Assignment, t time.Time) (Period, error) {
	loc := a.location()
	d := DateOf(t.In(loc))
	if d.Before(a.Start) {
		return Period{}, keymeter.Errorf(keymeter.EINVALID, "customer %q starts on %s, after %s", a.Customer, a.Start, t.UTC().Format(time.RFC3339))
	}
	switch a.kind() {
	case Anniversary:
		n := monthsBetween(a.Start, d)
		if d.Before(a.Start.addMonths(n)) {
			n--
		}
		return a.period(a.Start.addMonths(n), a.Start.addMonths(n+1)), nil
	default:
		first := Date{d.Year, d.Month, 1}
		return a.period(first, first.addMonths(1)), nil
	}
}

// period builds the Period [start, end) for a.
func (a *Assignment) period(start, end Date) Period {
	loc := a.location()
	active := start
	if start.Before(a.Start) {
		active = a.Start
	}
	return Period{
		Month:       time.Date(start.Year, start.Month, 1, 0, 0, 0, 0, time.UTC).Format("2006-01"),
		Kind:        a.kind(),
		TimeZone:    loc.String(),
		StartDate:   start,
		EndDate:     end,
		Start:       start.In(loc).UTC(),
		End:         end.In(loc).UTC(),
		Days:        start.DaysUntil(end),
		ActiveFrom:  active,
		ActiveStart: active.In(loc).UTC(),
		ActiveDays:  active.DaysUntil(end),
	}
}
