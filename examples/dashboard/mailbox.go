package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// mailboxFile is the Mailbox's database in the data directory.
const mailboxFile = "mailbox.db"

// mailboxMigrations are the Mailbox's schema steps; see migrations.
var mailboxMigrations = []string{
	// 1: the mails delivered, one row per idempotency key.
	`CREATE TABLE deliveries (
		idempotency_key TEXT    PRIMARY KEY,
		recipient       TEXT    NOT NULL,
		subject         TEXT    NOT NULL,
		body            TEXT    NOT NULL,
		delivered_at    INTEGER NOT NULL, -- Unix milliseconds
		attempts        INTEGER NOT NULL  -- sends of this key: more than 1 when a send was repeated
	);`,
}

// Mailbox stands in for a mail provider when EMAIL_KEY is not set: it
// delivers a mail by writing it to mailbox.db in the data directory, where
// a test, or a curious user with the sqlite3 shell, reads what customers
// would have received. Like a provider that honours idempotency keys, it
// delivers each key once: a send repeated with the key of a mail already
// delivered returns success, delivers nothing more, and is counted in the
// delivery's attempts. A nil error from Send means the delivery is on
// disk (synchronous=FULL). Safe for concurrent use.
type Mailbox struct {
	db   *sql.DB
	path string
}

// OpenMailbox opens, or creates, the mailbox in dir.
func OpenMailbox(ctx context.Context, dir string) (*Mailbox, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	path := filepath.Join(dir, mailboxFile)
	db, err := openSQLite(ctx, path)
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx, db, mailboxMigrations); err != nil {
		return nil, errors.Join(fmt.Errorf("migrate %s: %w", path, err), db.Close())
	}
	return &Mailbox{db: db, path: path}, nil
}

// Path returns the mailbox's database file.
func (b *Mailbox) Path() string { return b.path }

// Send delivers m once per m.Key. A mail without a key is refused.
func (b *Mailbox) Send(ctx context.Context, m Mail) error {
	if m.Key == "" {
		return fmt.Errorf("mailbox: mail to %s has no idempotency key", m.To)
	}
	_, err := b.db.ExecContext(ctx, `INSERT INTO deliveries (idempotency_key, recipient, subject, body, delivered_at, attempts)
		VALUES (?, ?, ?, ?, ?, 1)
		ON CONFLICT (idempotency_key) DO UPDATE SET attempts = attempts + 1`,
		m.Key, m.To, m.Subject, m.Body, time.Now().UnixMilli())
	if err != nil {
		return fmt.Errorf("mailbox: deliver to %s: %w", m.To, err)
	}
	return nil
}

// Ping checks that the mailbox answers a query.
func (b *Mailbox) Ping(ctx context.Context) error {
	var one int
	if err := b.db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("ping %s: %w", b.path, err)
	}
	return nil
}

// Close closes the mailbox's database.
func (b *Mailbox) Close() error { return b.db.Close() }
