package cloudfront

import (
	"bytes"
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
		return fieldError(keymeter.FieldRequestID, ErrMissingField, ev.Fields[keymeter.FieldRequestID], "")
	}
	return ParseNumbers(ev)
}

// ParseNumbers fills ev's numeric members (Status, BytesSent,
// BytesReceived, ContentLen, RangeStart, RangeEnd, ClientPort,
// FLEEncrypted, TimeTaken, TimeToFirstByte) from its raw fields, leaving
// -1 where a field is absent, empty or "-". It does not touch Time. The
// fields have the same names and syntax in standard and real-time logs,
// so both parsers use it.
//
// What is accepted: sc-status, 1 to 3 digits ("000" and "0" are a viewer
// that went away); byte counts, lengths and ranges, any whole number up
// to 2^63-1; c-port and fle-encrypted-fields, up to 2^31-1; time-taken
// and time-to-first-byte, seconds with or without decimals ("0.082",
// "12", ".5"), rounded half up to the millisecond, up to 2147483.647.
// Leading zeros are allowed everywhere. A bad value yields a
// *keymeter.ParseError naming the field, with ErrBadNumber and what is
// wrong with it ("negative", "not a whole number", ...).
func ParseNumbers(ev *keymeter.Event) error {
	if v := ev.Fields[keymeter.FieldStatus]; !isNull(v) {
		n, ok := lex.Digits(v)
		if !ok || len(v) > 3 {
			return numberError(keymeter.FieldStatus, v, true, "a status has 1 to 3 digits")
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
				n, ok = lex.Int(v) // leading zeros, or 19 digits
			}
			if !ok {
				return numberError(c.f, v, true, "larger than 9223372036854775807")
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
			if !ok {
				n, ok = lex.Int(v) // leading zeros, or 19 digits
			}
			if !ok || n > 1<<31-1 {
				return numberError(c.f, v, true, "larger than 2147483647")
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
				return numberError(c.f, v, false, "more than 2147483.647 seconds")
			}
			*c.dst = ms
		}
	}
	return nil
}

// numberError reports a bad number in field f: what lex.NumberProblem
// finds wrong with v, or tooBig when v is a well-formed number (a whole
// one, if whole is set) out of range.
func numberError(f keymeter.Field, v []byte, whole bool, tooBig string) error {
	why := lex.NumberProblem(v, whole)
	if why == "" {
		why = tooBig
	}
	return fieldError(f, ErrBadNumber, v, why)
}

// fieldError reports a bad value of field f, quoting (the start of) it,
// and saying why it is bad.
func fieldError(f keymeter.Field, err error, v []byte, why string) error {
	return &keymeter.ParseError{Field: FieldName(f), Err: BadValue(err, v, why)}
}

// BadValue returns err, wrapped with (the start of) the value v, quoted,
// and why it is bad: `not a valid number: "12x4" (not a decimal number)`.
// For reject reasons of fields that the standard and the real-time
// parser share.
func BadValue(err error, v []byte, why string) error {
	if len(v) > 40 {
		v = append(v[:40:40], "..."...)
	}
	if why == "" {
		return fmt.Errorf("%w: %q", err, v)
	}
	return fmt.Errorf("%w: %q (%s)", err, v, why)
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
			return fieldError(keymeter.FieldDate, ErrBadTime, d, dateProblem(d))
		}
		secs, ok := parseClock(t)
		if !ok {
			return fieldError(keymeter.FieldTime, ErrBadTime, t, clockProblem(t))
		}
		ev.Time = (days*86400 + secs) * 1e6
		return nil
	}
	ts := ev.Fields[keymeter.FieldTimestamp]
	us, ok := ParseEpoch(ts)
	if !ok {
		return fieldError(keymeter.FieldTimestamp, ErrBadTime, ts, EpochProblem(ts))
	}
	ev.Time = us
	return nil
}

