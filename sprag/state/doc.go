// Package state holds observable values: a value of type T owned by a
// service, whose changes other services follow, the original's observable
// service state.
//
//	status, err := state.New(svc, "starting", state.Label("status"))
//	status.Set("ready")
//
//	sub, err := status.Subscribe(dashboard, func(ctx context.Context, s string) error {
//		return dashboard.show(ctx, s)
//	}, state.NotifyCurrent())
//
// # Guarantees
//
// Set and Update store at once and notify subscribers in subscription
// order; notifications of one observable are serialized, so each
// subscriber sees values in the order they were stored and always the
// latest in the end, and a slow subscriber makes values coalesce rather
// than pile up. A subscriber is work of its own service's scope (a
// [sprag.Callback]): not called once that service begins to stop, removed
// when it stops, waited for and named by its Stop; its panics are
// recovered and logged, and the next subscriber is still called.
// [Observable.Watch] gives a channel instead, which costs no goroutine.
//
// The package is built on sprag's public Scope API only, as a user's own
// primitive would be.
package state
