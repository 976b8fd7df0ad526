package cloudfront

import (
	"fmt"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/format/internal/lex"
)

// parseTyped fills ev's typed members from its raw fields and checks the
// fields a record cannot do without.
func parseTyped(ev *keymeter.Event) error {
	if err := parseTime(ev); err != nil {
		return err
	}
	if len(ev.Value(keymeter.FieldRequestID)) == 0 {
		return fieldError(keymeter.FieldRequestID, ErrMissingField, ev.Fields[keymeter.FieldRequestID])
	}
	return ParseNumbers(ev)
}

// ParseNumbers fills ev's numeric members (Status, BytesSent,
// BytesReceived, ContentLen, RangeStart, RangeEnd, ClientPort,
// FLEEncrypted, TimeTaken, TimeToFirstByte) from its raw fields, leaving
// -1 where a field is absent or "-". It does not touch Time. The fields
// have the same names and syntax in standard and real-time logs, so both
// parsers use it. A bad value yields a *keymeter.ParseError naming the
// field, with ErrBadNumber.
func ParseNumbers(ev *keymeter.Event) error {
	if v := ev.Fields[keymeter.FieldStatus]; !isNull(v) {
		n, ok := lex.Uint(v)
		if !ok || len(v) != 3 {
			return fieldError(keymeter.FieldStatus, ErrBadNumber, v)
		}
		ev.Status = int32(n)
	}
	ints := [...]struct {
		f   keymeter.Field
		dst *int64
	}{
		{keymeter.FieldBytesSent, &ev.BytesSent},
		{keymeter.FieldBytesReceived, &ev.BytesReceived},
		{keymeter.FieldContentLen, &ev.ContentLen},
		{keymeter.FieldRangeStart, &ev.RangeStart},
		{keymeter.FieldRangeEnd, &ev.RangeEnd},
	}
	for _, c := range ints {
		if v := ev.Fields[c.f]; !isNull(v) {
			n, ok := lex.Uint(v)
			if !ok {
				return fieldError(c.f, ErrBadNumber, v)
			}
			*c.dst = n
		}
	}
	small := [...]struct {
		f   keymeter.Field
		dst *int32
	}{
		{keymeter.FieldClientPort, &ev.ClientPort},
		{keymeter.FieldFLEEncryptedFields, &ev.FLEEncrypted},
	}
	for _, c := range small {
		if v := ev.Fields[c.f]; !isNull(v) {
			n, ok := lex.Uint(v)
			if !ok || n > 1<<31-1 {
				return fieldError(c.f, ErrBadNumber, v)
			}
			*c.dst = int32(n)
		}
	}
	secs := [...]struct {
		f   keymeter.Field
		dst *int32
	}{
		{keymeter.FieldTimeTaken, &ev.TimeTaken},
		{keymeter.FieldTimeToFirstByte, &ev.TimeToFirstByte},
	}
	for _, c := range secs {
		if v := ev.Fields[c.f]; !isNull(v) {
			ms, ok := ParseSeconds(v)
			if !ok {
				return fieldError(c.f, ErrBadNumber, v)
			}
			*c.dst = ms
		}
	}
	return nil
}

// fieldError reports a bad value of field f, quoting (the start of) it.
func fieldError(f keymeter.Field, err error, v []byte) error {
	if len(v) > 40 {
		v = append(v[:40:40], "..."...)
	}
	return &keymeter.ParseError{Field: FieldName(f), Err: fmt.Errorf("%w: %q", err, v)}
}

// isNull reports whether a raw value means "no value": "-" or absent.
func isNull(v []byte) bool {
	return len(v) == 0 || len(v) == 1 && v[0] == '-'
}

