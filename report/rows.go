package report

import (
	"bufio"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/internal/jsontext"
)

// tableRows is how many rows the table format sizes its columns from
// before it prints them; later rows are printed as they come, in those
// widths (a wider value pushes the rest of its line right).
const tableRows = 1000

// RowWriter prints the rows of an ad-hoc query as they stream
// (keymeter.RowWriter), in the same formats as Table.Write: CSV and JSON
// a row at a time, and a table whose columns are sized from its first
// 1,000 rows, so that memory stays bounded whatever the number of rows.
// Call Finish after the last row, or Abort after an error.
type RowWriter struct {
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

var _ keymeter.RowWriter = (*RowWriter)(nil)

// NewRowWriter returns a RowWriter that writes to w in format (one of
// the Format constants; anything else is a table).
func NewRowWriter(w io.Writer, format string) *RowWriter {
	return &RowWriter{w: bufio.NewWriterSize(w, 64<<10), format: format}
}

// Begin implements keymeter.RowWriter.
func (rw *RowWriter) Begin(cols []string) error {
	rw.n = len(cols)
	switch rw.format {
	case FormatCSV:
		rw.csv = csv.NewWriter(rw.w)
		rw.rec = make([]string, len(cols))
		return rw.csv.Write(cols)
	case FormatJSON:
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
func (rw *RowWriter) Row(values []any) error {
	rw.rows++
	switch rw.format {
	case FormatCSV:
		for i, v := range values {
			rw.rec[i] = valueText(v)
		}
		return rw.csv.Write(rw.rec)
	case FormatJSON:
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
func (rw *RowWriter) sizeTable() error {
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
func (rw *RowWriter) tableLine(cells []string) error {
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

// Finish ends the output after the last row and flushes it.
func (rw *RowWriter) Finish() error {
	switch rw.format {
	case FormatCSV:
		if rw.csv != nil {
			rw.csv.Flush()
			if err := rw.csv.Error(); err != nil {
				return err
			}
		}
	case FormatJSON:
		if rw.rows > 0 {
			rw.w.WriteString("\n")
		}
		rw.w.WriteString("]\n") // a failed write stays in rw.w, and Flush returns it
	default:
		if rw.widths == nil {
			if err := rw.sizeTable(); err != nil {
				return err
			}
		}
	}
	return rw.w.Flush()
}

// Abort prints what is buffered after the query failed with err, and
// returns err, joined with the error of printing, if any.
func (rw *RowWriter) Abort(err error) error {
	if rw.csv != nil {
		rw.csv.Flush()
	}
	if ferr := rw.w.Flush(); ferr != nil && !errors.Is(err, ferr) {
		return errors.Join(err, fmt.Errorf("write output: %w", ferr))
	}
	return err
}

// valueText is an ad-hoc SQL value as text ("" for NULL).
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

// appendJSONValue appends an ad-hoc SQL value as JSON, as Table.WriteJSON
// would write it; NaN and infinities as null, and JSON values (lists,
// structs, maps, JSON columns) as they are.
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
