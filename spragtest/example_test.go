package spragtest_test

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/spragtest"
)

// The tests of this file are the recipes of docs/testing.md.

// MetricsService emits its figures every minute.
type MetricsService struct{ sprag.Service }

func (m *MetricsService) OnStart(context.Context) error {
	_, err := m.Interval(time.Minute, func(ctx context.Context) error {
		return m.Emit(ctx, "metrics:updated", time.Now().Format(time.Kitchen))
	})
	return err
}

// TestCollectsEveryMinute is the recipe of the package documentation, run
// as a test: an hour of one-minute ticks in a synctest bubble takes
// microseconds and always gives the same result.
func TestCollectsEveryMinute(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := &MetricsService{}
		rt := spragtest.Start(t, "metrics", m)
		updates := spragtest.Record(t, rt.Bus, "metrics:updated")

		time.Sleep(time.Hour) // virtual: returns at once
		synctest.Wait()       // let the last tick finish

		assert.Equal(t, 60, updates.Len())
		assert.Equal(t, "12:01AM", updates.Payloads()[0], "the bubble's clock starts at midnight")
		assert.Equal(t, "metrics:updated", updates.Events()[59].Topic)
	})
}

// Shop announces the orders it takes.
type Shop struct{ sprag.Service }

// Order announces order id.
func (s *Shop) Order(ctx context.Context, id string) error {
	return s.Emit(ctx, "order:placed", id)
}

// Mailer mails a confirmation of every order it hears of.
type Mailer struct {
	sprag.Service
	sent spragtest.Collector[string] // what it mailed, for the test
}

func (m *Mailer) OnStart(context.Context) error {
	_, err := m.Listen("order:placed", func(_ context.Context, id any) error {
		m.sent.Add(fmt.Sprint("confirmation of ", id))
		return nil
	})
	return err
}

// TestServicesOfOneTestHearEachOther starts two services with StartAll,
// which gives them one runtime, so that one hears what the other emits.
func TestServicesOfOneTestHearEachOther(t *testing.T) {
	t.Parallel()
	shop, mailer := &Shop{}, &Mailer{}
	spragtest.StartAll(t, []spragtest.Named{
		{Name: "shop", Service: shop},
		{Name: "mailer", Service: mailer},
	}) // stopped in reverse order when the test ends

	require.NoError(t, shop.Order(context.Background(), "A-1"))
	assert.Equal(t, []string{"confirmation of A-1"}, mailer.sent.All())
}

// TestAProbeOwnsWhatATestNeeds uses a Probe, a ready-made service, as the
// owner of the work under test, with a Timeline of when it ran.
func TestAProbeOwnsWhatATestNeeds(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		runs := spragtest.NewTimeline() // on the bubble's clock
		p := spragtest.Started(t, "svc", func(p *spragtest.Probe) {
			_, err := p.Schedule(sprag.FixedRate(time.Minute), func(ctx context.Context) error {
				runs.Mark()
				select {
				case <-time.After(90 * time.Second): // overruns the tick at 2m
				case <-ctx.Done(): // the stop at the end of the test
				}
				return nil
			})
			require.NoError(t, err)
		})

		time.Sleep(5 * time.Minute)
		synctest.Wait()

		assert.Equal(t, []time.Duration{time.Minute, 3 * time.Minute, 5 * time.Minute}, runs.Times())
		assert.Equal(t, sprag.Running, p.State())
	})
}

// TestListenersLeaveNothingBehind measures what a service keeps of each
// listener it adds and removes. It is not parallel, and its service logs
// nowhere: HeapGrowthPerCycle measures the whole heap.
func TestListenersLeaveNothingBehind(t *testing.T) {
	p := &spragtest.Probe{}
	spragtest.Start(t, "svc", p, spragtest.WithRuntime(sprag.NewRuntime(nil)))

	perCycle := spragtest.HeapGrowthPerCycle(10000, func(int) {
		sub, err := p.Listen("job:done", func(context.Context, any) error { return nil })
		require.NoError(t, err)
		sub.Unsubscribe()
	})

	assert.Less(t, perCycle, 64.0, "bytes kept per listen and unsubscribe")
}

func ExampleCollector() {
	var greetings spragtest.Collector[string] // the zero value is ready
	var sc sprag.Scope
	defer func() { _ = sc.Close(context.Background()) }()
	_, _ = sc.Listen("greeting", func(_ context.Context, payload any) error {
		greetings.Add(fmt.Sprint(payload)) // from the emitter's goroutine, or any other
		return nil
	})

	_ = sc.Emit(context.Background(), "greeting", "hello")
	_ = sc.Emit(context.Background(), "greeting", "bonjour")
	fmt.Println(greetings.Len(), greetings.All())
	// Output:
	// 2 [hello bonjour]
}
