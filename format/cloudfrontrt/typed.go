package cloudfrontrt

import (
	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/format/cloudfront"
)

// parseTyped fills ev's typed members from its raw fields and checks the
// fields a record cannot do without: timestamp (always configured) and
// x-edge-request-id when it is configured.
func parseTyped(ev *keymeter.Event) error {
	us, ok := cloudfront.ParseEpoch(ev.Fields[keymeter.FieldTimestamp])
	if !ok {
		return fieldError(keymeter.FieldTimestamp, ErrBadTime)
	}
	ev.Time = us
	if id := ev.Fields[keymeter.FieldRequestID]; id != nil && isNull(id) {
		return fieldError(keymeter.FieldRequestID, ErrMissingField)
	}
	if v := ev.Fields[keymeter.FieldStatus]; !isNull(v) {
		n, ok := parseUint(v)
		if !ok || len(v) != 3 {
			return fieldError(keymeter.FieldStatus, ErrBadNumber)
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
			n, ok := parseUint(v)
			if !ok {
				return fieldError(c.f, ErrBadNumber)
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
			n, ok := parseUint(v)
			if !ok || n > 1<<31-1 {
				return fieldError(c.f, ErrBadNumber)
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
			ms, ok := cloudfront.ParseSeconds(v)
			if !ok {
				return fieldError(c.f, ErrBadNumber)
			}
			*c.dst = ms
		}
	}
	return nil
}

func fieldError(f keymeter.Field, err error) error {
	return &keymeter.ParseError{Field: FieldName(f), Err: err}
}

// isNull reports whether a raw value means "no value": "-" or absent.
func isNull(v []byte) bool {
	return len(v) == 0 || len(v) == 1 && v[0] == '-'
}

// parseUint parses a non-negative decimal integer of at most 18 digits.
func parseUint(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
