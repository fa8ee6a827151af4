package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// OutboxMail is a row of the outbox: a confirmation email that the
// provider has not yet accepted.
type OutboxMail struct {
	ID       int64 // the row's id
	OrderID  int64
	Attempts int // sends tried before this one
	Mail     Mail
}

// DueMail returns up to limit unsent mails whose next attempt is due at
// now, oldest first.
func (s *Store) DueMail(ctx context.Context, now time.Time, limit int) ([]OutboxMail, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, order_id, attempts, idempotency_key, recipient, subject, body
		FROM outbox WHERE sent_at IS NULL AND next_attempt_at <= ? ORDER BY id LIMIT ?`, now.UnixMilli(), limit)
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	defer func() { _ = rows.Close() }() // read-only: Err below reports what matters
	var out []OutboxMail
	for rows.Next() {
		var m OutboxMail
		if err := rows.Scan(&m.ID, &m.OrderID, &m.Attempts, &m.Mail.Key, &m.Mail.To, &m.Mail.Subject, &m.Mail.Body); err != nil {
			return nil, fmt.Errorf("outbox: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	return out, nil
}

// MarkSent marks the rows ids sent, in one transaction with the count of
// emails sent, and returns the totals after it. A row already marked is
// not counted twice.
func (s *Store) MarkSent(ctx context.Context, ids []int64) (Totals, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Totals{}, fmt.Errorf("outbox: mark sent: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // after Commit, ErrTxDone: nothing to undo
	list, err := json.Marshal(ids)
	if err != nil {
		return Totals{}, fmt.Errorf("outbox: mark sent: %w", err) // not reached: a slice of ints encodes
	}
	res, err := tx.ExecContext(ctx, `UPDATE outbox SET sent_at = ? WHERE sent_at IS NULL AND id IN (SELECT value FROM json_each(?))`,
		time.Now().UnixMilli(), string(list))
	if err != nil {
		return Totals{}, fmt.Errorf("outbox: mark sent: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return Totals{}, fmt.Errorf("outbox: mark sent: %w", err)
	}
	var t Totals
	if err := tx.QueryRowContext(ctx, `UPDATE totals SET emails_sent = emails_sent + ? WHERE id = 1
		RETURNING orders, revenue_cents, emails_sent`, n).Scan(&t.Orders, &t.RevenueCents, &t.EmailsSent); err != nil {
		return Totals{}, fmt.Errorf("outbox: mark sent: totals: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return Totals{}, fmt.Errorf("outbox: mark sent: commit: %w", err)
	}
	return t, nil
}

// MarkFailed records a failed send of row id and when to try it again.
func (s *Store) MarkFailed(ctx context.Context, id int64, reason string, retryAt time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?
		WHERE id = ? AND sent_at IS NULL`, reason, retryAt.UnixMilli(), id)
	if err != nil {
		return fmt.Errorf("outbox: mark failed: %w", err)
	}
	return nil
}

// PendingMail returns how many emails the provider has not yet accepted.
func (s *Store) PendingMail(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL`).Scan(&n); err != nil {
		return 0, fmt.Errorf("outbox: %w", err)
	}
	return n, nil
}
