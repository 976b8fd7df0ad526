// Package keymeter is the vocabulary of keymeter, usage metering and
// usage-based billing built from the access logs an HTTP API already
// produces.
//
// This package holds plain domain types (Event, Batch, Key, Object,
// UsageQuery, the typed EventFilter and Measure a meter totals, ...),
// the error type every layer speaks, and the small
// interfaces the other packages implement. It imports only the standard
// library; SQL, AWS and HTTP live in the packages that implement it:
//
//	format/<name>   pure parsers: bytes in, a filled Event out
//	source/<name>   transports: files, S3, Kinesis
//	ingest          decode, attribute, dedupe, batch and write
//	store/<name>    Store backends (duckdb) and their contract suite
//	cmd/keymeter    the command-line interface
package keymeter
