package sprag_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/eventbus"
	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/spragtest"
)

type order struct{ ID int32 }

var orderCompleted = eventbus.NewTopic[order]("order:completed")

func TestServicesTalkThroughTheBus(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rt := spragtest.Runtime(t)
		var strings, typed atomic.Int32
		listener := &probe{onStart: func(_ context.Context, p *probe) error {
			if _, err := p.Listen("order:*", func(context.Context, any) error {
				strings.Add(1)
				return nil
			}); err != nil {
				return err
			}
			_, err := sprag.ListenTopic(p, orderCompleted, func(_ context.Context, o order) error {
				typed.Add(o.ID)
				return nil
			})
			return err
		}}
		emitter := &plain{}
		spragtest.Start(t, "listener", listener, spragtest.WithRuntime(rt))
		spragtest.Start(t, "emitter", emitter, spragtest.WithRuntime(rt))

		require.NoError(t, emitter.Emit(context.Background(), "order:completed", order{ID: 2}))
		require.NoError(t, sprag.EmitTopic(context.Background(), emitter, orderCompleted, order{ID: 5}))
		assert.Equal(t, int32(2), strings.Load())
		assert.Equal(t, int32(7), typed.Load())
	})
}

func TestListenersAreRemovedAtStopAndNotCalledOnceStopBegins(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rt := spragtest.Runtime(t)
		var calls atomic.Int32
		inOnStop, releaseOnStop := make(chan struct{}), make(chan struct{})
		p := &probe{
			onStart: func(_ context.Context, p *probe) error {
				_, err := p.Listen("ping", func(context.Context, any) error {
					calls.Add(1)
					return nil
				})
				return err
			},
			onStop: func(context.Context, *probe) error {
				close(inOnStop)
				<-releaseOnStop
				return nil
			},
		}
		spragtest.Start(t, "svc", p, spragtest.WithRuntime(rt))
		require.NoError(t, rt.Bus.Emit(context.Background(), "ping", nil))
		assert.Equal(t, int32(1), calls.Load())

		stopped := make(chan error, 1)
		go func() { stopped <- p.Stop(context.Background()) }()
		<-inOnStop
		assert.Equal(t, 1, rt.Bus.Len(), "still subscribed during OnStop")
		require.NoError(t, rt.Bus.Emit(context.Background(), "ping", nil))
		assert.Equal(t, int32(1), calls.Load(), "but no longer called: stop has begun")

		close(releaseOnStop)
		require.NoError(t, <-stopped)
		assert.Equal(t, 0, rt.Bus.Len(), "removed at stop")
	})
}

func TestStopWaitsForARunningListener(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rt := spragtest.Runtime(t)
		var finished atomic.Bool
		entered := make(chan struct{})
		p := &probe{onStart: func(_ context.Context, p *probe) error {
			_, err := p.Listen("slow", func(context.Context, any) error {
				close(entered)
				time.Sleep(time.Minute)
				finished.Store(true)
				return nil
			})
			return err
		}}
		spragtest.Start(t, "svc", p, spragtest.WithRuntime(rt))
		go func() { _ = rt.Bus.Emit(context.Background(), "slow", nil) }()
		<-entered
		spragtest.Stop(t, p, time.Hour)
		assert.True(t, finished.Load(), "Stop returned after the listener did")
	})
}