// parseTime sets ev.Time from date and time, or from timestamp.
func parseTime(ev *keymeter.Event) error {
	d, t := ev.Fields[keymeter.FieldDate], ev.Fields[keymeter.FieldTime]
	if d != nil || t != nil {
		days, ok := ParseDate(d)
		if !ok {
			return fieldError(keymeter.FieldDate, ErrBadTime, d)
		}
		secs, ok := parseClock(t)
		if !ok {
			return fieldError(keymeter.FieldTime, ErrBadTime, t)
		}
		ev.Time = (days*86400 + secs) * 1e6
		return nil
	}
	us, ok := ParseEpoch(ev.Fields[keymeter.FieldTimestamp])
	if !ok {
		return fieldError(keymeter.FieldTimestamp, ErrBadTime, ev.Fields[keymeter.FieldTimestamp])
	}
	ev.Time = us
	return nil
}

// ParseSeconds parses a non-negative decimal number of seconds ("0.082",
// "12", "1.5") into milliseconds, rounding half up beyond the third
// decimal.
func ParseSeconds(b []byte) (int32, bool) {
	i := 0
	var whole int64
	for ; i < len(b) && b[i] != '.'; i++ {
		c := b[i]
		if c < '0' || c > '9' || i >= 9 {
			return 0, false
		}
		whole = whole*10 + int64(c-'0')
	}
	if i == 0 {
		return 0, false
	}
	ms := whole * 1000
	if i < len(b) { // fraction
		frac := b[i+1:]
		if len(frac) == 0 {
			return 0, false
		}
		scale := int64(100)
		for j, c := range frac {
			if c < '0' || c > '9' {
				return 0, false
			}
			switch {
			case j < 3:
				ms += int64(c-'0') * scale
				scale /= 10
			case j == 3 && c >= '5':
				ms++
			}
		}
	}
	if ms > 1<<31-1 {
		return 0, false
	}
	return int32(ms), true
}

// ParseDate parses YYYY-MM-DD, from 1970 on, into days since 1970-01-01.
func ParseDate(b []byte) (int64, bool) {
	if len(b) != 10 || b[4] != '-' || b[7] != '-' {
		return 0, false
	}
	y, ok1 := lex.Digits(b[0:4])
	m, ok2 := lex.Digits(b[5:7])
	d, ok3 := lex.Digits(b[8:10])
	if !ok1 || !ok2 || !ok3 || y < 1970 || m < 1 || m > 12 || d < 1 || d > lex.DaysIn(y, m) {
		return 0, false
	}
	return lex.DaysFromCivil(y, m, d), true
}

// parseClock parses HH:MM:SS into seconds since midnight.
func parseClock(b []byte) (int64, bool) {
	if len(b) != 8 || b[2] != ':' || b[5] != ':' {
		return 0, false
	}
	h, ok1 := lex.Digits(b[0:2])
	m, ok2 := lex.Digits(b[3:5])
	s, ok3 := lex.Digits(b[6:8])
	if !ok1 || !ok2 || !ok3 || h > 23 || m > 59 || s > 59 {
		return 0, false
	}
	return h*3600 + m*60 + s, true
}

// ParseEpoch parses a Unix timestamp into microseconds: seconds with an
// optional fraction ("1671005351.148", real-time logs) or, for a whole
// number of 13 or more digits, milliseconds ("1671005351148").
func ParseEpoch(b []byte) (int64, bool) {
	dot := len(b)
	for i, c := range b {
		if c == '.' {
			dot = i
			break
		}
	}
	const maxSeconds = 253402300799 // 9999-12-31T23:59:59Z
	whole, ok := lex.Uint(b[:dot])
	if !ok {
		return 0, false
	}
	if dot == len(b) {
		if dot >= 13 {
			if whole > maxSeconds*1000+999 {
				return 0, false
			}
			return whole * 1000, true
		}
		if whole > maxSeconds {
			return 0, false
		}
		return whole * 1e6, true
	}
	if whole > maxSeconds {
		return 0, false
	}
	frac := b[dot+1:]
	if len(frac) == 0 || len(frac) > 9 || dot > 11 {
		return 0, false
	}
	us := whole * 1e6
	scale := int64(100000)
	for _, c := range frac {
		if c < '0' || c > '9' {
			return 0, false
		}
		us += int64(c-'0') * scale
		scale /= 10
	}
	return us, true
}
