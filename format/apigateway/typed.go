package apigateway

import "github.com/keymeter/keymeter/format/internal/lex"

// parseEpoch parses $context.requestTimeEpoch into Unix microseconds. REST
// APIs document it in milliseconds (13 digits for any date after 2001);
// HTTP APIs only say "epoch-formatted", so 10 to 12 digits are read as
// seconds. The two cannot be confused for dates between 1973 and 2286.
func parseEpoch(b []byte) (int64, bool) {
	n, ok := lex.Uint(b)
	switch {
	case !ok:
		return 0, false
	case len(b) >= 13 && len(b) <= 16:
		return n * 1000, true
	case len(b) >= 10 && len(b) <= 12:
		return n * 1e6, true
	}
	return 0, false
}

var months = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// ParseCLFTime parses $context.requestTime, "06/Mar/2019:16:40:21 +0000",
// into Unix microseconds UTC, applying the offset.
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
