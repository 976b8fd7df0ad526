package invoice

import (
	"bytes"
	"encoding/csv"
	"io"
	"strconv"

	"github.com/keymeter/keymeter/billing"
)

// CSVHeader is the header of WriteCSV's output.
var CSVHeader = []string{
	"customer", "period", "period_start", "period_end", "invoice_number", "status", "line", "kind",
	"meter", "description", "late_period", "events", "quantity", "unit", "unit_price", "amount", "currency",
}

// WriteCSV writes the lines of invoices, given as canonical JSON, as one
// CSV file for accounting: a header, then one row per line. Amounts and
// unit prices are in major units (dollars) without thousands separators,
// exact: unit prices keep every digit. period_end is the last day of the
// period; line numbers lines from 1 within each invoice.
func WriteCSV(w io.Writer, docs [][]byte) error {
	var b bytes.Buffer
	cw := csv.NewWriter(&b)
	cw.Write(CSVHeader)
	for _, data := range docs {
		d, err := Decode(data)
		if err != nil {
			return err
		}
		cur := d.Currency
		for i, l := range d.Lines {
			unitPrice := ""
			if l.UnitPrice != nil {
				unitPrice = cur.Format(*l.UnitPrice)
			}
			events := ""
			if l.Events != nil {
				events = l.Events.String()
			}
			quantity := l.Quantity.String()
			if l.Kind == billing.LineMinimumSpend || l.Kind == LineLateMinimumSpend {
				quantity = ""
			}
			cw.Write([]string{
				d.Customer, d.Period.Month, d.Period.StartDate.String(), lastDay(d.Period).String(), d.Number, string(d.Status),
				strconv.Itoa(i + 1), string(l.Kind), l.Meter, l.Description, l.Period, events, quantity, l.Unit,
				unitPrice, cur.Format(l.Amount), cur.Code,
			})
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}
