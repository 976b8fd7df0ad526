package invoice

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/billing"
)

// Query returns the SQL that counts a meter's events and raw quantity for
// one customer over the event time [from, to), as the store knew them at
// asOf (events_as_of; the events view, what is known now, when asOf is
// zero). It is what the store's MeterTotals computes, with every value
// written in, so that `keymeter sql` runs it as it is, with the same
// answer forever:
//
//	SELECT count(*) AS events, coalesce(sum(bytes_sent), 0) AS quantity
//	FROM events_as_of(TIMESTAMP '2025-11-02 09:14:11') WHERE customer = 'acme' AND time >= ...
func Query(m *billing.Meter, customer string, from, to, asOf time.Time) string {
	var b strings.Builder
	b.WriteString("SELECT count(*) AS events, ")
	b.WriteString(m.SQLSum())
	b.WriteString(" AS quantity FROM ")
	b.WriteString(eventsAsOf(m, asOf))
	b.WriteString(" WHERE ")
	b.WriteString(where(m, customer, from, to))
	return b.String()
}

// LateQuery returns the SQL that gives what a meter's late usage changed
// for one customer over [from, to): its events and raw quantity as known
// at cutoff, less the same as known at after. Either may be negative
// (events retracted, or moved to another customer).
func LateQuery(m *billing.Meter, customer string, from, to, after, cutoff time.Time) string {
	w := where(m, customer, from, to)
	sum := m.SQLSum()
	return "SELECT known.events - billed.events AS events, known.quantity - billed.quantity AS quantity FROM " +
		"(SELECT count(*) AS events, " + sum + " AS quantity FROM " + eventsAsOf(m, cutoff) + " WHERE " + w + ") known, " +
		"(SELECT count(*) AS events, " + sum + " AS quantity FROM " + eventsAsOf(m, after) + " WHERE " + w + ") billed"
}

// eventsAsOf names the relation of the events a meter counts known at
// t: the edge join's for a meter of source edge, the logs' otherwise.
func eventsAsOf(m *billing.Meter, t time.Time) string {
	name := "events"
	if m.Source == keymeter.SourceEdge {
		name = "edge_events"
	}
	if t.IsZero() {
		return name
	}
	return name + "_as_of(" + timestampLiteral(t) + ")"
}

// where is the condition of a meter's events of one customer in [from, to).
func where(m *billing.Meter, customer string, from, to time.Time) string {
	var b strings.Builder
	b.WriteString("customer = ")
	b.WriteString(stringLiteral(customer))
	b.WriteString(" AND time >= ")
	b.WriteString(timestampLiteral(from))
	b.WriteString(" AND time < ")
	b.WriteString(timestampLiteral(to))
	w, args := m.Filter.SQLWhere()
	if w != "" {
		b.WriteString(" AND ")
		b.WriteString(inline(w, args))
	}
	return b.String()
}

// stringLiteral quotes s as a SQL string.
func stringLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// timestampLiteral writes t, in UTC to the microsecond, as a SQL
// timestamp.
func timestampLiteral(t time.Time) string {
	return "TIMESTAMP '" + t.UTC().Format("2006-01-02 15:04:05.999999") + "'"
}

// inline replaces the "?" placeholders of a SQL expression (outside
// quoted strings) with its arguments written as literals.
func inline(expr string, args []any) string {
	var b strings.Builder
	quoted := false
	next := 0
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		switch {
		case c == '\'':
			quoted = !quoted
		case c == '?' && !quoted && next < len(args):
			b.WriteString(literal(args[next]))
			next++
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// literal writes a SQL argument as a literal.
func literal(v any) string {
	switch x := v.(type) {
	case string:
		return stringLiteral(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case time.Time:
		return timestampLiteral(x)
	}
	return stringLiteral(fmt.Sprint(v))
}
