package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/keymeter/keymeter"
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
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return &usageError{msg: "sql: no QUERY given", hint: `Usage: keymeter sql [flags] QUERY   (e.g. keymeter sql "SELECT count(*) FROM events")`}
	}
	if err := checkFormat(*format); err != nil {
		return err
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
	db, err := cfg.openStore(ctx, true)
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

func (m *Main) runRejects(ctx context.Context, args []string) error {
	fs := m.newFlagSet("rejects", "[flags]",
		"Lists the lines ingest rejected, newest first: where each was, why, and its\n"+
			"text (API keys replaced by their fingerprints).")
	var common commonFlags
	common.register(fs, false)
	format := fs.String("format", formatTable, "output `format`: table, json or csv")
	limit := fs.Int("limit", 100, "show at most `N` rejects; 0 for all")
	object := fs.String("file", "", "only rejects from this file (its absolute path)")
	if pos, err := parseFlags(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return &usageError{msg: fmt.Sprintf("rejects: unexpected argument %q", pos[0])}
	}
	if err := checkFormat(*format); err != nil {
		return err
	}
	cfg, err := common.load(m.Getenv)
	if err != nil {
		return err
	}
	db, err := cfg.openStore(ctx, true)
	if err != nil {
		return err
	}
	defer db.Close()
	rejects, err := db.Rejects(ctx, keymeter.RejectFilter{Object: *object, Limit: *limit})
	if err != nil {
		return err
	}
	res := &result{cols: []string{"file", "line", "field", "reason", "text", "rejected_at"}}
	for _, r := range rejects {
		res.rows = append(res.rows, []cell{
			textCell(r.Object), intCell(r.Line), optText(r.Field, r.Field == ""), textCell(r.Reason),
			textCell(r.Text), textCell(r.At.Format(time.RFC3339)),
		})
	}
	return res.write(m.Stdout, *format)
}
