package main

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// openStore opens a store in a new directory and closes it when the test
// ends.
func openStore(t *testing.T, dir string) *Store {
	t.Helper()
	st, err := OpenStore(context.Background(), dir)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() }) // closed twice by tests that close it first: the second is a no-op
	return st
}

func TestStorePlacesAnOrderWithItsEmail(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir())

	placed, err := st.PlaceOrder(ctx, "Ada", "ada@example.com", 1999, confirmation)
	require.NoError(t, err)
	assert.Equal(t, int64(1), placed.Order.ID)
	assert.Equal(t, Totals{Orders: 1, RevenueCents: 1999}, placed.Totals)
	assert.WithinDuration(t, time.Now(), placed.Order.PlacedAt, time.Minute)

	due, err := st.DueMail(ctx, time.Now(), 10)
	require.NoError(t, err)
	require.Len(t, due, 1)
	assert.Equal(t, int64(1), due[0].OrderID)
	assert.Equal(t, "ada@example.com", due[0].Mail.To)
	assert.Equal(t, "Order 1 confirmed", due[0].Mail.Subject)
	assert.Equal(t, "Thank you, Ada: we received your order of $19.99.", due[0].Mail.Body)
	assert.Len(t, due[0].Mail.Key, 26, "a random idempotency key")

	got, err := st.Order(ctx, 1)
	require.NoError(t, err)
	assert.Equal(t, placed.Order, got)
	_, err = st.Order(ctx, 2)
	require.ErrorIs(t, err, ErrNoSuchOrder)

	_, err = st.PlaceOrder(ctx, "Grace", "grace@example.com", 500, confirmation)
	require.NoError(t, err)
	recent, err := st.Recent(ctx, 10)
	require.NoError(t, err)
	require.Len(t, recent, 2)
	assert.Equal(t, []int64{2, 1}, []int64{recent[0].ID, recent[1].ID}, "newest first")
	pending, err := st.PendingMail(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(2), pending)
}

func TestStorePlaceOrderIsAllOrNothing(t *testing.T) {
	st := openStore(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	_, err := st.PlaceOrder(ctx, "Ada", "ada@example.com", 1999, func(o Order) Mail {
		cancel() // the order's row is written; the outbox's is not
		return confirmation(o)
	})
	require.ErrorIs(t, err, context.Canceled)

	totals, err := st.Totals(context.Background())
	require.NoError(t, err)
	assert.Equal(t, Totals{}, totals)
	recent, err := st.Recent(context.Background(), 10)
	require.NoError(t, err)
	assert.Empty(t, recent, "the order was rolled back with its email")
}

func TestStoreKeepsItsDataAcrossOpens(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st := openStore(t, dir)
	_, err := st.PlaceOrder(ctx, "Ada", "ada@example.com", 1999, confirmation)
	require.NoError(t, err)
	require.NoError(t, st.Close())

	st = openStore(t, dir)
	totals, err := st.Totals(ctx)
	require.NoError(t, err)
	assert.Equal(t, Totals{Orders: 1, RevenueCents: 1999}, totals)
	v, err := schemaVersion(ctx, st.db)
	require.NoError(t, err)
	assert.Equal(t, len(migrations), v)
	placed, err := st.PlaceOrder(ctx, "Grace", "grace@example.com", 1, confirmation)
	require.NoError(t, err)
	assert.Equal(t, int64(2), placed.Order.ID)
}

func TestStoreMigratesAVersion1Database(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := openSQLite(ctx, filepath.Join(dir, ordersFile))
	require.NoError(t, err)
	require.NoError(t, migrate(ctx, db, migrations[:1]))
	for _, stmt := range []string{
		`INSERT INTO orders (customer, email, total_cents, placed_at) VALUES ('Ada', 'ada@example.com', 1999, 0), ('Grace', 'g@example.com', 501, 0)`,
		`INSERT INTO outbox (order_id, idempotency_key, recipient, subject, body, created_at, sent_at, next_attempt_at) VALUES
			(1, 'k1', 'ada@example.com', 's', 'b', 0, 5, 0), (2, 'k2', 'g@example.com', 's', 'b', 0, NULL, 0)`,
	} {
		_, err := db.ExecContext(ctx, stmt)
		require.NoError(t, err)
	}
	require.NoError(t, db.Close())

	st := openStore(t, dir)
	totals, err := st.Totals(ctx)
	require.NoError(t, err)
	assert.Equal(t, Totals{Orders: 2, RevenueCents: 2500, EmailsSent: 1}, totals, "version 2 backfills the totals")
	placed, err := st.PlaceOrder(ctx, "Alan", "alan@example.com", 100, confirmation)
	require.NoError(t, err)
	assert.Equal(t, Totals{Orders: 3, RevenueCents: 2600, EmailsSent: 1}, placed.Totals)
}

func TestStoreRefusesANewerSchema(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := openSQLite(ctx, filepath.Join(dir, ordersFile))
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, `PRAGMA user_version = 99`)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	_, err = OpenStore(ctx, dir)
	require.ErrorIs(t, err, errSchemaTooNew)
	assert.ErrorContains(t, err, "version 99, this program knows up to 2")
}

