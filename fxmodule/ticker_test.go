package fxmodule_test

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/sprag-go/sprag/sprag"
)

// Ticker counts ticks. NewEagerTicker asks for its interval in the
// constructor, before the service runs: the interval never exists.
type Ticker struct {
	sprag.Service
	ticks atomic.Int64
}

func (t *Ticker) tick(context.Context) error {
	t.ticks.Add(1)
	return nil
}

func NewEagerTicker() *Ticker {
	t := &Ticker{}
	_, _ = t.Interval(time.Second, t.tick) // too early: the error is dropped
	return t
}

func NewTicker() *Ticker { return &Ticker{} }

// OnStart asks for the interval while the service starts.
func (t *Ticker) OnStart(context.Context) error {
	_, err := t.Interval(time.Second, t.tick)
	return err
}
