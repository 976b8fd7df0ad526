package cloudfrontrt

import "bytes"

// LooksLikeRecord reports whether line looks like a real-time log
// record: tab-separated, with the timestamp first as CloudFront writes
// it, Unix seconds (9 to 12 digits) with an optional fraction
// ("1759276800.123"). It recognises records; Parse says whether the line
// is one of the configured fields.
func LooksLikeRecord(line []byte) bool {
	first, _, tabbed := bytes.Cut(line, []byte{'\t'})
	if !tabbed {
		return false
	}
	whole, frac, dot := bytes.Cut(first, []byte{'.'})
	return len(whole) >= 9 && len(whole) <= 12 && allDigits(whole) && (!dot || len(frac) > 0 && allDigits(frac))
}

// CountFields returns the number of tab-separated fields of a record,
// which must be that of the configured field list for Parse to read it.
func CountFields(record []byte) int {
	return bytes.Count(record, []byte{'\t'}) + 1
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}
