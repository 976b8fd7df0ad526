package main

import (
	"context"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/report"
)

func (m *Main) runRejects(ctx context.Context, args []string) error {
	fs := m.newFlagSet("rejects", "[flags]",
		"Lists the lines ingest rejected, newest first: where each was, why, its length\n"+
			"in bytes and its text (API keys replaced by their fingerprints; the first\n"+
			"16 KiB of a longer line).")
	var common commonFlags
	common.register(fs, false)
	format := fs.String("format", report.FormatTable, "output `format`: table, json or csv")
	limit := fs.Int("limit", 100, "show at most `N` rejects; 0 for all")
	object := fs.String("file", "", "only rejects from this file (its absolute path)")
	if _, err := parseQueryFlags(fs, format, args, false); err != nil {
		return err
	}
	cfg, err := common.load(m.Getenv)
	if err != nil {
		return err
	}
	rejects, err := m.service(cfg).Rejects(ctx, keymeter.RejectFilter{Object: *object, Limit: *limit})
	if err != nil {
		return err
	}
	return report.Rejects(rejects).Write(m.Stdout, *format)
}
