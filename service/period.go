package service

import (
	"strings"
	"time"

	"github.com/keymeter/keymeter"
)

// Period returns the half-open period [from, to) that a query names,
// in UTC. Without from it is the month of now (UTC); without to it ends
// with the month from is in (or, for a from that is not a month's first
// instant, one month after from). Each bound is a date (UTC midnight), a
// month (its first day) or an RFC 3339 time (see ParseInstant). It
// returns an EINVALID error, naming --from or --to, for a bound it
// cannot read or a period that is empty.
func Period(from, to string, now time.Time) (time.Time, time.Time, error) {
	var f, t time.Time
	var err error
	if from == "" {
		now = now.UTC()
		f = time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	} else if f, err = ParseInstant(from, "--from"); err != nil {
		return f, t, err
	}
	if to == "" {
		t = f.AddDate(0, 1, 0)
		if f.Day() == 1 && f.Hour() == 0 && f.Minute() == 0 && f.Second() == 0 && f.Nanosecond() == 0 {
			t = time.Date(f.Year(), f.Month()+1, 1, 0, 0, 0, 0, time.UTC)
		}
	} else if t, err = ParseInstant(to, "--to"); err != nil {
		return f, t, err
	}
	if !f.Before(t) {
		return f, t, keymeter.Errorf(keymeter.EINVALID, "--from %s is not before --to %s", f.Format(time.RFC3339), t.Format(time.RFC3339))
	}
	return f, t, nil
}

// ParseInstant parses a date (UTC midnight), a month (its first day) or
// an RFC 3339 time (also without seconds or zone: UTC). It returns an
// EINVALID error that names what was parsed (name: "--from", "from").
func ParseInstant(s, name string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"2006-01-02", "2006-01", time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, keymeter.Errorf(keymeter.EINVALID, "%s %q: want a date (2025-10-01), a month (2025-10) or an RFC 3339 time (2025-10-01T12:00:00Z)", name, s)
}
