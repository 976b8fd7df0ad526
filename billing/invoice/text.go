package invoice

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode/utf8"
)

// WriteText renders invoices, given as canonical JSON, as plain text
// tables, one after another. With queries, each counted line is followed
// by the keymeter sql command that counts it again.
func WriteText(w io.Writer, docs [][]byte, queries bool) error {
	var b bytes.Buffer
	for i, data := range docs {
		d, err := Decode(data)
		if err != nil {
			return err
		}
		if i > 0 {
			b.WriteString("\n" + strings.Repeat("─", 72) + "\n\n")
		}
		writeText(&b, newView(d), queries)
	}
	_, err := w.Write(b.Bytes())
	return err
}

func writeText(b *bytes.Buffer, v view, queries bool) {
	title := v.Title
	if v.Draft {
		title += ": the amounts change as events arrive, until it is finalized"
	}
	b.WriteString(title + "\n\n")
	for _, w := range v.Warnings {
		b.WriteString("warning: " + w + "\n\n")
	}
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	field := func(name, value string) {
		if value != "" {
			fmt.Fprintf(tw, "%s\t%s\n", name, value)
		}
	}
	field("Customer", v.Customer)
	field("Plan", v.Plan)
	field("Period", v.Period+" ("+v.PeriodKind+")")
	field("On the plan", v.Active)
	field("Events loaded by", v.Cutoff)
	field("Finalized", v.FinalizedAt)
	tw.Flush()
	b.WriteString("\n")

	rows := [][]string{{"item", "quantity", "unit", "unit price", "amount"}}
	for _, l := range v.Lines {
		rows = append(rows, []string{l.Item, l.Quantity, l.Unit, l.UnitPrice, l.Amount})
		for _, d := range l.Details {
			rows = append(rows, []string{"  " + d, "", "", "", ""})
		}
	}
	rows = append(rows, []string{"", "", "", "", ""}, []string{"", "", "", "subtotal", v.Subtotal})
	if v.MinimumUp != "" {
		rows = append(rows, []string{"", "", "", "minimum spend top-up", v.MinimumUp})
	}
	if v.Late != "" {
		rows = append(rows, []string{"", "", "", "late events (" + v.LateEvents + ")", v.Late})
	}
	rows = append(rows, []string{"", "", "", "total " + v.Currency, v.Total})
	writeColumns(b, rows)
	if queries {
		b.WriteString("\nEach quantity, counted again:\n")
		for _, l := range v.Lines {
			if l.Query != "" {
				fmt.Fprintf(b, "\n  %s:\n  keymeter sql %s\n", l.Item, shellQuote(l.Query))
			}
		}
	}
}

// writeColumns writes rows as columns two spaces apart: the first
// column aligned left, the others right. A detail row (first cell only)
// does not widen the first column.
func writeColumns(b *bytes.Buffer, rows [][]string) {
	width := make([]int, len(rows[0]))
	for _, r := range rows {
		detail := strings.HasPrefix(r[0], "  ")
		for i, c := range r {
			if n := utf8.RuneCountInString(c); n > width[i] && !(i == 0 && detail) {
				width[i] = n
			}
		}
	}
	for _, r := range rows {
		var line strings.Builder
		for i, c := range r {
			pad := strings.Repeat(" ", max(width[i]-utf8.RuneCountInString(c), 0))
			switch {
			case i == 0 && strings.HasPrefix(c, "  ") && r[1] == "" && r[4] == "":
				line.WriteString(c)
			case i == 0:
				line.WriteString(c + pad)
			default:
				line.WriteString("  " + pad + c)
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
}

// shellQuote quotes s for a POSIX shell: in double quotes when that
// leaves every character as it is (SQL is full of single quotes), else in
// single quotes.
func shellQuote(s string) string {
	if !strings.ContainsAny(s, "\"$`!") && !strings.Contains(s, `\\`) && !strings.HasSuffix(s, `\`) {
		return `"` + s + `"`
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