// ParseSeconds parses a non-negative decimal number of seconds ("0.082",
// "12", "1.5", ".5", leading zeros allowed) into milliseconds, rounding
// half up beyond the third decimal, up to 2147483.647 seconds.
func ParseSeconds(b []byte) (int32, bool) {
	if n := len(b); n >= 5 && n <= 10 && b[n-4] == '.' { // what CloudFront writes: "0.082"
		whole, ok1 := lex.Digits(b[:n-4])
		frac, ok2 := lex.Digits(b[n-3:])
		if ok1 && ok2 && whole <= 2147483 && whole*1000+frac <= 1<<31-1 {
			return int32(whole*1000 + frac), true
		}
	}
	ms, ok := lex.Decimal(b, 3, true)
	if !ok || ms > 1<<31-1 {
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

// dateProblem says why ParseDate rejects b.
func dateProblem(b []byte) string {
	if len(b) != 10 || b[4] != '-' || b[7] != '-' {
		return "want YYYY-MM-DD"
	}
	y, ok1 := lex.Digits(b[0:4])
	_, ok2 := lex.Digits(b[5:7])
	_, ok3 := lex.Digits(b[8:10])
	switch {
	case !ok1 || !ok2 || !ok3:
		return "want YYYY-MM-DD"
	case y < 1970:
		return "before 1970"
	}
	return "no such day"
}

// ParseEpoch parses a Unix timestamp into microseconds: seconds with an
// optional fraction ("1671005351.148", real-time logs; up to 9
// decimals, cut to the microsecond) or, for a whole number of 13 or more
// digits (leading zeros aside), milliseconds ("1671005351148", the
// timestamp(ms) of standard logging v2). Times after 9999-12-31 are
// rejected.
func ParseEpoch(b []byte) (int64, bool) {
	const maxSeconds = 253402300799   // 9999-12-31T23:59:59Z
	if len(b) == 14 && b[10] == '.' { // what real-time logs write: "1671005351.148"
		secs, ok1 := lex.Digits(b[:10])
		ms, ok2 := lex.Digits(b[11:])
		if ok1 && ok2 {
			return secs*1e6 + ms*1000, true
		}
	}
	dot := bytes.IndexByte(b, '.')
	if dot < 0 {
		n, ok := lex.Int(b)
		switch {
		case !ok:
			return 0, false
		case significantDigits(b) >= 13:
			if n > maxSeconds*1000+999 {
				return 0, false
			}
			return n * 1000, true
		case n > maxSeconds:
			return 0, false
		}
		return n * 1e6, true
	}
	if significantDigits(b[:dot]) >= 13 || len(b)-dot-1 > 9 {
		return 0, false
	}
	us, ok := lex.Decimal(b, 6, false)
	if !ok || us > maxSeconds*1e6+999999 {
		return 0, false
	}
	return us, true
}

// EpochProblem says why ParseEpoch rejects b, for a reject reason.
func EpochProblem(b []byte) string {
	if isNull(b) {
		return "missing"
	}
	if why := lex.NumberProblem(b, false); why != "" {
		return why
	}
	dot := bytes.IndexByte(b, '.')
	switch {
	case dot >= 0 && significantDigits(b[:dot]) >= 13:
		return "milliseconds with a fraction"
	case dot >= 0 && len(b)-dot-1 > 9:
		return "more than 9 decimals"
	}
	return "after 9999-12-31"
}

// significantDigits returns the number of digits of b after its leading
// zeros.
func significantDigits(b []byte) int {
	for len(b) > 0 && b[0] == '0' {
		b = b[1:]
	}
	return len(b)
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

// clockProblem says why parseClock rejects b.
func clockProblem(b []byte) string {
	if len(b) != 8 || b[2] != ':' || b[5] != ':' {
		return "want HH:MM:SS"
	}
	for _, i := range [...]int{0, 1, 3, 4, 6, 7} {
		if !lex.IsDigit(b[i]) {
			return "want HH:MM:SS"
		}
	}
	return "no such time of day"
}
