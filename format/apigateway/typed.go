package apigateway

import (
	"bytes"
	"fmt"

	"github.com/keymeter/keymeter/format/internal/lex"
)

// parseEpoch parses $context.requestTimeEpoch into Unix microseconds.
// REST and WebSocket APIs document it in milliseconds; HTTP APIs only say
// "epoch-formatted". The unit is told by the number of digits, leading
// zeros aside: 13 are milliseconds and 10 are seconds (with or without a
// fraction), and the two cannot be confused for times from 2001 to 2286.
// Any other number is rejected: it is no time from 2001 to 2286 in
// either unit.
func parseEpoch(b []byte) (int64, bool) {
	if len(b) == 13 && b[0] != '0' { // milliseconds, as REST APIs log them
		n, ok := lex.Uint(b)
		return n * 1000, ok
	}
	dot := bytes.IndexByte(b, '.')
	whole := b
	if dot >= 0 {
		whole = b[:dot]
	}
	switch significantDigits(whole) {
	case 13:
		if dot >= 0 {
			return 0, false
		}
		n, ok := lex.Int(b)
		return n * 1000, ok
	case 10:
		if dot >= 0 && len(b)-dot-1 > 9 {
			return 0, false
		}
		return lex.Decimal(b, 6, false)
	}
	return 0, false
}

// epochProblem says why parseEpoch rejects b, for a reject reason.
func epochProblem(b []byte) string {
	if why := lex.NumberProblem(b, false); why != "" {
		return why
	}
	dot := bytes.IndexByte(b, '.')
	whole := b
	if dot >= 0 {
		whole = b[:dot]
	}
	switch n := significantDigits(whole); n {
	case 13:
		return "milliseconds with a fraction"
	case 10:
		return "more than 9 decimals"
	default:
		return fmt.Sprintf("%d digits: want seconds (10 digits) or milliseconds (13 digits), a time from 2001 to 2286", n)
	}
}

// significantDigits returns the number of digits of b after its leading
// zeros.
func significantDigits(b []byte) int {
	for len(b) > 0 && b[0] == '0' {
		b = b[1:]
	}
	return len(b)
}

var months = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// ParseCLFTime parses $context.requestTime, "06/Mar/2019:16:40:21 +0000",
// into Unix microseconds UTC, applying the offset. A leap second (:60)
// counts as :59, as Unix time does.
func ParseCLFTime(b []byte) (int64, bool) {
	if len(b) != 26 || b[2] != '/' || b[6] != '/' || b[11] != ':' || b[14] != ':' || b[17] != ':' || b[20] != ' ' {
		return 0, false
	}
	d, ok1 := lex.Digits(b[0:2])
	y, ok2 := lex.Digits(b[7:11])
	h, ok3 := lex.Digits(b[12:14])
	mi, ok4 := lex.Digits(b[15:17])
	s, ok5 := lex.Digits(b[18:20])
	oh, ok6 := lex.Digits(b[22:24])
	om, ok7 := lex.Digits(b[24:26])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || !ok7 || (b[21] != '+' && b[21] != '-') {
		return 0, false
	}
	m := int64(0)
	for i, name := range months {
		if string(b[3:6]) == name {
			m = int64(i + 1)
		}
	}
	if m == 0 || d < 1 || d > lex.DaysIn(y, m) || h > 23 || mi > 59 || s > 60 || oh > 23 || om > 59 {
		return 0, false
	}
	if s == 60 { // a leap second, as Unix time counts it
		s = 59
	}
	off := oh*3600 + om*60
	if b[21] == '-' {
		off = -off
	}
	secs := lex.DaysFromCivil(y, m, d)*86400 + h*3600 + mi*60 + s - off
	return secs * 1e6, true
}

// clfShape reports whether b is laid out as dd/MMM/yyyy:HH:mm:ss +hhmm.
func clfShape(b []byte) bool {
	if len(b) != 26 || b[2] != '/' || b[6] != '/' || b[11] != ':' || b[14] != ':' || b[17] != ':' || b[20] != ' ' ||
		(b[21] != '+' && b[21] != '-') {
		return false
	}
	for _, i := range [...]int{0, 1, 7, 8, 9, 10, 12, 13, 15, 16, 18, 19, 22, 23, 24, 25} {
		if !lex.IsDigit(b[i]) {
			return false
		}
	}
	return true
}

// clfTimeProblem says why ParseCLFTime rejects b, for a reject reason.
func clfTimeProblem(b []byte) string {
	if !clfShape(b) {
		return "want dd/MMM/yyyy:HH:mm:ss +hhmm"
	}
	for _, name := range months {
		if string(b[3:6]) == name {
			return "no such date or time"
		}
	}
	return "no such month: want Jan to Dec"
}