func TestStoreOutboxMarks(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, t.TempDir())
	for range 3 {
		_, err := st.PlaceOrder(ctx, "Ada", "ada@example.com", 100, confirmation)
		require.NoError(t, err)
	}
	due, err := st.DueMail(ctx, time.Now(), 2)
	require.NoError(t, err)
	require.Len(t, due, 2, "a batch at most")

	totals, err := st.MarkSent(ctx, []int64{due[0].ID, due[0].ID, due[1].ID})
	require.NoError(t, err)
	assert.Equal(t, int64(2), totals.EmailsSent)
	totals, err = st.MarkSent(ctx, []int64{due[0].ID})
	require.NoError(t, err)
	assert.Equal(t, int64(2), totals.EmailsSent, "a row marked twice counts once")

	due, err = st.DueMail(ctx, time.Now(), 10)
	require.NoError(t, err)
	require.Len(t, due, 1)
	retry := time.Now().Add(time.Hour)
	require.NoError(t, st.MarkFailed(ctx, due[0].ID, "provider down", retry))
	later, err := st.DueMail(ctx, time.Now(), 10)
	require.NoError(t, err)
	assert.Empty(t, later, "not due before its retry")
	later, err = st.DueMail(ctx, retry, 10)
	require.NoError(t, err)
	require.Len(t, later, 1)
	assert.Equal(t, 1, later[0].Attempts)
}

func TestStorePing(t *testing.T) {
	st := openStore(t, t.TempDir())
	require.NoError(t, st.Ping(context.Background()))
	require.NoError(t, st.Close())
	require.ErrorContains(t, st.Ping(context.Background()), "database is closed")
}

func TestMailboxDeliversAKeyOnce(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	box, err := OpenMailbox(ctx, dir)
	require.NoError(t, err)
	defer func() { require.NoError(t, box.Close()) }()

	m := Mail{Key: "K1", To: "ada@example.com", Subject: "Order 1 confirmed", Body: "thanks"}
	require.NoError(t, box.Send(ctx, m))
	require.NoError(t, box.Send(ctx, m), "a repeated send succeeds")
	require.NoError(t, box.Send(ctx, Mail{Key: "K2", To: "grace@example.com", Subject: "Order 2 confirmed"}))
	require.ErrorContains(t, box.Send(ctx, Mail{To: "x@example.com"}), "no idempotency key")
	require.NoError(t, box.Ping(ctx))

	got := readMailbox(t, dir)
	require.Len(t, got, 2)
	assert.Equal(t, delivery{Key: "K1", To: "ada@example.com", Subject: "Order 1 confirmed", Body: "thanks", Attempts: 2}, got[0])
	assert.Equal(t, 1, got[1].Attempts)
}
