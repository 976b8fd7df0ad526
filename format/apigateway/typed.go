package apigateway

// parseUint parses a non-negative decimal integer of at most 18 digits.
func parseUint(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// parseEpoch parses $context.requestTimeEpoch into Unix microseconds. REST
// APIs document it in milliseconds (13 digits for any date after 2001);
// HTTP APIs only say "epoch-formatted", so 10 to 12 digits are read as
// seconds. The two cannot be confused for dates between 1973 and 2286.
func parseEpoch(b []byte) (int64, bool) {
	n, ok := parseUint(b)
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
	d, ok1 := digits(b[0:2])
	y, ok2 := digits(b[7:11])
	h, ok3 := digits(b[12:14])
	mi, ok4 := digits(b[15:17])
	s, ok5 := digits(b[18:20])
	oh, ok6 := digits(b[22:24])
	om, ok7 := digits(b[24:26])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || !ok7 || (b[21] != '+' && b[21] != '-') {
		return 0, false
	}
	m := int64(0)
	for i, name := range months {
		if string(b[3:6]) == name {
			m = int64(i + 1)
		}
	}
	if m == 0 || d < 1 || d > daysIn(y, m) || h > 23 || mi > 59 || s > 60 || oh > 23 || om > 59 {
		return 0, false
	}
	if s == 60 { // a leap second, as Unix time counts it
		s = 59
	}
	off := oh*3600 + om*60
	if b[21] == '-' {
		off = -off
	}
	secs := daysFromCivil(y, m, d)*86400 + h*3600 + mi*60 + s - off
	return secs * 1e6, true
}

func digits(b []byte) (int64, bool) {
	var n int64
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func daysIn(y, m int64) int64 {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the number of days from 1970-01-01 to a proleptic
// Gregorian date, for years 0 to 9999 (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}
