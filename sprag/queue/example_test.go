package queue_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/queue"
)

// The examples of this file are the code of docs/primitives.md.

// Mailer sends emails through a queue with four workers.
type Mailer struct {
	sprag.Service
	emails *queue.Queue[string]
	sent   atomic.Int32
}

func (m *Mailer) OnStart(ctx context.Context) error {
	var err error
	m.emails, err = queue.New(m, m.send,
		queue.Workers(4), queue.Capacity(1000), queue.Label("emails"),
		queue.Overflow(m.keepForLater))
	return err
}

func (m *Mailer) send(ctx context.Context, to string) error {
	m.sent.Add(1) // a real mailer talks to its SMTP server with ctx
	return nil
}

func (m *Mailer) keepForLater(ctx context.Context, unsent []string) error {
	fmt.Println("kept for the next start:", unsent)
	return nil
}

func ExampleNew() {
	m := &Mailer{}
	if err := sprag.Bind(m, "mailer", sprag.NewRuntime(nil)); err != nil {
		fmt.Println(err)
		return
	}
	if err := m.Start(context.Background()); err != nil {
		fmt.Println(err)
		return
	}

	for _, to := range []string{"ada@example.com", "bob@example.com"} {
		if err := m.emails.TryEnqueue(to); err != nil {
			fmt.Println(err) // errors.Is(err, queue.ErrFull): the caller decides
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.Stop(ctx); err != nil { // stops accepting, drains until ctx's deadline
		fmt.Println(err)
	}
	fmt.Println("sent:", m.sent.Load())
	fmt.Println(m.emails.TryEnqueue("late@example.com"))
	// Output:
	// sent: 2
	// service "mailer": queue emails: sprag: service not running: the queue stopped accepting
}

func ExampleQueue_TryEnqueue() {
	sc := sprag.NewScope("importer", sprag.NewRuntime(nil)) // a scope owns queues as a service does
	defer func() { _ = sc.Close(context.Background()) }()

	busy, release := make(chan int, 2), make(chan struct{})
	rows, err := queue.New(sc, func(ctx context.Context, row int) error {
		busy <- row
		<-release // a slow import
		return nil
	}, queue.Capacity(1), queue.Label("rows"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer close(release)

	_ = rows.TryEnqueue(1)
	<-busy                   // the only worker has taken row 1
	_ = rows.TryEnqueue(2)   // waits in the queue, which is now full
	err = rows.TryEnqueue(3) // does not wait
	fmt.Println(errors.Is(err, queue.ErrFull), err)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	err = rows.Enqueue(ctx, 3) // waits for room until ctx ends
	fmt.Println(errors.Is(err, queue.ErrFull), errors.Is(err, context.DeadlineExceeded))
	fmt.Println("rejected:", rows.Stats().Rejected)
	// Output:
	// true service "importer": queue rows: queue: full (capacity 1)
	// true true
	// rejected: 2
}

func ExampleOverflow() {
	var sc sprag.Scope
	started := make(chan struct{}, 1)
	rows, err := queue.New(&sc, func(ctx context.Context, row int) error {
		started <- struct{}{}
		<-ctx.Done() // a slow import, cut off when the stop's context ends
		return ctx.Err()
	}, queue.Label("rows"), queue.Overflow(func(ctx context.Context, left []int) error {
		fmt.Println("not imported:", left) // after the last worker returned
		return nil
	}))
	if err != nil {
		fmt.Println(err)
		return
	}
	for row := range 4 {
		_ = rows.TryEnqueue(row)
	}
	<-started // row 0 is being imported

	ctx, cancel := context.WithCancel(context.Background())
	cancel()          // no time left to drain
	_ = sc.Close(ctx) // returns at once
	<-sc.Done()       // the handler of row 0 has returned, and the overflow has run
	st := rows.Stats()
	fmt.Println("failed:", st.Failed, "overflowed:", st.Overflowed)
	// Output:
	// not imported: [1 2 3]
	// failed: 1 overflowed: 3
}
