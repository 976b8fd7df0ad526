package duckdb

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/keymeter/keymeter"
)

// This file turns the typed keymeter.EventFilter and keymeter.Measure
// into DuckDB SQL: whereSQL for MeterTotals (with placeholders), and
// QueryText for the queries invoices show (with every value written in).

var _ keymeter.QueryTexter = (*DB)(nil)

// whereSQL returns the filter as a boolean SQL expression with "?"
// placeholders and its arguments, in order ("" when it has no
// condition), over a relation with the events view's columns:
//
//	source         VARCHAR   'cloudfront', 'cloudfront-realtime', 'apigateway', 'edge'
//	path           VARCHAR   as logged: percent-encoded, no query string
//	method         VARCHAR   NULL when not logged
//	status         SMALLINT  NULL when not logged; CloudFront's 000 is 0
//	edge_result    VARCHAR   x-edge-result-type; NULL when not logged
//	key_source     VARCHAR   edge_events only: the log that gave the key
//
// edge says whether the relation holds the edge join's rows (and so
// key_source): without them a KeySource include selects nothing and a
// KeySource exclude drops nothing, as for any field that is NULL.
//
// The expression selects exactly the rows EventFilter.Matches accepts,
// NULLs included: a NULL never satisfies an Include list and never
// triggers an Exclude list. It does not restrict time or customer.
func whereSQL(f *keymeter.EventFilter, edge bool) (string, []any) {
	var conds []string
	var args []any
	add := func(c string, a []any) {
		conds = append(conds, c)
		args = append(args, a...)
	}
	switch len(f.Sources) {
	case 0:
		if edge {
			add("source <> 'edge'", nil)
		}
	case 1:
		add("source = ?", []any{f.Sources[0].String()})
	default:
		add(sqlIn("source", sourceNames(f.Sources)))
	}

	in := &f.Include
	if len(in.Status) > 0 {
		add(sqlStatus(in.Status))
	}
	if len(in.EdgeResult) > 0 {
		add(sqlIn("edge_result", in.EdgeResult))
	}
	if len(in.Path) > 0 {
		add(sqlLike(in.Path))
	}
	if len(in.Method) > 0 {
		add(sqlIn("method", in.Method))
	}
	if len(in.KeySource) > 0 {
		if edge {
			add(sqlIn("key_source", sourceNames(in.KeySource)))
		} else {
			add("false", nil)
		}
	}

	// An excluded condition on a NULL column is NULL, and NOT NULL is
	// NULL, which would drop the row: so each exclusion is written as
	// "column IS NULL OR NOT (...)".
	not := func(col, c string, a []any) {
		add("("+col+" IS NULL OR NOT "+c+")", a)
	}
	ex := &f.Exclude
	if len(ex.Status) > 0 {
		c, a := sqlStatus(ex.Status)
		not("status", c, a)
	}
	if len(ex.EdgeResult) > 0 {
		c, a := sqlIn("edge_result", ex.EdgeResult)
		not("edge_result", c, a)
	}
	if len(ex.Path) > 0 {
		c, a := sqlLike(ex.Path)
		not("path", c, a)
	}
	if len(ex.Method) > 0 {
		c, a := sqlIn("method", ex.Method)
		not("method", c, a)
	}
	if len(ex.KeySource) > 0 && edge {
		c, a := sqlIn("key_source", sourceNames(ex.KeySource))
		not("key_source", c, a)
	}
	return strings.Join(conds, " AND "), args
}

func sourceNames(srcs []keymeter.Source) []string {
	out := make([]string, len(srcs))
	for i, s := range srcs {
		out[i] = s.String()
	}
	return out
}

func sqlStatus(rs []keymeter.StatusRange) (string, []any) {
	parts := make([]string, len(rs))
	var args []any
	for i, r := range rs {
		if r.Min == r.Max {
			parts[i] = "status = ?"
			args = append(args, r.Min)
		} else {
			parts[i] = "status BETWEEN ? AND ?"
			args = append(args, r.Min, r.Max)
		}
	}
	return "(" + strings.Join(parts, " OR ") + ")", args
}

func sqlIn(col string, vs []string) (string, []any) {
	args := make([]any, len(vs))
	for i, v := range vs {
		args[i] = v
	}
	return "(" + col + " IN (" + strings.TrimSuffix(strings.Repeat("?, ", len(vs)), ", ") + "))", args
}

func sqlLike(patterns []string) (string, []any) {
	parts := make([]string, len(patterns))
	args := make([]any, len(patterns))
	for i, p := range patterns {
		parts[i] = `path LIKE ? ESCAPE '\'`
		args[i] = likePattern(p)
	}
	return "(" + strings.Join(parts, " OR ") + ")", args
}

