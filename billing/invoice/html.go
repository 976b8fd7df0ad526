package invoice

import (
	"bytes"
	_ "embed"
	"html/template"
	"io"
)

//go:embed invoice.html
var pageHTML string

var page = template.Must(template.New("invoice").Parse(pageHTML))

// WriteHTML renders invoices, given as canonical JSON, as one printable
// HTML page: self-contained (inline CSS, no script, nothing fetched), one
// invoice per printed page. The reproducing queries are shown on screen,
// folded, and left out of print.
func WriteHTML(w io.Writer, docs [][]byte) error {
	data := struct {
		Title    string
		Invoices []view
	}{}
	for _, b := range docs {
		d, err := Decode(b)
		if err != nil {
			return err
		}
		data.Invoices = append(data.Invoices, newView(d))
	}
	switch len(data.Invoices) {
	case 0:
		data.Title = "No invoices"
	case 1:
		v := data.Invoices[0]
		data.Title = v.Title + " · " + v.Customer + " · " + v.Period
	default:
		data.Title = "Invoices"
	}
	var b bytes.Buffer
	if err := page.Execute(&b, data); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}
