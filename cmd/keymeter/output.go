package main

import (
	"io"

	"github.com/keymeter/keymeter/report"
)

// Output formats (package report writes them), and the invoices' HTML.
const (
	formatTable = report.FormatTable
	formatJSON  = report.FormatJSON
	formatCSV   = report.FormatCSV
	formatHTML  = "html"
)

// errWriter remembers the first error of writing to w and fails every
// write after it, so that output written piece by piece (fmt.Fprintf)
// can be checked once at its end.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	if err != nil {
		e.err = err
	}
	return n, err
}
