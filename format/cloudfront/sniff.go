package cloudfront

import "bytes"

// IsDirective reports whether line is one of the directives a standard
// log file starts with, "#Version:" or "#Fields:": what tells a standard
// log from other text, for recognising one.
func IsDirective(line []byte) bool {
	return bytes.HasPrefix(line, []byte("#Version:")) || bytes.HasPrefix(line, []byte("#Fields:"))
}

// LooksLikeRecord reports whether line looks like a standard log record:
// tab-separated, with a date (YYYY-MM-DD) first. It recognises a file
// without directives; Parse says whether the line is a record.
func LooksLikeRecord(line []byte) bool {
	first, _, tabbed := bytes.Cut(line, []byte{'\t'})
	return tabbed && isDate(first)
}

// isDate reports whether b is YYYY-MM-DD.
func isDate(b []byte) bool {
	return len(b) == 10 && b[4] == '-' && b[7] == '-' && allDigits(b[:4]) && allDigits(b[5:7]) && allDigits(b[8:])
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}
