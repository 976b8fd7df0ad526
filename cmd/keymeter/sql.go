package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/keymeter/keymeter/report"
)

func (m *Main) runSQL(ctx context.Context, args []string) error {
	fs := m.newFlagSet("sql", "[flags] QUERY",
		"Runs a read-only SQL query over the store (DuckDB SQL with Athena's integer\n"+
			"division). Views: cloudfront_logs (the columns of AWS's Athena table for\n"+
			"CloudFront standard logs, with year/month/day partitions) and events (every\n"+
			"source, normalised). API keys appear as fingerprints, never as keys.\n"+
			"Only one read query runs (SELECT, WITH, FROM, VALUES, DESCRIBE, SHOW,\n"+
			"SUMMARIZE), over the store's own tables and views: no file is written, and\n"+
			"none but the store's is read. Rows are printed as they are read.\n"+
			"QUERY - reads the query from standard input.")
	var common commonFlags
	common.register(fs, false)
	format := fs.String("format", report.FormatTable, "output `format`: table, json or csv")
	pos, err := parseQueryFlags(fs, format, args, true)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return &usageError{msg: "sql: no QUERY given", hint: `Usage: keymeter sql [flags] QUERY   (e.g. keymeter sql "SELECT count(*) FROM events")`}
	}
	query := strings.Join(pos, " ")
	if query == "-" {
		b, err := io.ReadAll(m.Stdin)
		if err != nil {
			return fmt.Errorf("read query: %w", err)
		}
		query = string(b)
	}
	cfg, err := common.load(m.Getenv)
	if err != nil {
		return err
	}
	rw := report.NewRowWriter(m.Stdout, *format)
	if err := m.service(cfg).SQL(ctx, query, rw); err != nil {
		return rw.Abort(err)
	}
	return rw.Finish()
}
