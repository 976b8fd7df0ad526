package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/keymeter/keymeter/lake"
)

const lakeUsage = `Usage:
  keymeter lake ddl [--location s3://bucket/prefix]   print the Athena DDL of the lake's tables

The lake is keymeter's events as Parquet files that Athena, Trino, Spark and
DuckDB read as they are: one table per kind of log (cloudfront_logs,
cloudfront_real_time_logs, apigateway_logs), Hive-partitioned by the UTC date
of the events, <table>/year=YYYY/month=MM/day=DD/<file>.parquet. API keys are
in it as fingerprints only.
`

func (m *Main) runLake(ctx context.Context, args []string) error {
	return m.runSubcommand(ctx, "lake", lakeUsage, args, []subcommand{
		{"ddl", m.runLakeDDL},
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
