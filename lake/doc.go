// Package lake writes keymeter's events as a Parquet lake that DuckDB,
// Athena and Trino read as it is: one table per kind of log, with the
// columns of AWS's Athena tables where AWS has one, Hive-partitioned by
// the UTC date of the events,
//
//	<table>/year=YYYY/month=MM/day=DD/<file>.parquet
//
// under a Root: a local directory (Local) or, later, an S3 prefix.
//
// The package owns the layout, the writer, the manifest entries that
// describe each file, compaction, the Athena DDL (DDL) and the DuckDB
// SQL that reads a list of files (ReadSQL). It keeps no state: the store
// lists the files in its manifest, in the transaction that commits the
// events, and only listed files are ever read.
//
// A store transaction writes its events through one Batch:
//
//	b, err := w.Begin(ctx, loadKey, loadedAt)
//	for each event: err = b.Add(&ev, &facts)   // ev already redacted
//	entries, err := b.Finish(ctx)              // files durable and visible
//	... commit entries in the manifest, with the events' ledger rows ...
//
// Files are immutable. Finish makes each file durable before returning,
// so a crash leaves at most files no manifest lists. A batch's file
// names derive from its key, so a retry of the same batch replaces them.
//
// Files are written for Athena and Trino: DataPage v1, zstd (or snappy),
// dictionaries for repeated strings and for numbers of few distinct
// values (durations, ports, request sizes), plain encoding otherwise, INT64
// timestamps adjusted to UTC (microseconds), and row groups of at most
// Options.RowGroupRows rows.
package lake
