package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/keymeter/keymeter"
	"github.com/keymeter/keymeter/lake"
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
	_ keymeter.QueryTexter      = (*duckdb.DB)(nil)
	_ keymeter.ProgressReader   = (*duckdb.DB)(nil)
	_ keymeter.CheckpointReader = (*duckdb.DB)(nil)
	_ keymeter.BillingStore     = (*duckdb.DB)(nil)
	_ keymeter.TokenStore       = (*duckdb.DB)(nil)
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
		Alerts:     cfg.alertsLoader(m.Getenv),
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
		Ingest: db, Secrets: db, Usage: db, Meters: db, Queries: db, Coverage: db, Reconciler: db,
		Keys: db, Customers: db, Invoices: db, Rejects: db, SQL: db, Tokens: db, Alerts: db,
		Close: db.Close,
	}
}

// open opens the store of cfg for the service (service.Opener).
func (cfg *Config) open(ctx context.Context, access service.Access) (*service.Stores, error) {
	root, err := cfg.lakeRoot()
	if err != nil {
		return nil, err
	}
	opts := duckdb.Options{ReadOnly: access == service.Read, MemoryLimit: cfg.MemoryLimit}
	if access == service.Query {
		// The store opens sandboxed: DuckDB itself refuses to write, to
		// read other files but the lake's, to attach, load or reconfigure.
		opts = duckdb.Options{Sandbox: true, MemoryLimit: cfg.MemoryLimit}
		if root != nil {
			opts.AllowedDirs = []string{root.Dir()}
		}
	}
	if root != nil {
		opts.Lake = root
	}
	db, err := cfg.openStoreWith(ctx, opts)
	if err != nil {
		return nil, err
	}
	return stores(db), nil
}

// lakeRoot returns the local lake of cfg, nil when the config names none
// or names one on S3 (which only lake ddl uses: DuckDB cannot read S3
// here). A relative directory is relative to the data directory.
func (cfg *Config) lakeRoot() (*lake.Local, error) {
	if cfg.Lake == "" || strings.HasPrefix(cfg.Lake, "s3://") {
		return nil, nil
	}
	dir := cfg.Lake
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(cfg.Data, dir)
	}
	return lake.NewLocal(dir)
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

// compactLake compacts the lake of the store of cfg and deletes the
// files it no longer reads (duckdb.DB.CompactLake and CleanLake).
func (cfg *Config) compactLake(ctx context.Context, root *lake.Local, now func() time.Time, closedBefore time.Time, delay time.Duration) (res duckdb.LakeCompaction, clean duckdb.LakeCleanup, err error) {
	lw, err := lake.NewWriter(root, lake.Options{})
	if err != nil {
		return res, clean, err
	}
	db, err := cfg.openStoreWith(ctx, duckdb.Options{MemoryLimit: cfg.MemoryLimit, Lake: root, Now: now})
	if err != nil {
		return res, clean, err
	}
	defer func() {
		if cerr := db.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close store: %w", cerr)
		}
	}()
	if res, err = db.CompactLake(ctx, lw, closedBefore, lake.CompactOptions{}); err != nil {
		return res, clean, err
	}
	clean, err = db.CleanLake(ctx, root, delay)
	return res, clean, err
}
