package main

import (
	"context"
	"time"

	"github.com/keymeter/keymeter"
)

func (m *Main) runRejects(ctx context.Context, args []string) error {
	fs := m.newFlagSet("rejects", "[flags]",
		"Lists the lines ingest rejected, newest first: where each was, why, its length\n"+
			"in bytes and its text (API keys replaced by their fingerprints; the first\n"+
			"16 KiB of a longer line).")
	var common commonFlags
	common.register(fs, false)
	format := fs.String("format", formatTable, "output `format`: table, json or csv")
	limit := fs.Int("limit", 100, "show at most `N` rejects; 0 for all")
	object := fs.String("file", "", "only rejects from this file (its absolute path)")
	if _, err := parseQueryFlags(fs, format, args, false); err != nil {
		return err
	}
	db, err := m.openReadOnly(ctx, &common)
	if err != nil {
		return err
	}
	defer db.Close()
	rejects, err := db.Rejects(ctx, keymeter.RejectFilter{Object: *object, Limit: *limit})
	if err != nil {
		return err
	}
	res := &result{cols: []string{"file", "line", "field", "reason", "length", "text", "rejected_at"}}
	for _, r := range rejects {
		res.rows = append(res.rows, []cell{
			textCell(r.Object), intCell(r.Line), optText(r.Field, r.Field == ""), textCell(r.Reason),
			intCell(r.TextLen), textCell(r.Text), textCell(r.At.Format(time.RFC3339)),
		})
	}
	return res.write(m.Stdout, *format)
}
