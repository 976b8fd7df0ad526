package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/server"
	"github.com/keymeter/keymeter/service"
	"github.com/keymeter/keymeter/store/duckdb"
)

// This file is the one place that wires the store: the embedded DuckDB
// store in the data directory, opened for each operation of the service.
// Every other file of the command speaks to the service only.

// The DuckDB store has every ability the service takes.
var (
	_ keymeter.Store            = (*duckdb.DB)(nil)
	_ service.SecretChecker     = (*duckdb.DB)(nil)
	_ service.UsageReader       = (*duckdb.DB)(nil)
	_ keymeter.MeterTotaler     = (*duckdb.DB)(nil)
	_ keymeter.CoverageReporter = (*duckdb.DB)(nil)
	_ keymeter.Reconciler       = (*duckdb.DB)(nil)
	_ keymeter.KeyStore         = (*duckdb.DB)(nil)
	_ keymeter.CustomerStore    = (*duckdb.DB)(nil)
	_ keymeter.InvoiceStore     = (*duckdb.DB)(nil)
	_ keymeter.RejectLister     = (*duckdb.DB)(nil)
	_ keymeter.SQLQuerier       = (*duckdb.DB)(nil)
)

// service returns the application's operations over the store of cfg,
// with m's clock.
func (m *Main) service(cfg *Config) *service.Service {
	return &service.Service{
		Open:       m.opener(cfg),
		Now:        m.now,
		Settle:     cfg.settle(),
		Grace:      cfg.grace(),
		SecretFile: cfg.secretPath(),
	}
}

// opener returns how m's commands open the store of cfg: the server's
// shared store when m runs inside keymeter serve; else, when a keymeter
// serve answers on the data directory's socket, a forwardError, upon
// which Run has the server carry the command out; else the store itself.
func (m *Main) opener(cfg *Config) service.Opener {
	if m.shared != nil {
		return m.shared
	}
	return func(ctx context.Context, access service.Access) (*service.Stores, error) {
		if sock := cfg.socketPath(); server.Answers(sock) {
			return nil, &forwardError{socket: sock}
		}
		return cfg.open(ctx, access)
	}
}

// socketPath is the unix socket keymeter serve takes commands on, in the
// data directory.
func (cfg *Config) socketPath() string {
	return filepath.Join(cfg.Data, "keymeter.sock")
}

// stores returns every ability of db as the service takes them.
func stores(db *duckdb.DB) *service.Stores {
	return &service.Stores{
		Ingest: db, Secrets: db, Usage: db, Meters: db, Coverage: db, Reconciler: db,
		Keys: db, Customers: db, Invoices: db, Rejects: db, SQL: db,
		Close: db.Close,
	}
}

// open opens the store of cfg for the service (service.Opener).
func (cfg *Config) open(ctx context.Context, access service.Access) (*service.Stores, error) {
	opts := duckdb.Options{ReadOnly: access == service.Read, MemoryLimit: cfg.MemoryLimit}
	if access == service.Query {
		// The store opens sandboxed: DuckDB itself refuses to write, to
		// read other files, to attach, load or reconfigure. (The lake's
		// directory will go in AllowedDirs.)
		opts = duckdb.Options{Sandbox: true, MemoryLimit: cfg.MemoryLimit}
	}
	db, err := cfg.openStoreWith(ctx, opts)
	if err != nil {
		return nil, err
	}
	return stores(db), nil
}

// storePath is the DuckDB file in the data directory.
func (cfg *Config) storePath() string {
	return filepath.Join(cfg.Data, "keymeter.duckdb")
}

// openStoreWith opens the store with opts (ReadOnly or Sandbox to read),
// creating the data directory when writable, and upgrading a store
// written by an older keymeter first.
func (cfg *Config) openStoreWith(ctx context.Context, opts duckdb.Options) (*duckdb.DB, error) {
	readOnly := opts.ReadOnly || opts.Sandbox
	if readOnly {
		if _, err := os.Stat(cfg.storePath()); errors.Is(err, fs.ErrNotExist) {
			return nil, keymeter.Errorf(keymeter.ENOTFOUND, "no store in %s: run keymeter ingest first (or pass --data)", cfg.Data)
		}
	} else if err := os.MkdirAll(cfg.Data, 0o750); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	if opts.DedupeWindow == 0 {
		opts.DedupeWindow, _ = cfg.dedupeWindow() // checked by Validate
	}
	db, err := duckdb.Open(ctx, cfg.storePath(), opts)
	var up *duckdb.UpgradeError
	if readOnly && errors.As(err, &up) {
		// A store written by an older keymeter is upgraded by the first
		// command that opens it, even one that only reads.
		db, err = duckdb.Open(ctx, cfg.storePath(), duckdb.Options{MemoryLimit: opts.MemoryLimit})
		if err != nil {
			return nil, err
		}
		if err := db.Close(); err != nil {
			return nil, fmt.Errorf("upgrade store: %w", err)
		}
		db, err = duckdb.Open(ctx, cfg.storePath(), opts)
	}
	return db, err
}
