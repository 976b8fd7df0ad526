package billing

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/keymeter/keymeter"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func mustDate(t *testing.T, s string) Date {
	t.Helper()
	d, err := ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestCalendarPeriodTimeZones(t *testing.T) {
	start := Date{2024, time.January, 1}
	ny := &Assignment{Customer: "ny", Start: start, Location: mustLoc(t, "America/New_York")}
	u := &Assignment{Customer: "utc", Start: start}

	for _, tt := range []struct {
		a          *Assignment
		month      string
		start, end string
		days       int
	}{
		{u, "2025-10", "2025-10-01T00:00:00Z", "2025-11-01T00:00:00Z", 31},
		// EDT (UTC-4) at both ends.
		{ny, "2025-10", "2025-10-01T04:00:00Z", "2025-11-01T04:00:00Z", 31},
		// DST ends on Nov 2: the month ends in EST (UTC-5) and is an hour
		// longer, but still 30 days.
		{ny, "2025-11", "2025-11-01T04:00:00Z", "2025-12-01T05:00:00Z", 30},
		// DST starts on Mar 9.
		{ny, "2025-03", "2025-03-01T05:00:00Z", "2025-04-01T04:00:00Z", 31},
		{u, "2024-02", "2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z", 29},
		{u, "2025-12", "2025-12-01T00:00:00Z", "2026-01-01T00:00:00Z", 31},
	} {
		p, err := PeriodFor(tt.a, tt.month)
		if err != nil {
			t.Fatalf("%s %s: %v", tt.a.Customer, tt.month, err)
		}
		if !p.Start.Equal(utc(tt.start)) || !p.End.Equal(utc(tt.end)) || p.Days != tt.days || p.Month != tt.month {
			t.Errorf("%s %s = [%s, %s) %d days (%s), want [%s, %s) %d days", tt.a.Customer, tt.month,
				p.Start.Format(time.RFC3339), p.End.Format(time.RFC3339), p.Days, p.Month, tt.start, tt.end, tt.days)
		}
		if p.Start.Location() != time.UTC || p.End.Location() != time.UTC {
			t.Errorf("%s %s: bounds not in UTC", tt.a.Customer, tt.month)
		}
		if p.Prorated() {
			t.Errorf("%s %s: prorated", tt.a.Customer, tt.month)
		}
	}

	// The same instant, 2025-11-01 02:00 UTC, is still October in New
	// York (22:00 EDT on Oct 31) and already November in UTC.
	at := utc("2025-11-01T02:00:00Z")
	if p, err := PeriodAt(ny, at); err != nil || p.Month != "2025-10" {
		t.Errorf("PeriodAt(ny, %s) = %s, %v; want 2025-10", at, p.Month, err)
	}
	if p, err := PeriodAt(u, at); err != nil || p.Month != "2025-11" {
		t.Errorf("PeriodAt(utc, %s) = %s, %v; want 2025-11", at, p.Month, err)
	}
	// End is exclusive: the first instant of November is November.
	if p, _ := PeriodAt(ny, utc("2025-11-01T04:00:00Z")); p.Month != "2025-11" {
		t.Errorf("PeriodAt(ny, Nov 1 00:00 EDT) = %s, want 2025-11", p.Month)
	}
	if p, _ := PeriodAt(ny, utc("2025-11-01T03:59:59Z")); p.Month != "2025-10" {
		t.Errorf("PeriodAt(ny, Oct 31 23:59:59 EDT) = %s, want 2025-10", p.Month)
	}
}

func TestCalendarFirstPeriodIsPartial(t *testing.T) {
	a := &Assignment{Customer: "late", Start: Date{2025, time.October, 31}}
	p, err := PeriodFor(a, "2025-10")
	if err != nil {
		t.Fatal(err)
	}
	if !p.Prorated() || p.Days != 31 || p.ActiveDays != 1 || !p.ActiveStart.Equal(utc("2025-10-31T00:00:00Z")) {
		t.Errorf("got %+v", p)
	}
	p, err = PeriodFor(a, "2025-11")
	if err != nil || p.Prorated() || p.ActiveDays != 30 || !p.ActiveStart.Equal(p.Start) {
		t.Errorf("second period = %+v, %v", p, err)
	}
	if _, err := PeriodFor(a, "2025-09"); keymeter.ErrorCode(err) != keymeter.EINVALID {
		t.Errorf("period before the start: err = %v, want EINVALID", err)
	}
	if _, err := PeriodAt(a, utc("2025-10-30T23:59:59Z")); keymeter.ErrorCode(err) != keymeter.EINVALID {
		t.Errorf("instant before the start: err = %v, want EINVALID", err)
	}
	for _, bad := range []string{"2025-13", "2025-1", "October", ""} {
		if _, err := PeriodFor(a, bad); keymeter.ErrorCode(err) != keymeter.EINVALID {
			t.Errorf("PeriodFor(%q): err = %v, want EINVALID", bad, err)
		}
	}
}

