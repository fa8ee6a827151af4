// Package spragtest helps test services built on package sprag, inside or
// outside a testing/synctest bubble.
//
// [Start] binds a service to a fresh runtime (a new bus and a logger that
// writes to the test's log), starts it, and stops it when the test ends;
// [StartAll] does so for several services of one test on one shared
// runtime, so that they hear each other. [Probe] and [Started] give a
// ready-made service whose hooks are functions. [Record] records what is
// emitted on a topic or pattern; [Collector] gathers values from any
// goroutine; [Timeline] marks when things happen on the bubble's clock;
// [HeapGrowthPerCycle] measures what a service keeps of each job it
// churns through.
//
// # Testing timers in a synctest bubble
//
// Intervals, timeouts and task backoffs use the standard time package.
// Inside a bubble made by testing/synctest, time is virtual and advances
// only when every goroutine of the bubble is blocked, so an hour of
// one-minute ticks takes microseconds and is deterministic:
//
//	func TestCollectsEveryMinute(t *testing.T) {
//		synctest.Test(t, func(t *testing.T) {
//			m := &MetricsService{}
//			rt := spragtest.Start(t, "metrics", m)
//			updates := spragtest.Record(t, rt.Bus, "metrics:updated")
//
//			time.Sleep(time.Hour) // virtual: returns at once
//			synctest.Wait()       // let the last tick finish
//
//			assert.Equal(t, 60, updates.Len())
//		})
//	}
//
// Everything the service creates must be created inside the bubble, so
// call Start from within the function given to synctest.Test. The stop that
// Start registers runs as a cleanup of the bubble's test, inside the
// bubble, so a service that is left running does not leak into the next
// test.
package spragtest
