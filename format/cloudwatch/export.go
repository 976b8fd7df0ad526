package cloudwatch

import (
	"errors"
	"fmt"

	"github.com/keymeter/keymeter/format/internal/lex"
)

// ErrExportLine means a line is not "<time> <message>" as CloudWatch Logs
// exports write them.
var ErrExportLine = errors.New("not a CloudWatch Logs export line")

// ParseExportLine splits one line of a CloudWatch Logs export-to-S3 object,
// "2019-03-06T16:40:21.473Z message...", into the event's CloudWatch
// timestamp, in Unix milliseconds, and its message, which aliases line.
// The time must be UTC ("Z"), with an optional fraction of 1 to 9 digits
// (truncated to milliseconds). A trailing line terminator is dropped.
//
// Like LogEvent.Timestamp, the time is CloudWatch's, not the request's.
func ParseExportLine(line []byte) (ms int64, message []byte, err error) {
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	b := line
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return 0, nil, exportError(line, "want a YYYY-MM-DDTHH:MM:SS time first")
	}
	y, ok1 := lex.Digits(b[0:4])
	mo, ok2 := lex.Digits(b[5:7])
	d, ok3 := lex.Digits(b[8:10])
	h, ok4 := lex.Digits(b[11:13])
	mi, ok5 := lex.Digits(b[14:16])
	s, ok6 := lex.Digits(b[17:19])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || mo < 1 || mo > 12 || d < 1 || d > lex.DaysIn(y, mo) || h > 23 || mi > 59 || s > 59 {
		return 0, nil, exportError(line, "invalid date or time")
	}
	i := 19
	var frac int64
	if b[i] == '.' {
		i++
		start := i
		for i < len(b) && lex.IsDigit(b[i]) {
			if i-start < 3 {
				frac = frac*10 + int64(b[i]-'0')
			}
			i++
		}
		n := i - start
		if n == 0 || n > 9 {
			return 0, nil, exportError(line, "invalid fraction of a second")
		}
		for ; n < 3; n++ {
			frac *= 10
		}
	}
	if i >= len(b) || b[i] != 'Z' {
		return 0, nil, exportError(line, "want a UTC time ending in Z")
	}
	i++
	switch {
	case i == len(b):
	case b[i] == ' ':
		i++
	default:
		return 0, nil, exportError(line, "want a space after the time")
	}
	ms = (lex.DaysFromCivil(y, mo, d)*86400+h*3600+mi*60+s)*1000 + frac
	return ms, b[i:], nil
}

func exportError(line []byte, what string) error {
	if len(line) > 40 {
		line = line[:40]
	}
	return fmt.Errorf("%w: %s (line starts %q)", ErrExportLine, what, line)
}