// likePattern translates a keymeter.MatchPath pattern to a SQL LIKE
// pattern with "\" as the escape character.
func likePattern(pattern string) string {
	var b strings.Builder
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; c {
		case '*':
			b.WriteByte('%')
		case '?':
			b.WriteByte('_')
		case '%', '_', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// measureSum gives, per measure, the aggregate of its quantity over the
// rows a FILTER clause selects.
var measureSum = map[keymeter.Measure]string{
	keymeter.MeasureRequests:      "count(*)",
	keymeter.MeasureBytesSent:     "CAST(coalesce(sum(bytes_sent) %s, 0) AS HUGEINT)",
	keymeter.MeasureBytesReceived: "CAST(coalesce(sum(bytes_received) %s, 0) AS HUGEINT)",
}

// textSum gives, per measure, the aggregate of its quantity in the
// queries QueryText writes.
var textSum = map[keymeter.Measure]string{
	keymeter.MeasureRequests:      "count(*)",
	keymeter.MeasureBytesSent:     "coalesce(sum(bytes_sent), 0)",
	keymeter.MeasureBytesReceived: "coalesce(sum(bytes_received), 0)",
}

// QueryText implements keymeter.QueryTexter. The query counts over
// events_as_of (edge_events_as_of for a meter of the edge join; the
// events view, what is known now, when AsOf is zero) what MeterTotals
// computes, so that `keymeter sql` runs it as it is, with the same
// answer forever:
//
//	SELECT count(*) AS events, coalesce(sum(bytes_sent), 0) AS quantity
//	FROM events_as_of(TIMESTAMP '2025-11-02 09:14:11') WHERE customer = 'acme' AND time >= ...
//
// With Since, it is the difference of two such counts, known less
// billed.
func (s *DB) QueryText(q keymeter.ReproduceQuery) (string, error) {
	return QueryText(q)
}

// QueryText is DB.QueryText, which needs no database.
func QueryText(q keymeter.ReproduceQuery) (string, error) {
	sum, ok := textSum[q.Meter.Measure]
	if !ok {
		return "", keymeter.Errorf(keymeter.EINVALID, "meter %q: unknown measure %q", q.Meter.Name, q.Meter.Measure)
	}
	f := &q.Meter.Filter
	w := textWhere(f, q.Customer, q.From, q.To)
	count := func(at time.Time) string {
		return "SELECT count(*) AS events, " + sum + " AS quantity FROM " + textRelation(f, at) + " WHERE " + w
	}
	if q.Since.IsZero() {
		return count(q.AsOf), nil
	}
	return "SELECT known.events - billed.events AS events, known.quantity - billed.quantity AS quantity FROM " +
		"(" + count(q.AsOf) + ") known, (" + count(q.Since) + ") billed", nil
}

// textRelation names the relation of the events f selects known at t:
// the edge join's for a filter of source edge alone, the logs'
// otherwise, and both for a filter of the edge and logs.
func textRelation(f *keymeter.EventFilter, t time.Time) string {
	asOf := func(name string) string {
		if t.IsZero() {
			return name
		}
		return name + "_as_of(" + textTimestamp(t) + ")"
	}
	if !f.Selects(keymeter.SourceEdge) {
		return asOf("events")
	}
	if len(f.Sources) == 1 {
		return asOf("edge_events")
	}
	return "(SELECT * FROM " + asOf("events") + " UNION ALL BY NAME SELECT * FROM " + asOf("edge_events") + ")"
}

// textWhere is the condition of a filter's events of one customer in
// [from, to), with its values written in.
func textWhere(f *keymeter.EventFilter, customer string, from, to time.Time) string {
	var b strings.Builder
	b.WriteString("customer = ")
	b.WriteString(textString(customer))
	b.WriteString(" AND time >= ")
	b.WriteString(textTimestamp(from))
	b.WriteString(" AND time < ")
	b.WriteString(textTimestamp(to))
	w, args := whereSQL(f, f.Selects(keymeter.SourceEdge))
	if w != "" {
		b.WriteString(" AND ")
		b.WriteString(inline(w, args))
	}
	return b.String()
}

// textString quotes s as a SQL string.
func textString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// textTimestamp writes t, in UTC to the microsecond, as a SQL timestamp
// without trailing zeros in its fraction.
func textTimestamp(t time.Time) string {
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
			b.WriteString(textLiteral(args[next]))
			next++
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// textLiteral writes a SQL argument as a literal.
func textLiteral(v any) string {
	switch x := v.(type) {
	case string:
		return textString(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case time.Time:
		return textTimestamp(x)
	}
	return textString(fmt.Sprint(v))
}
