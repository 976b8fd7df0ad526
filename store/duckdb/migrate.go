package duckdb

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"

	"github.com/keymeter/keymeter"
)

// A store's schema has a version, kept in meta.schema_version. Version 1
// is the schema of schema.go as first released (with the billing and
// rollup tables, which it added without a version). Every later change is
// a migration below: a new store is created at version 1 and brought up to
// date by running every migration in order, and a store written by an
// older keymeter is upgraded the same way when it is first opened for
// writing. Each migration runs in one transaction with the version it
// reaches, so an interrupted upgrade leaves the store at the last version
// reached, and the next open goes on from there.
//
// To change the schema, append a migration; never edit one that has been
// released, nor the version 1 schema.

// migration brings the schema from version To-1 to version To.
type migration struct {
	To   int
	What string // what it changes, for errors
	// Up changes the schema (and data) inside tx.
	Up func(ctx context.Context, tx *sql.Tx) error
}

// migrations are the schema changes since version 1, in order: the
// migration to version n is migrations[n-2].
var migrations = []migration{
	{To: 2, What: "history: key ownership over time, retracted events, plan snapshots", Up: migrateHistory},
	{To: 3, What: "rejects keep the length of the record", Up: func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `ALTER TABLE rejects ADD COLUMN text_len BIGINT`)
		return err
	}},
	{To: 4, What: "daily rollups sum bytes and latency as HUGEINT", Up: hugeRollups},
	{To: 5, What: "the edge join's rollups and each source's progress", Up: migrateEdge},
	{To: 6, What: "API tokens, kept as hashes", Up: migrateTokens},
	{To: 7, What: "alert crossings and the webhook outbox", Up: migrateAlerts},
	{To: 8, What: "the lake's manifest: its files, and those compaction replaced", Up: migrateLake},
}

// schemaVersion is the version this keymeter writes; Open refuses a
// store of a newer version, and upgrades an older one.
var schemaVersion = 1 + len(migrations)

// UpgradeError says that a store was written by an older keymeter and
// must be upgraded, which needs it open for writing.
type UpgradeError struct {
	From, To int
}

// Error implements the error interface.
func (e *UpgradeError) Error() string {
	return fmt.Sprintf("the store has schema version %d and this keymeter needs %d: open it for writing once to upgrade it", e.From, e.To)
}

// create makes the version 1 schema of a new store, then runs every
// migration.
func (s *DB) create(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, schema+billingSchema+rollupSchema); err != nil {
		return fmt.Errorf("create schema: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, `INSERT OR REPLACE INTO meta VALUES ('schema_version', '1')`); err != nil {
		return fmt.Errorf("record schema version: %w", err)
	}
	return s.upgrade(ctx, 1)
}

// upgrade runs the migrations after version from, each in its own
// transaction together with the version it reaches.
func (s *DB) upgrade(ctx context.Context, from int) error {
	if from == 1 {
		// Version 1 stores may predate the billing and rollup tables.
		if _, err := s.db.ExecContext(ctx, billingSchema+rollupSchema); err != nil {
			return fmt.Errorf("create schema: %w", err)
		}
	}
	for _, m := range migrations {
		if m.To <= from {
			continue
		}
		if err := s.runMigration(ctx, m); err != nil {
			return keymeter.Errorf(keymeter.EINTERNAL, "upgrade the store to schema version %d (%s): %v", m.To, m.What, err)
		}
	}
	return nil
}

func (s *DB) runMigration(ctx context.Context, m migration) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := m.Up(ctx, tx); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)`, strconv.Itoa(m.To)); err != nil {
		return err
	}
	return tx.Commit()
}
