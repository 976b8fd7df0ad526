// Package report encodes the results of keymeter's operations for people
// and programs: a Table of cells, written as an aligned table, CSV or a
// JSON array of objects, and RowWriter, which writes an ad-hoc query's
// rows in the same formats as they stream. The command line and the HTTP
// server both write results with it, so that `keymeter usage --format
// json` and `GET /api/v1/usage` give the same bytes.
//
// The layouts (usage.go and the others) turn each operation's typed
// result (package service) into a Table: which columns, in which order,
// and each value's text and JSON form. They decide nothing: the service
// has already computed every value.
package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/keymeter/keymeter"
)

// Output formats.
const (
	FormatTable = "table"
	FormatJSON  = "json"
	FormatCSV   = "csv"
)

// CheckFormat returns an EINVALID error unless f is one of the formats.
func CheckFormat(f string) error {
	switch f {
	case FormatTable, FormatJSON, FormatCSV:
		return nil
	}
	return keymeter.Errorf(keymeter.EINVALID, "unknown --format %q (want table, json or csv)", f)
}

// Cell is one value of a result: its text for tables and CSV, and its
// JSON form (nil for null).
type Cell struct {
	Text string
	JSON any
}

// Null is a null value: "(null)" in a table, empty in CSV.
func Null() Cell { return Cell{} }

// Text is a string.
func Text(s string) Cell { return Cell{Text: s, JSON: s} }

// Int is an integer.
func Int(n int64) Cell { return Cell{Text: fmt.Sprint(n), JSON: n} }

// Bool is true or false.
func Bool(b bool) Cell { return Cell{Text: fmt.Sprint(b), JSON: b} }

// Int128 is an exact total: a JSON number with every digit.
func Int128(n keymeter.Int128) Cell { return Number(n.String()) }

// Number is a decimal number written as s, in JSON too ("12.50").
func Number(s string) Cell { return Cell{Text: s, JSON: json.Number(s)} }

// OptText is s, or null when null.
func OptText(s string, null bool) Cell {
	if null {
		return Null()
	}
	return Text(s)
}

// Time is an instant in RFC 3339 with its fraction of a second, or null
// when it is zero.
func Time(t time.Time) Cell {
	if t.IsZero() {
		return Null()
	}
	return Text(t.Format(time.RFC3339Nano))
}

// Table is a result: named columns and rows of cells.
type Table struct {
	Columns []string
	Rows    [][]Cell
}

// Write renders t in format f: an aligned table, CSV with a header, or
// one JSON array of objects with the columns as keys, in column order.
func (t *Table) Write(w io.Writer, f string) error {
	switch f {
	case FormatJSON:
		return t.WriteJSON(w)
	case FormatCSV:
		cw := csv.NewWriter(w)
		if err := cw.Write(t.Columns); err != nil {
			return err
		}
		rec := make([]string, len(t.Columns))
		for _, row := range t.Rows {
			rec = rec[:0]
			for _, c := range row {
				rec = append(rec, c.Text)
			}
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.Columns, "\t"))
	for _, row := range t.Rows {
		for i, c := range row {
			if i > 0 {
				fmt.Fprint(tw, "\t")
			}
			s := c.Text
			if c.JSON == nil {
				s = "(null)"
			}
			fmt.Fprint(tw, tableText(s))
		}
		fmt.Fprintln(tw)
	}
	// tabwriter holds every line until Flush, which writes them and
	// returns the first write error.
	return tw.Flush()
}

// tableEscaper keeps a value on one line of a table.
var tableEscaper = strings.NewReplacer("\t", `\t`, "\n", `\n`, "\r", `\r`)

// tableText keeps a value on one line of a table and caps its width.
func tableText(s string) string {
	if strings.ContainsAny(s, "\t\n\r") {
		s = tableEscaper.Replace(s)
	}
	if len(s) > 120 && utf8.RuneCountInString(s) > 120 {
		r := []rune(s)
		s = string(r[:119]) + "…"
	}
	return s
}

// WriteJSON writes t as a JSON array of objects, one per row, with the
// columns as keys in column order, one object per line.
func (t *Table) WriteJSON(w io.Writer) error {
	var b bytes.Buffer
	b.WriteString("[")
	for i, row := range t.Rows {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n  {")
		for j, c := range row {
			if j > 0 {
				b.WriteString(", ")
			}
			k, err := json.Marshal(t.Columns[j])
			if err != nil {
				return fmt.Errorf("encode column %q: %w", t.Columns[j], err)
			}
			b.Write(k)
			b.WriteString(": ")
			v, err := json.Marshal(c.JSON)
			if err != nil {
				return fmt.Errorf("encode %s: %w", t.Columns[j], err)
			}
			b.Write(v)
		}
		b.WriteString("}")
	}
	if len(t.Rows) > 0 {
		b.WriteString("\n")
	}
	b.WriteString("]\n")
	_, err := w.Write(b.Bytes())
	return err
}

// Seconds renders milliseconds as seconds with three decimals.
func Seconds(ms int64) string {
	return fmt.Sprintf("%d.%03d", ms/1000, ms%1000)
}

// MeanSeconds renders sum/count milliseconds as seconds with four
// decimals, rounded half up, in exact integer arithmetic.
func MeanSeconds(sum keymeter.Int128, count int64) string {
	n := big.NewInt(count)
	tenths := new(big.Int).Mul(sum.Big(), big.NewInt(10)) // tenths of a millisecond
	tenths.Add(tenths, new(big.Int).Rsh(n, 1)).Quo(tenths, n)
	whole, frac := new(big.Int).QuoRem(tenths, big.NewInt(10000), new(big.Int))
	return fmt.Sprintf("%s.%04d", whole, frac.Int64())
}
