package main

import (
	"context"
	"fmt"
	"io"
	"strings"
)

func (m *Main) runSQL(ctx context.Context, args []string) error {
	fs := m.newFlagSet("sql", "[flags] QUERY",
		"Runs a read-only SQL query over the store (DuckDB SQL with Athena's integer\n"+
			"division). Views: cloudfront_logs (the columns of AWS's Athena table for\n"+
			"CloudFront standard logs, with year/month/day partitions) and events (every\n"+
			"source, normalised). API keys appear as fingerprints, never as keys.\n"+
			"QUERY - reads the query from standard input.")
	var common commonFlags
	common.register(fs, false)
	format := fs.String("format", formatTable, "output `format`: table, json or csv")
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
	db, err := m.openReadOnly(ctx, &common)
	if err != nil {
		return err
	}
	defer db.Close()
	t, err := db.QuerySQL(ctx, query)
	if err != nil {
		return err
	}
	res := &result{cols: t.Columns}
	for _, row := range t.Rows {
		cells := make([]cell, len(row))
		for i, v := range row {
			cells[i] = anyCell(v)
		}
		res.rows = append(res.rows, cells)
	}
	return res.write(m.Stdout, *format)
}
