package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/keymeter/keymeter/store/duckdb"
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
	cfg, err := common.load(m.Getenv)
	if err != nil {
		return err
	}
	// The store opens sandboxed: DuckDB itself refuses to write, to read
	// other files, to attach, load or reconfigure. (The lake's directory
	// will go in AllowedDirs.)
	db, err := cfg.openStoreWith(ctx, duckdb.Options{Sandbox: true, MemoryLimit: cfg.MemoryLimit})
	if err != nil {
		return err
	}
	defer db.Close()
	rw := newRowWriter(m.Stdout, *format)
	if err := db.StreamSQL(ctx, query, rw); err != nil {
		rw.flush()
		return err
	}
	return rw.finish()
}