// Anniversary periods from Jan 31 end on the last day of shorter months
// and return to the 31st after them, in leap and common years.
func TestAnniversaryFromJan31(t *testing.T) {
	for _, tt := range []struct {
		start  string
		bounds []string // period starts; an end is checked when the next one follows it
	}{
		{"2025-01-31", []string{"2025-01-31", "2025-02-28", "2025-03-31", "2025-04-30", "2025-05-31", "2025-06-30"}},
		{"2024-01-31", []string{"2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30"}},
		{"2024-02-29", []string{"2024-02-29", "2024-03-29", "2024-04-29", "2025-01-29", "2025-02-28", "2025-03-29"}},
		{"2025-03-15", []string{"2025-03-15", "2025-04-15"}},
	} {
		a := &Assignment{Customer: "c", Start: mustDate(t, tt.start), Periods: Anniversary}
		for i := 0; i+1 < len(tt.bounds); i++ {
			from, to := mustDate(t, tt.bounds[i]), mustDate(t, tt.bounds[i+1])
			month := from.String()[:7]
			p, err := PeriodFor(a, month)
			if err != nil {
				t.Fatalf("start %s, %s: %v", tt.start, month, err)
			}
			if p.StartDate != from {
				t.Errorf("start %s, period %s starts %s, want %s", tt.start, month, p.StartDate, from)
			}
			if monthsBetween(from, to) == 1 && p.EndDate != to {
				t.Errorf("start %s, period %s ends %s, want %s", tt.start, month, p.EndDate, to)
			}
			if p.Days != p.StartDate.DaysUntil(p.EndDate) || p.Prorated() {
				t.Errorf("start %s, period %s: days %d active %d", tt.start, month, p.Days, p.ActiveDays)
			}
			// The period containing its own first and last instants is
			// itself.
			for _, at := range []time.Time{p.Start, p.End.Add(-time.Nanosecond)} {
				q, err := PeriodAt(a, at)
				if err != nil || q != p {
					t.Errorf("start %s: PeriodAt(%s) = %s, %v; want %s", tt.start, at, q.StartDate, err, p.StartDate)
				}
			}
		}
	}
}

func TestAnniversaryInTimeZone(t *testing.T) {
	a := &Assignment{Customer: "c", Start: Date{2025, time.January, 31}, Periods: Anniversary, Location: mustLoc(t, "America/New_York")}
	p, err := PeriodFor(a, "2025-02")
	if err != nil {
		t.Fatal(err)
	}
	if !p.Start.Equal(utc("2025-02-28T05:00:00Z")) || !p.End.Equal(utc("2025-03-31T04:00:00Z")) || p.Days != 31 {
		t.Errorf("got [%s, %s) %d days", p.Start, p.End, p.Days)
	}
	// Feb 28 03:00 UTC is Feb 27 in New York: the January period.
	if q, _ := PeriodAt(a, utc("2025-02-28T03:00:00Z")); q.Month != "2025-01" {
		t.Errorf("PeriodAt = %s, want 2025-01", q.Month)
	}
}

// A period survives a JSON round trip: invoices are stored as JSON and
// rendered from it.
func TestPeriodJSONRoundTrip(t *testing.T) {
	a := &Assignment{Customer: "c", Start: Date{2025, 10, 11}, Location: mustLoc(t, "America/New_York")}
	p, err := PeriodFor(a, "2025-10")
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var q Period
	if err := json.Unmarshal(b, &q); err != nil {
		t.Fatal(err)
	}
	if c, _ := json.Marshal(q); string(c) != string(b) {
		t.Errorf("round trip:\n got %s\nwant %s", c, b)
	}
	if !q.ActiveStart.Equal(p.ActiveStart) || q.ActiveFrom != p.ActiveFrom || q.Days != 31 || q.ActiveDays != 21 {
		t.Errorf("decoded %+v, want %+v", q, p)
	}
	var d Date
	if err := json.Unmarshal([]byte(`"2025-02-30"`), &d); err == nil {
		t.Errorf("2025-02-30 decoded as %v", d)
	}
}
