package invoice

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/keymeter/keymeter/billing"
)

// Query returns the SQL that counts a meter's events and raw quantity for
// one customer over the event time [from, to), for events loaded in
// (loadedAfter, loadedBy] (a zero bound is left out). It is what the
// store's MeterTotals computes, with every value written in, so that
// `keymeter sql` runs it as it is:
//
//	SELECT count(*) AS events, coalesce(sum(bytes_sent), 0) AS quantity
//	FROM events WHERE customer = 'acme' AND time >= TIMESTAMP '2025-10-01 00:00:00' ...
func Query(m *billing.Meter, customer string, from, to, loadedAfter, loadedBy time.Time) string {
	var b strings.Builder
	b.WriteString("SELECT count(*) AS events, ")
	b.WriteString(m.SQLSum())
	b.WriteString(" AS quantity FROM events WHERE customer = ")
	b.WriteString(stringLiteral(customer))
	b.WriteString(" AND time >= ")
	b.WriteString(timestampLiteral(from))
	b.WriteString(" AND time < ")
	b.WriteString(timestampLiteral(to))
	if !loadedAfter.IsZero() {
		b.WriteString(" AND loaded_at > ")
		b.WriteString(timestampLiteral(loadedAfter))
	}
	if !loadedBy.IsZero() {
		b.WriteString(" AND loaded_at <= ")
		b.WriteString(timestampLiteral(loadedBy))
	}
	where, args := m.Filter.SQLWhere()
	if where != "" {
		b.WriteString(" AND ")
		b.WriteString(inline(where, args))
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
