package ingest

import (
	"errors"
	"fmt"
	"time"

	"github.com/keymeter/keymeter"
)

// DefaultFutureHorizon is how far ahead of the time of reading a request
// may be dated by default (Config.FutureHorizon). Logs are written after
// the requests they describe, so a later time is a clock or log error,
// and storing it would bill a period that has not begun.
const DefaultFutureHorizon = 24 * time.Hour

// ErrFutureTime is the reason of a record dated more than the horizon
// after the time of reading (wrapped in a *keymeter.ParseError that names
// the time field).
var ErrFutureTime = errors.New("time in the future")

// futureLimit returns the latest request time accepted by a read
// starting now, in Unix microseconds.
func (in *Ingester) futureLimit(now time.Time) int64 {
	return now.Add(in.cfg.FutureHorizon).UnixMicro()
}

// timeFielder is a parser that names the field the last record's time
// was read from (API Gateway templates name it as the operator chose).
type timeFielder interface {
	TimeField() string
}

// futureError rejects ev, parsed by p, for being dated after the horizon
// from now.
func (in *Ingester) futureError(p Parser, ev *keymeter.Event, now time.Time) error {
	field := "timestamp" // real-time logs, and standard logging v2
	if tf, ok := p.(timeFielder); ok {
		field = tf.TimeField()
	} else if ev.Fields[keymeter.FieldDate] != nil {
		field = "date" // standard logs: date and time
	}
	return &keymeter.ParseError{Field: field, Err: fmt.Errorf("%w: %s is more than %s ahead of the time of reading, %s",
		ErrFutureTime, time.UnixMicro(ev.Time).UTC().Format(time.RFC3339Nano), formatDuration(in.cfg.FutureHorizon), now.UTC().Format(time.RFC3339))}
}

// formatDuration writes whole hours and minutes without the zero units
// time.Duration's String adds ("24h", "90m", not "24h0m0s").
func formatDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}
