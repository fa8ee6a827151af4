package watch_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/state"
	"github.com/sprag-go/sprag/sprag/watch"
)

// The examples of this file are the code of docs/primitives.md.

// ConfigService follows a remote configuration's version.
type ConfigService struct {
	sprag.Service
	fetch   func(ctx context.Context) (string, error)
	version *watch.Watcher[string]
}

func (c *ConfigService) OnStart(ctx context.Context) error {
	var err error
	c.version, err = watch.Poll(c, c.fetch, 10*time.Millisecond,
		watch.Dedupe(), watch.RetryBackoff(10*time.Millisecond, time.Second),
		watch.UnhealthyAfter(5), watch.Label("version"))
	return err
}

func ExamplePoll() {
	answers := []string{"v1", "v1", "v2"} // what the remote side says, poll after poll
	var polls atomic.Int32
	cfg := &ConfigService{fetch: func(context.Context) (string, error) {
		i := min(int(polls.Add(1)), len(answers)) - 1
		return answers[i], nil
	}}
	_ = sprag.Bind(cfg, "config", sprag.NewRuntime(nil))
	if err := cfg.Start(context.Background()); err != nil {
		fmt.Println(err)
		return
	}

	v2 := make(chan struct{})
	_, err := cfg.version.Subscribe(cfg, func(ctx context.Context, version string) error {
		fmt.Println("config version:", version)
		if version == "v2" {
			close(v2)
		}
		return nil
	}, state.NotifyCurrent())
	if err != nil {
		fmt.Println(err)
		return
	}
	<-v2
	_ = cfg.Stop(context.Background()) // waits for a poll in progress
	fmt.Println("changes:", cfg.version.Stats().Changes)
	// Output:
	// config version: v1
	// config version: v2
	// changes: 2
}

func ExampleStream() {
	var sc sprag.Scope // a scope owns watchers as a service does
	defer func() { _ = sc.Close(context.Background()) }()

	// follow stands for a subscription to a feed: it sends what arrives
	// and returns when the connection drops; the watcher reconnects.
	var connections atomic.Int32
	follow := func(ctx context.Context, send func(price int)) error {
		if connections.Add(1) == 1 {
			send(100)
			return errors.New("connection reset")
		}
		send(101)
		<-ctx.Done()
		return ctx.Err()
	}
	price, err := watch.Stream(&sc, follow, watch.Label("price"),
		watch.RetryBackoff(10*time.Millisecond, time.Second))
	if err != nil {
		fmt.Println(err)
		return
	}
	for p := range price.Watch(context.Background()) {
		if p == 101 {
			fmt.Println("price after a reconnect:", p, "errors:", price.Stats().Errors)
			break
		}
	}
	// Output:
	// price after a reconnect: 101 errors: 1
}

func ExampleWatcher_Cancel() {
	var sc sprag.Scope
	defer func() { _ = sc.Close(context.Background()) }()

	w, err := watch.Poll(&sc, func(context.Context) (int, error) {
		return 42, nil
	}, time.Hour, watch.Label("answer"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(<-w.Watch(context.Background())) // the first poll comes at once
	fmt.Println(w.Cancel(), w.Cancel())          // no poll begins after the first Cancel
	fmt.Println(w.Value())                       // the value stays readable
	// Output:
	// 42
	// true false
	// 42 true
}

func ExampleBackoff() {
	b := &watch.Backoff{Interval: time.Minute, Initial: time.Second, Max: 5 * time.Second}
	now := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	down := errors.New("down")
	for i, err := range []error{nil, down, down, down, down, nil, down} {
		next := b.Next(now, sprag.Run{N: i + 1, Err: err})
		fmt.Println(next.Sub(now), err)
	}
	// Output:
	// 1m0s <nil>
	// 1s down
	// 2s down
	// 4s down
	// 5s down
	// 1m0s <nil>
	// 1s down
}
