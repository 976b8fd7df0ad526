package main

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

// tableText keeps a value on one line of a table and caps its width.
func tableText(s string) string {
	s = strings.NewReplacer("\t", `\t`, "\n", `\n`, "\r", `\r`).Replace(s)
	if utf8.RuneCountInString(s) > 120 {
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
