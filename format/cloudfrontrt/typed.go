package cloudfrontrt

import (
	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/format/cloudfront"
)

// parseTyped fills ev's typed members from its raw fields and checks the
// fields a record cannot do without: timestamp (always configured) and
// x-edge-request-id when it is configured. The numeric fields are named
// and written as in standard logs, and parsed by the same code.
func parseTyped(ev *keymeter.Event) error {
	ts := ev.Fields[keymeter.FieldTimestamp]
	us, ok := cloudfront.ParseEpoch(ts)
	if !ok {
		return fieldError(keymeter.FieldTimestamp, ErrBadTime, ts, cloudfront.EpochProblem(ts))
	}
	ev.Time = us
	if id := ev.Fields[keymeter.FieldRequestID]; id != nil && isNull(id) {
		return fieldError(keymeter.FieldRequestID, ErrMissingField, id, "")
	}
	return cloudfront.ParseNumbers(ev)
}

// fieldError reports a bad value of field f, quoting (the start of) it
// and saying why it is bad, as the standard-log parser does.
func fieldError(f keymeter.Field, err error, v []byte, why string) error {
	return &keymeter.ParseError{Field: FieldName(f), Err: cloudfront.BadValue(err, v, why)}
}

// isNull reports whether a raw value means "no value": "-" or absent.
func isNull(v []byte) bool {
	return len(v) == 0 || len(v) == 1 && v[0] == '-'
}
