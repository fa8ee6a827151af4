package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the pure-Go SQLite driver, registered as "sqlite"
)

// The orders database is one SQLite file in the data directory. It is
// opened in WAL mode with synchronous=FULL: a transaction that committed
// is on disk, so an order answered 2xx survives a crash of the process
// (SIGKILL) and of the machine. Writers take the write lock when their
// transaction begins (_txlock=immediate) and wait up to busyTimeout for
// it, so concurrent orders queue up instead of failing with SQLITE_BUSY.
const (
	ordersFile  = "orders.db"
	busyTimeout = 10 * time.Second
)

// ErrNoSuchOrder is returned for an order id that the database does not
// have.
var ErrNoSuchOrder = errors.New("no such order")

// Store is the orders database: orders, the outbox of their confirmation
// emails, and running totals. Its methods are safe for concurrent use;
// SQLite serializes the writes.
type Store struct {
	db   *sql.DB
	path string
}

// openSQLite opens the SQLite database at path with the settings above,
// creating the file when it does not exist, and checks that it answers.
func openSQLite(ctx context.Context, path string) (*sql.DB, error) {
	dsn := "file:" + filepath.ToSlash(path) + "?" + strings.Join([]string{
		fmt.Sprintf("_busy_timeout=%d", busyTimeout.Milliseconds()),
		"_journal_mode=WAL",
		"_synchronous=FULL",
		"_foreign_keys=1",
		"_txlock=immediate",
	}, "&")
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := db.PingContext(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("open %s: %w", path, err), db.Close())
	}
	return db, nil
}

// OpenStore opens, or creates, the orders database in dir (created if
// missing) and brings its schema to the latest version.
func OpenStore(ctx context.Context, dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	path := filepath.Join(dir, ordersFile)
	db, err := openSQLite(ctx, path)
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx, db, migrations); err != nil {
		return nil, errors.Join(fmt.Errorf("migrate %s: %w", path, err), db.Close())
	}
	return &Store{db: db, path: path}, nil
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Ping checks that the database answers a query.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("ping %s: %w", s.path, err)
	}
	return nil
}

// Close closes the database once the queries in flight are done.
func (s *Store) Close() error { return s.db.Close() }

// Totals are the running figures of the orders and their emails, kept in
// the same transactions that change them.
type Totals struct {
	Orders       int64 `json:"orders"`
	RevenueCents int64 `json:"revenue_cents"`
	EmailsSent   int64 `json:"emails_sent"`
}

// Placed is an order as its transaction committed it, with the totals
// right after it.
type Placed struct {
	Order  Order  `json:"order"`
	Totals Totals `json:"totals"`
}

// PlaceOrder writes the order, its confirmation email in the outbox and
// the new totals in one transaction: either all of them are on disk when
// it returns nil, or none is.
func (s *Store) PlaceOrder(ctx context.Context, customer, email string, totalCents int64, mail func(Order) Mail) (Placed, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Placed{}, fmt.Errorf("place order: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // after Commit, ErrTxDone: nothing to undo

	now := time.Now().UTC()
	res, err := tx.ExecContext(ctx, `INSERT INTO orders (customer, email, total_cents, placed_at) VALUES (?, ?, ?, ?)`,
		customer, email, totalCents, now.UnixMilli())
	if err != nil {
		return Placed{}, fmt.Errorf("place order: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return Placed{}, fmt.Errorf("place order: %w", err)
	}
	order := Order{ID: id, Customer: customer, Email: email, TotalCents: totalCents, PlacedAt: time.UnixMilli(now.UnixMilli()).UTC()}
	m := mail(order)
	if _, err := tx.ExecContext(ctx, `INSERT INTO outbox (order_id, idempotency_key, recipient, subject, body, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		id, rand.Text(), m.To, m.Subject, m.Body, now.UnixMilli(), now.UnixMilli()); err != nil {
		return Placed{}, fmt.Errorf("place order: outbox: %w", err)
	}
	var t Totals
	if err := tx.QueryRowContext(ctx, `UPDATE totals SET orders = orders + 1, revenue_cents = revenue_cents + ? WHERE id = 1
		RETURNING orders, revenue_cents, emails_sent`, totalCents).Scan(&t.Orders, &t.RevenueCents, &t.EmailsSent); err != nil {
		return Placed{}, fmt.Errorf("place order: totals: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return Placed{}, fmt.Errorf("place order: commit: %w", err)
	}
	return Placed{Order: order, Totals: t}, nil
}

const orderColumns = `id, customer, email, total_cents, placed_at`

func scanOrder(row interface{ Scan(...any) error }) (Order, error) {
	var o Order
	var placed int64
	if err := row.Scan(&o.ID, &o.Customer, &o.Email, &o.TotalCents, &placed); err != nil {
		return Order{}, err
	}
	o.PlacedAt = time.UnixMilli(placed).UTC()
	return o, nil
}

// Recent returns the last n orders, newest first.
func (s *Store) Recent(ctx context.Context, n int) ([]Order, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+orderColumns+` FROM orders ORDER BY id DESC LIMIT ?`, n)
	if err != nil {
		return nil, fmt.Errorf("recent orders: %w", err)
	}
	defer func() { _ = rows.Close() }() // read-only: Err below reports what matters
	out := make([]Order, 0, n)
	for rows.Next() {
		o, err := scanOrder(rows)
		if err != nil {
			return nil, fmt.Errorf("recent orders: %w", err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("recent orders: %w", err)
	}
	return out, nil
}

// Order returns the order id, or an error wrapping [ErrNoSuchOrder].
func (s *Store) Order(ctx context.Context, id int64) (Order, error) {
	o, err := scanOrder(s.db.QueryRowContext(ctx, `SELECT `+orderColumns+` FROM orders WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Order{}, fmt.Errorf("order %d: %w", id, ErrNoSuchOrder)
	}
	if err != nil {
		return Order{}, fmt.Errorf("order %d: %w", id, err)
	}
	return o, nil
}

// Totals returns the running totals.
func (s *Store) Totals(ctx context.Context) (Totals, error) {
	var t Totals
	err := s.db.QueryRowContext(ctx, `SELECT orders, revenue_cents, emails_sent FROM totals WHERE id = 1`).
		Scan(&t.Orders, &t.RevenueCents, &t.EmailsSent)
	if err != nil {
		return Totals{}, fmt.Errorf("totals: %w", err)
	}
	return t, nil
}
