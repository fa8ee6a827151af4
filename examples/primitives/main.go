// Command primitives shows the five service primitives of sprag-go at
// work in one small shop: a queue of orders, the stock as observable state
// that a dashboard follows, a watcher of a supplier's price, a helper
// subprocess, and a cron job. It runs for a few seconds, prints what
// happens, stops everything and exits.
//
//	go run ./examples/primitives
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/cron"
	"github.com/sprag-go/sprag/sprag/process"
	"github.com/sprag-go/sprag/sprag/queue"
	"github.com/sprag-go/sprag/sprag/state"
	"github.com/sprag-go/sprag/sprag/watch"
)

// printer writes one line at a time from any goroutine.
type printer struct {
	mu  sync.Mutex
	out io.Writer
}

func (p *printer) say(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, _ = fmt.Fprintf(p.out, format+"\n", args...)
}

// Shop owns every primitive of the example.
type Shop struct {
	sprag.Service

	orders *queue.Queue[int]                  // 1. a queue with two packers
	stock  *state.Observable[int]             // 2. observable state
	price  *watch.Watcher[int]                // 3. a watcher
	packer *process.Process                   // 4. a subprocess (nil without sh)
	checks atomic.Int32                       // 5. cron runs
	events chan string                        // milestones for main
	say    func(format string, args ...any)   // prints a line
	feed   func(context.Context) (int, error) // the supplier's price list
}

func (s *Shop) OnStart(ctx context.Context) error {
	var err error

	// 2. The stock, which other services can follow.
	if s.stock, err = state.New(s, 10, state.Label("stock")); err != nil {
		return err
	}

	// 1. Orders are packed by two workers; whatever is left at the stop
	// deadline goes to Overflow instead of being dropped.
	s.orders, err = queue.New(s, s.pack,
		queue.Workers(2), queue.Capacity(100), queue.Label("orders"),
		queue.Overflow(func(_ context.Context, left []int) error {
			s.say("[queue]      stopped with orders %v unpacked: kept for the next start", left)
			return nil
		}))
	if err != nil {
		return err
	}

	// 3. The supplier's price, polled every 100ms; equal prices are not news.
	s.price, err = watch.Poll(s, s.feed, 100*time.Millisecond,
		watch.Dedupe(), watch.RetryBackoff(50*time.Millisecond, time.Second), watch.Label("price"))
	if err != nil {
		return err
	}
	if _, err = s.price.Subscribe(s, func(_ context.Context, p int) error {
		s.say("[watcher]    supplier price is now %d", p)
		if p == 12 {
			s.events <- "price"
		}
		return nil
	}, state.NotifyCurrent()); err != nil {
		return err
	}

	// 5. A stock check at the start of every second.
	if _, err := cron.Add(s, "* * * * * *", s.check, cron.Label("stock check")); err != nil {
		return err
	}

	// 4. A helper process, if this machine has a shell.
	if _, err := exec.LookPath("sh"); err != nil {
		s.say("[process]    skipped: no sh on this machine (%v)", err)
		s.events <- "process"
		return nil
	}
	s.packer, err = process.Start(s, "sh", []string{"-c", `echo "label printer ready (pid $$)"; sleep 0.3; echo "printed 6 labels"`},
		process.Label("label-printer"),
		process.Stdout(func(line string) { s.say("[process]    says: %s", line) }),
		process.Grace(time.Second))
	return err
}

// pack is the queue's handler.
func (s *Shop) pack(ctx context.Context, order int) error {
	time.Sleep(50 * time.Millisecond) // packing takes a while
	s.stock.Update(func(n int) int { return n - 1 })
	s.say("[queue]      packed order %d", order)
	return nil
}

// check is the cron job.
func (s *Shop) check(context.Context) error {
	if s.checks.Add(1) == 1 {
		s.say("[cron]       stock check at %s: %d left", time.Now().Format("15:04:05"), s.stock.Get())
		s.events <- "cron"
	}
	return nil
}

// Dashboard is another service that follows the shop's stock.
type Dashboard struct {
	sprag.Service
	shop *Shop
}

func (d *Dashboard) OnStart(context.Context) error {
	_, err := d.shop.stock.Subscribe(d, func(_ context.Context, n int) error {
		d.shop.say("[observable] dashboard sees stock %d", n)
		return nil
	}, state.NotifyCurrent())
	return err
}

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "primitives:", err)
		os.Exit(1)
	}
}

func run(out io.Writer) error {
	p := &printer{out: out}
	ctx := context.Background()
	rt := sprag.NewRuntime(nil) // a bus and a silent logger; fxmodule wires zap

	prices := []int{10, 10, 11, 11, 12}
	var polls atomic.Int32
	shop := &Shop{say: p.say, events: make(chan string, 8), feed: func(context.Context) (int, error) {
		i := int(polls.Add(1)) - 1
		if i == 2 {
			return 0, errors.New("supplier timed out") // retried after the backoff
		}
		return prices[min(i, len(prices)-1)], nil
	}}
	dashboard := &Dashboard{shop: shop}
	if err := sprag.Bind(shop, "shop", rt); err != nil {
		return err
	}
	if err := sprag.Bind(dashboard, "dashboard", rt); err != nil {
		return err
	}
	if err := shop.Start(ctx); err != nil {
		return err
	}
	if err := dashboard.Start(ctx); err != nil {
		return err
	}

	for order := 1; order <= 6; order++ {
		if err := shop.orders.TryEnqueue(order); err != nil {
			return err
		}
	}

	// Wait for the price to reach 12, the first cron run and the process.
	waitFor := map[string]bool{"price": true, "cron": true}
	if shop.packer == nil {
		waitFor["process"] = true
	}
	deadline := time.After(5 * time.Second)
	for len(waitFor) > 0 {
		select {
		case e := <-shop.events:
			delete(waitFor, e)
		case <-deadline:
			return fmt.Errorf("still waiting for %v", waitFor)
		}
	}
	if shop.packer != nil {
		if err := shop.packer.Wait(ctx); err != nil {
			return err
		}
		exit, _ := shop.packer.LastExit()
		shop.say("[process]    pid %d ended: %s", exit.Pid, exit.Status)
	}

	// Some more orders, then stop: the queue stops accepting and drains
	// what it accepted before the deadline.
	for order := 7; order <= 10; order++ {
		_ = shop.orders.TryEnqueue(order)
	}
	st := shop.Status(ctx)
	shop.say("[health]     shop healthy=%v, queue %+v", st.Healthy, st.Details["queue orders"])

	stopCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := dashboard.Stop(stopCtx); err != nil {
		return err
	}
	shop.stock.Set(99) // nobody is told: the dashboard's subscriber left with it
	shop.say("[observable] stock set to %d after the dashboard stopped: no subscriber left (%d)", shop.stock.Get(), shop.stock.Stats().Subscribers)
	if err := shop.Stop(stopCtx); err != nil {
		return err
	}
	q := shop.orders.Stats()
	w := shop.price.Stats()
	shop.say("[done]       packed %d orders, %d overflowed; price polled %d times, %d changes, %d error(s): %s",
		q.Processed, q.Overflowed, w.Polls, w.Changes, w.Errors, w.LastError)
	shop.say("[done]       enqueue after stop: %v", shop.orders.TryEnqueue(11))
	return nil
}
