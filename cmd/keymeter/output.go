package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/internal/jsontext"
)

// Output formats.
const (
	formatTable = "table"
	formatJSON  = "json"
	formatCSV   = "csv"
)

func checkFormat(f string) error {
	switch f {
	case formatTable, formatJSON, formatCSV:
		return nil
	}
	return keymeter.Errorf(keymeter.EINVALID, "unknown --format %q (want table, json or csv)", f)
}

// cell is one value of a result: its text for tables and CSV, and its JSON
// form (nil for null).
type cell struct {
	text string
	json any
}

func nullCell() cell         { return cell{} }
func textCell(s string) cell { return cell{text: s, json: s} }
func intCell(n int64) cell   { return cell{text: fmt.Sprint(n), json: n} }
func boolCell(b bool) cell   { return cell{text: fmt.Sprint(b), json: b} }

// int128Cell is an exact total: a JSON number with every digit.
func int128Cell(n keymeter.Int128) cell { return numberCell(n.String()) }
func numberCell(s string) cell          { return cell{text: s, json: json.Number(s)} }
func optText(s string, null bool) cell {
	if null {
		return nullCell()
	}
	return textCell(s)
}

// result is a table of cells with named columns.
type result struct {
	cols []string
	rows [][]cell
}

// write renders r in format f: an aligned table, CSV with a header, or one
// JSON array of objects with the columns as keys, in column order.
func (r *result) write(w io.Writer, f string) error {
	switch f {
	case formatJSON:
		return r.writeJSON(w)
	case formatCSV:
		cw := csv.NewWriter(w)
		cw.Write(r.cols)
		for _, row := range r.rows {
			rec := make([]string, len(row))
			for i, c := range row {
				rec[i] = c.text
			}
			cw.Write(rec)
		}
		cw.Flush()
		return cw.Error()
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(r.cols, "\t"))
	for _, row := range r.rows {
		for i, c := range row {
			if i > 0 {
				fmt.Fprint(tw, "\t")
			}
			t := c.text
			if c.json == nil {
				t = "(null)"
			}
			fmt.Fprint(tw, tableText(t))
		}
		fmt.Fprintln(tw)
	}
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

func (r *result) writeJSON(w io.Writer) error {
	var b bytes.Buffer
	b.WriteString("[")
	for i, row := range r.rows {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n  {")
		for j, c := range row {
			if j > 0 {
				b.WriteString(", ")
			}
			k, _ := json.Marshal(r.cols[j])
			b.Write(k)
			b.WriteString(": ")
			v, err := json.Marshal(c.json)
			if err != nil {
				return fmt.Errorf("encode %s: %w", r.cols[j], err)
			}
			b.Write(v)
		}
		b.WriteString("}")
	}
	if len(r.rows) > 0 {
		b.WriteString("\n")
	}
	b.WriteString("]\n")
	_, err := w.Write(b.Bytes())
	return err
}

// anyCell converts an ad-hoc SQL value to a cell.
func anyCell(v any) cell {
	switch x := v.(type) {
	case nil:
		return nullCell()
	case string:
		return textCell(x)
	case []byte:
		return textCell(fmt.Sprintf("%x", x))
	case bool:
		return cell{text: fmt.Sprint(x), json: x}
	case int64:
		return intCell(x)
	case uint64:
		return cell{text: fmt.Sprint(x), json: x}
	case *big.Int:
		return numberCell(x.String())
	case float64:
		return cell{text: fmt.Sprint(x), json: x}
	case time.Time:
		return textCell(x.UTC().Format(time.RFC3339Nano))
	}
	return textCell(fmt.Sprint(v))
}

// seconds renders milliseconds as seconds with three decimals.
func seconds(ms int64) string {
	return fmt.Sprintf("%d.%03d", ms/1000, ms%1000)
}

// meanSeconds renders sum/count milliseconds as seconds with four
// decimals, rounded half up, in exact integer arithmetic.
func meanSeconds(sum keymeter.Int128, count int64) string {
	n := big.NewInt(count)
	tenths := new(big.Int).Mul(sum.Big(), big.NewInt(10)) // tenths of a millisecond
	tenths.Add(tenths, new(big.Int).Rsh(n, 1)).Quo(tenths, n)
	whole, frac := new(big.Int).QuoRem(tenths, big.NewInt(10000), new(big.Int))
	return fmt.Sprintf("%s.%04d", whole, frac.Int64())
}

// tableRows is how many rows the table format sizes its columns from
// before it prints them; later rows are printed as they come, in those
// widths (a wider value pushes the rest of its line right).
const tableRows = 1000

// rowWriter prints the rows of an ad-hoc query as they stream
// (keymeter.RowWriter), in the same formats as result.write: CSV and JSON
// a row at a time, and a table whose columns are sized from its first
// tableRows rows, so that memory stays bounded whatever the number of
// rows. Call finish after the last row.
type rowWriter struct {
	w      *bufio.Writer
	format string
	n      int // columns

	csv  *csv.Writer
	rec  []string
	keys [][]byte // per column, `"name": ` for JSON
	rows int64
	buf  []byte

	pending [][]string // the table's header and first rows, until sized
	cells   []string   // a line of the table, once sized
	widths  []int      // the table's column widths, padding included
}

var _ keymeter.RowWriter = (*rowWriter)(nil)

func newRowWriter(w io.Writer, format string) *rowWriter {
	return &rowWriter{w: bufio.NewWriterSize(w, 64<<10), format: format}
}

// Begin implements keymeter.RowWriter.
func (rw *rowWriter) Begin(cols []string) error {
	rw.n = len(cols)
	switch rw.format {
	case formatCSV:
		rw.csv = csv.NewWriter(rw.w)
		rw.rec = make([]string, len(cols))
		return rw.csv.Write(cols)
	case formatJSON:
		for _, c := range cols {
			k := jsontext.AppendString(nil, c)
			rw.keys = append(rw.keys, append(k, ": "...))
		}
		_, err := rw.w.WriteString("[")
		return err
	}
	header := make([]string, len(cols))
	for i, c := range cols {
		header[i] = tableText(c)
	}
	rw.pending = append(rw.pending, header)
	return nil
}

// Row implements keymeter.RowWriter.
func (rw *rowWriter) Row(values []any) error {
	rw.rows++
	switch rw.format {
	case formatCSV:
		for i, v := range values {
			rw.rec[i] = valueText(v)
		}
		return rw.csv.Write(rw.rec)
	case formatJSON:
		b := rw.buf[:0]
		if rw.rows > 1 {
			b = append(b, ',')
		}
		b = append(b, "\n  {"...)
		for i, v := range values {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = append(b, rw.keys[i]...)
			b = appendJSONValue(b, v)
		}
		b = append(b, '}')
		rw.buf = b
		_, err := rw.w.Write(b)
		return err
	}
	var cells []string
	if rw.widths != nil && len(rw.cells) == len(values) {
		cells = rw.cells // once sized, a line is printed at once
	} else {
		cells = make([]string, len(values))
	}
	for i, v := range values {
		if v == nil {
			cells[i] = "(null)"
		} else {
			cells[i] = tableText(valueText(v))
		}
	}
	if rw.widths != nil {
		rw.cells = cells
		return rw.tableLine(cells)
	}
	rw.pending = append(rw.pending, cells)
	if len(rw.pending) > tableRows {
		return rw.sizeTable()
	}
	return nil
}

// sizeTable sets the table's column widths from the rows held so far,
// as text/tabwriter would, and prints them.
func (rw *rowWriter) sizeTable() error {
	rw.widths = make([]int, rw.n)
	for _, cells := range rw.pending {
		for i, c := range cells {
			rw.widths[i] = max(rw.widths[i], utf8.RuneCountInString(c)+2)
		}
	}
	for _, cells := range rw.pending {
		if err := rw.tableLine(cells); err != nil {
			return err
		}
	}
	rw.pending = nil
	return nil
}

// tableLine prints one line of the table: every cell but the last padded
// to its column's width, or by two spaces if it is wider.
func (rw *rowWriter) tableLine(cells []string) error {
	b := rw.buf[:0]
	for i, c := range cells {
		b = append(b, c...)
		if i == len(cells)-1 {
			break
		}
		for range max(rw.widths[i]-utf8.RuneCountInString(c), 2) {
			b = append(b, ' ')
		}
	}
	b = append(b, '\n')
	rw.buf = b
	_, err := rw.w.Write(b)
	return err
}

// finish ends the output after the last row and flushes it.
func (rw *rowWriter) finish() error {
	switch rw.format {
	case formatCSV:
		if rw.csv != nil {
			rw.csv.Flush()
			if err := rw.csv.Error(); err != nil {
				return err
			}
		}
	case formatJSON:
		if rw.rows > 0 {
			rw.w.WriteString("\n")
		}
		rw.w.WriteString("]\n")
	default:
		if rw.widths == nil {
			if err := rw.sizeTable(); err != nil {
				return err
			}
		}
	}
	return rw.w.Flush()
}

// flush prints what is buffered, after an error.
func (rw *rowWriter) flush() {
	if rw.csv != nil {
		rw.csv.Flush()
	}
	rw.w.Flush()
}

// valueText is an ad-hoc SQL value as text, as anyCell renders it ("" for
// NULL).
func valueText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []byte:
		return hex.EncodeToString(x)
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case *big.Int:
		return x.String()
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case json.RawMessage:
		return string(x)
	}
	return fmt.Sprint(v)
}

// appendJSONValue appends an ad-hoc SQL value as JSON, as anyCell and
// result.writeJSON render it; NaN and infinities as null, and JSON values
// (lists, structs, maps, JSON columns) as they are.
func appendJSONValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return jsontext.AppendString(b, x)
	case bool:
		return strconv.AppendBool(b, x)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case uint64:
		return strconv.AppendUint(b, x, 10)
	case *big.Int:
		return x.Append(b, 10)
	case float64:
		return jsontext.AppendFloat(b, x)
	case json.RawMessage:
		return append(b, x...)
	case time.Time:
		b = append(b, '"')
		b = x.UTC().AppendFormat(b, time.RFC3339Nano)
		return append(b, '"')
	}
	return jsontext.AppendString(b, valueText(v))
}