func TestListenerFailuresAreLoggedOnceAndReachTheEmitter(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rt, logs := spragtest.ObservedRuntime(t)
		boom := errors.New("boom")
		p := &probe{onStart: func(_ context.Context, p *probe) error {
			if _, err := p.Listen("fail", func(context.Context, any) error { return boom }); err != nil {
				return err
			}
			_, err := p.Listen("panic", func(context.Context, any) error { panic("listener panic") })
			return err
		}}
		spragtest.Start(t, "svc", p, spragtest.WithRuntime(rt))
		// A listener outside any service is logged by the runtime's bus handler.
		_, err := rt.Bus.Listen("fail", func(context.Context, any) error { return boom }, eventbus.WithName("outsider"))
		require.NoError(t, err)

		err = rt.Bus.Emit(context.Background(), "fail", nil)
		require.ErrorIs(t, err, boom)
		var ce *sprag.CallbackError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, "svc", ce.Service)

		err = rt.Bus.Emit(context.Background(), "panic", nil)
		var pe *sprag.PanicError
		require.ErrorAs(t, err, &pe)
		_, err = rt.Bus.Listen("outsider-panic", func(context.Context, any) error { panic("outsider") }, eventbus.WithName("outsider"))
		require.NoError(t, err)
		require.ErrorAs(t, rt.Bus.Emit(context.Background(), "outsider-panic", nil), &pe)

		failed := logs.FilterMessage("listener failed").All()
		require.Len(t, failed, 2, "one line per failure: the service's, and the bus handler's for the outsider")
		assert.Equal(t, "svc", failed[0].ContextMap()["service"])
		assert.Equal(t, "fail", failed[0].ContextMap()["topic"])
		assert.Equal(t, "outsider", failed[1].ContextMap()["label"])
		panicked := logs.FilterMessage("listener panicked").All()
		require.Len(t, panicked, 2, "the service's, and the bus handler's for the outsider")
		assert.Equal(t, "panic", panicked[0].ContextMap()["topic"])
		assert.Contains(t, panicked[0].ContextMap()["stack"], "events_test.go")
		assert.Equal(t, "outsider-panic", panicked[1].ContextMap()["topic"])
		assert.Equal(t, "outsider", panicked[1].ContextMap()["label"])
		assert.Contains(t, panicked[1].ContextMap()["stack"], "events_test.go")
	})
}

func TestListenAndEmitWhenNotRunningOrWithBadInput(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := &probe{}
		rt := spragtest.Runtime(t)
		require.NoError(t, sprag.Bind(p, "svc", rt))
		noop := func(context.Context, any) error { return nil }

		require.ErrorIs(t, p.Emit(context.Background(), "t", nil), sprag.ErrNotRunning)
		require.ErrorIs(t, sprag.EmitTopic(context.Background(), p, orderCompleted, order{}), sprag.ErrNotRunning)
		early := &probe{}
		require.NoError(t, sprag.Bind(early, "early", rt))
		_, err := early.Listen("t", noop)
		require.ErrorIs(t, err, sprag.ErrNotRunning)
		require.ErrorIs(t, early.Start(context.Background()), sprag.ErrNotRunning, "a listener asked for before Start fails the start")

		require.NoError(t, p.Start(context.Background()))
		_, err = p.Listen("", noop)
		require.ErrorIs(t, err, eventbus.ErrInvalidTopic)
		assert.Contains(t, err.Error(), `service "svc"`)
		_, err = p.Listen("t", nil)
		require.ErrorIs(t, err, sprag.ErrInvalidArgument)
		_, err = sprag.ListenTopic(p, orderCompleted, nil)
		require.ErrorIs(t, err, sprag.ErrInvalidArgument)
		require.ErrorIs(t, p.Emit(context.Background(), "a::b", nil), eventbus.ErrInvalidTopic)
		assert.Equal(t, 0, rt.Bus.Len())

		require.NoError(t, p.Stop(context.Background()))
		_, err = sprag.ListenTopic(p, orderCompleted, func(context.Context, order) error { return nil })
		require.ErrorIs(t, err, sprag.ErrNotRunning)
	})
}

func TestOnStopMayEmit(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rt := spragtest.Runtime(t)
		goodbyes := spragtest.Record(t, rt.Bus, "svc:bye")
		p := &probe{onStop: func(ctx context.Context, p *probe) error {
			return p.Emit(ctx, "svc:bye", "so long")
		}}
		spragtest.Start(t, "svc", p, spragtest.WithRuntime(rt))
		spragtest.Stop(t, p, time.Second)
		assert.Equal(t, []any{"so long"}, goodbyes.Payloads())
	})
}

func TestListenKeepsAGivenName(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var named, unnamed *eventbus.Subscription
		started(t, func(p *probe) {
			var err error
			named, err = p.Listen("t", func(context.Context, any) error { return nil }, eventbus.WithName("billing"))
			require.NoError(t, err)
			unnamed, err = p.Listen("t", func(context.Context, any) error { return nil })
			require.NoError(t, err)
		})
		assert.Equal(t, "billing", named.Name())
		assert.Contains(t, unnamed.Name(), "svc ")
	})
}
