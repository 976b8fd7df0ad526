package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/lake"
)

const lakeUsage = `Usage:
  keymeter lake ddl [--location s3://bucket/prefix]   print the Athena DDL of the lake's tables
  keymeter lake compact [flags]                       merge the small files of closed days, delete replaced ones

The lake is keymeter's events as Parquet files that Athena, Trino, Spark and
DuckDB read as they are: one table per kind of log (cloudfront_logs,
cloudfront_real_time_logs, apigateway_logs), Hive-partitioned by the UTC date
of the events, <table>/year=YYYY/month=MM/day=DD/<file>.parquet. API keys are
in it as fingerprints only. The config's lake setting says where it is (a
directory, relative to the data directory, or s3://bucket/prefix for lake ddl);
keymeter sql reads a local lake's files through the views lake_cloudfront_logs,
lake_cloudfront_real_time_logs and lake_apigateway_logs.

Ingest does not write events to the lake yet: the store keeps the lake's
manifest (only the files it lists are read), and lake compact maintains it.
`

func (m *Main) runLake(ctx context.Context, args []string) error {
	return m.runSubcommand(ctx, "lake", lakeUsage, args, []subcommand{
		{"ddl", m.runLakeDDL},
		{"compact", m.runLakeCompact},
	})
}

func (m *Main) runLakeDDL(ctx context.Context, args []string) error {
	fs := m.newFlagSet("lake ddl", "[flags]",
		"Prints one CREATE EXTERNAL TABLE statement per lake table, for Athena (and\n"+
			"Trino through a Glue or Hive metastore), over a copy of the lake at\n"+
			"--location. The tables use partition projection: year, month and day are\n"+
			"projected as integers onto storage.location.template, so no partition ever\n"+
			"has to be added. Run each statement in Athena's query editor.")
	location := fs.String("location", "", "the lake's root on S3, `s3://bucket/prefix` (default: the config's lake setting, when it is on S3)")
	var common commonFlags
	common.register(fs, false)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return &usageError{msg: fmt.Sprintf("lake ddl: unexpected argument %q", pos[0]), hint: "Usage: keymeter lake ddl [--location s3://bucket/prefix]"}
	}
	loc := *location
	if loc == "" {
		cfg, err := common.load(m.Getenv)
		if err != nil {
			return err
		}
		if !strings.HasPrefix(cfg.Lake, "s3://") {
			return &usageError{msg: "lake ddl: no --location given, and the config's lake setting is not on S3",
				hint: "Usage: keymeter lake ddl --location s3://bucket/prefix   (where a copy of the lake is)"}
		}
		loc = cfg.Lake
	}
	ddl, err := lake.DDL(loc)
	if err != nil {
		return err
	}
	_, err = fmt.Fprint(m.Stdout, ddl)
	return err
}

func (m *Main) runLakeCompact(ctx context.Context, args []string) error {
	fs := m.newFlagSet("lake compact", "[flags]",
		"Merges the small files (under 64 MiB) of each closed day of the lake into\n"+
			"files of up to 512 MiB, by swapping the manifest's entries in one\n"+
			"transaction, then deletes the files replaced at least --delay ago (queries\n"+
			"that listed them before the swap may still read them until then), and\n"+
			"the files the manifest does not list that are older than --delay (left by a\n"+
			"crash between a file's write and the commit that would have listed it).")
	closed := fs.Duration("closed-after", 24*time.Hour, "a day is closed this long after its end (UTC)")
	delay := fs.Duration("delay", time.Hour, "how long replaced and unlisted files are kept before they are deleted")
	var common commonFlags
	common.register(fs, false)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return &usageError{msg: fmt.Sprintf("lake compact: unexpected argument %q", pos[0]), hint: "Usage: keymeter lake compact [--closed-after 24h] [--delay 1h]"}
	}
	if *closed < 0 || *delay < 0 {
		return keymeter.Errorf(keymeter.EINVALID, "lake compact: --closed-after and --delay must not be negative")
	}
	cfg, err := common.load(m.Getenv)
	if err != nil {
		return err
	}
	root, err := cfg.lakeRoot()
	if err != nil {
		return err
	}
	if root == nil {
		return keymeter.Errorf(keymeter.EINVALID, "lake compact: the config's lake setting names no local lake directory")
	}
	closedBefore := m.now().UTC().Add(-*closed).Truncate(24 * time.Hour)
	res, clean, err := cfg.compactLake(ctx, root, m.now, closedBefore, *delay)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "merged %d files into %d (%d rows) of the days before %s\n", res.Inputs, res.Merges, res.Rows, closedBefore.Format(time.DateOnly))
	fmt.Fprintf(m.Stdout, "deleted %d replaced files and %d unlisted files\n", clean.Replaced, clean.Unlisted)
	return nil
}
