package main

import (
	"github.com/keymeter/keymeter/report"
)

// Output formats (package report writes them), and the invoices' HTML.
const (
	formatTable = report.FormatTable
	formatJSON  = report.FormatJSON
	formatCSV   = report.FormatCSV
	formatHTML  = "html"
)
