package main

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/spragtest"
)

// senderFunc is a Sender made of a function.
type senderFunc func(ctx context.Context, m Mail) error

func (f senderFunc) Send(ctx context.Context, m Mail) error { return f(ctx, m) }

// place places n orders in st.
func place(t *testing.T, st *Store, n int) {
	t.Helper()
	for range n {
		_, err := st.PlaceOrder(context.Background(), "Ada", "ada@example.com", 100, confirmation)
		require.NoError(t, err)
	}
}

// startOutbox starts a drainer of st with short waits; it stops when the
// test ends.
func startOutbox(t *testing.T, st *Store, sender Sender) *Outbox {
	t.Helper()
	b := NewOutbox(st, sender)
	b.poll, b.retry = 20*time.Millisecond, 10*time.Millisecond
	spragtest.Start(t, "outbox", b)
	return b
}

// pendingMail returns the outbox's unsent mails.
func pendingMail(t *testing.T, st *Store) int64 {
	t.Helper()
	n, err := st.PendingMail(context.Background())
	require.NoError(t, err)
	return n
}

// TestOutboxSendsWhatTheOutboxHolds: the drainer sends the mail left
// unsent at its start, and Wake makes it send new mail at once. It runs in
// a synctest bubble, where synctest.Wait returns once the drainer is idle
// (the database's file I/O is not durable blocking, so Wait waits it
// out), and where its hour-long poll would be the only other way to drain.
func TestOutboxSendsWhatTheOutboxHolds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := openStore(t, t.TempDir())
		place(t, st, 3) // before the start: left by an earlier run
		var mu sync.Mutex
		var keys []string
		b := NewOutbox(st, senderFunc(func(_ context.Context, m Mail) error {
			mu.Lock()
			defer mu.Unlock()
			keys = append(keys, m.Key)
			return nil
		}))
		b.poll = time.Hour
		rt := spragtest.Runtime(t)
		events := spragtest.Record(t, rt.Bus, MailSent.Name())
		spragtest.Start(t, "outbox", b, spragtest.WithRuntime(rt))
		began := time.Now()

		synctest.Wait() // the start's drain is done; the drainer waits
		assert.Zero(t, pendingMail(t, st), "the earlier run's mail is sent at the start")
		require.Equal(t, 1, events.Len(), "one batch")

		place(t, st, 2)
		synctest.Wait()
		assert.Equal(t, int64(2), pendingMail(t, st), "new mail waits for a wake-up or the poll")
		b.Wake()
		synctest.Wait()
		assert.Zero(t, pendingMail(t, st), "Wake makes the drainer send the new mail at once")
		assert.Zero(t, time.Since(began), "without waiting for the poll")
		require.Equal(t, 2, events.Len(), "a second batch")
		assert.Equal(t, int64(5), events.Payloads()[1].(Totals).EmailsSent)
		mu.Lock()
		assert.Len(t, keys, 5, "each mail sent once")
		mu.Unlock()
	})
}

func TestOutboxRetriesARefusedMail(t *testing.T) {
	st := openStore(t, t.TempDir())
	place(t, st, 1)
	var mu sync.Mutex
	calls := 0
	startOutbox(t, st, senderFunc(func(context.Context, Mail) error {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls < 3 {
			return errors.New("provider down")
		}
		return nil
	}))
	eventually(t, 10*time.Second, func() bool { return pendingMail(t, st) == 0 }, "sent at the third try")
	mu.Lock()
	assert.Equal(t, 3, calls)
	mu.Unlock()
}

// TestOutboxDeliveredButNotRecorded is the window a SIGKILL can hit: the
// provider accepted a mail, and the outbox did not record it. The mail is
// sent again with its key, and the provider delivers it once.
func TestOutboxDeliveredButNotRecorded(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, dir)
	box, err := OpenMailbox(context.Background(), dir)
	require.NoError(t, err)
	t.Cleanup(func() { _ = box.Close() }) // after the drainer's stop, registered later
	place(t, st, 2)
	var mu sync.Mutex
	lost := false
	startOutbox(t, st, senderFunc(func(ctx context.Context, m Mail) error {
		if err := box.Send(ctx, m); err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		if !lost {
			lost = true
			return errors.New("connection reset after the provider accepted the mail") // the answer is lost
		}
		return nil
	}))
	eventually(t, 10*time.Second, func() bool { return pendingMail(t, st) == 0 }, "every mail is recorded sent")

	got := readMailbox(t, dir)
	require.Len(t, got, 2, "each mail delivered once")
	assert.Equal(t, 2, got[0].Attempts, "the first one was sent twice")
	assert.Equal(t, 1, got[1].Attempts)
}

// TestOutboxStopRecordsWhatWasSent stops the drainer in the middle of a
// batch: what the provider accepted is recorded, what it did not is sent
// at the next start.
func TestOutboxStopRecordsWhatWasSent(t *testing.T) {
	st := openStore(t, t.TempDir())
	place(t, st, 2)
	blocked := make(chan struct{})
	var once sync.Once
	b := startOutbox(t, st, senderFunc(func(ctx context.Context, m Mail) error {
		if m.Subject == "Order 1 confirmed" {
			return nil
		}
		once.Do(func() { close(blocked) })
		<-ctx.Done() // a provider that hangs until the stop
		return ctx.Err()
	}))
	<-blocked
	spragtest.Stop(t, b, 10*time.Second)

	due, err := st.DueMail(context.Background(), time.Now(), 10)
	require.NoError(t, err)
	require.Len(t, due, 1, "order 1's mail is recorded sent")
	assert.Equal(t, int64(2), due[0].OrderID)
	assert.Zero(t, due[0].Attempts, "a send cut by the stop is no failure")

	startOutbox(t, st, senderFunc(func(context.Context, Mail) error { return nil }))
	eventually(t, 10*time.Second, func() bool { return pendingMail(t, st) == 0 }, "sent at the next start")
}
