package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// migrations bring the orders database from one schema version to the
// next: migrations[v] takes version v to v+1. The version is SQLite's
// user_version, 0 in a new file. Each step runs in a transaction of its
// own, together with the new version number, so a crash leaves the file at
// one version or the next, never between. Append a step to change the
// schema; never edit one that has shipped.
var migrations = []string{
	// 1: orders, and the outbox of their confirmation emails.
	`CREATE TABLE orders (
		id          INTEGER PRIMARY KEY AUTOINCREMENT,
		customer    TEXT    NOT NULL,
		email       TEXT    NOT NULL,
		total_cents INTEGER NOT NULL CHECK (total_cents > 0),
		placed_at   INTEGER NOT NULL -- Unix milliseconds
	);
	CREATE TABLE outbox (
		id              INTEGER PRIMARY KEY AUTOINCREMENT,
		order_id        INTEGER NOT NULL REFERENCES orders (id),
		idempotency_key TEXT    NOT NULL UNIQUE, -- sent with every attempt: the provider delivers a key once
		recipient       TEXT    NOT NULL,
		subject         TEXT    NOT NULL,
		body            TEXT    NOT NULL,
		created_at      INTEGER NOT NULL,
		sent_at         INTEGER,                 -- NULL until the provider accepted the mail
		attempts        INTEGER NOT NULL DEFAULT 0,
		last_error      TEXT,
		next_attempt_at INTEGER NOT NULL
	);
	CREATE INDEX outbox_unsent ON outbox (next_attempt_at, id) WHERE sent_at IS NULL;`,

	// 2: running totals, kept by the transactions that change them, so
	// that the dashboard reads them without counting; backfilled from
	// the rows of version 1.
	`CREATE TABLE totals (
		id            INTEGER PRIMARY KEY CHECK (id = 1),
		orders        INTEGER NOT NULL,
		revenue_cents INTEGER NOT NULL,
		emails_sent   INTEGER NOT NULL
	);
	INSERT INTO totals (id, orders, revenue_cents, emails_sent) SELECT 1,
		(SELECT COUNT(*) FROM orders),
		(SELECT COALESCE(SUM(total_cents), 0) FROM orders),
		(SELECT COUNT(*) FROM outbox WHERE sent_at IS NOT NULL);`,
}

// errSchemaTooNew is returned for a database that a newer version of the
// program has migrated.
var errSchemaTooNew = errors.New("schema is newer than this program")

// schemaVersion returns the database's schema version.
func schemaVersion(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (int, error) {
	var v int
	if err := q.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// migrate applies the steps the database lacks, each in its own
// transaction, and refuses a database newer than steps.
func migrate(ctx context.Context, db *sql.DB, steps []string) error {
	for {
		done, err := migrateOne(ctx, db, steps)
		if err != nil || done {
			return err
		}
	}
}

// migrateOne applies the next step, if any, and reports whether the
// schema is up to date.
func migrateOne(ctx context.Context, db *sql.DB, steps []string) (done bool, err error) {
	tx, err := db.BeginTx(ctx, nil) // immediate: two programs cannot apply the same step
	if err != nil {
		return false, err
	}
	defer func() { _ = tx.Rollback() }() // after Commit, ErrTxDone: nothing to undo
	v, err := schemaVersion(ctx, tx)
	if err != nil {
		return false, err
	}
	switch {
	case v > len(steps):
		return false, fmt.Errorf("%w: version %d, this program knows up to %d", errSchemaTooNew, v, len(steps))
	case v == len(steps):
		return true, nil
	}
	if _, err := tx.ExecContext(ctx, steps[v]); err != nil {
		return false, fmt.Errorf("schema version %d: %w", v+1, err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, v+1)); err != nil {
		return false, fmt.Errorf("schema version %d: %w", v+1, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("schema version %d: %w", v+1, err)
	}
	return false, nil
}
