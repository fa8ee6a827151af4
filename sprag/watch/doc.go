// Package watch follows values that live outside the program (a file, a
// remote configuration, a health endpoint) and tells subscribers when
// they change, as the original's watchers do.
//
//	config, err := watch.Poll(svc, loadConfig, 30*time.Second,
//		watch.Dedupe(), watch.UnhealthyAfter(3))
//	cfg, ok := config.Value()
//
// [Poll] polls on a timer of the owner's scope that runs on a [Backoff]
// schedule: every interval while polls succeed, with exponential backoff
// after failures, reset by a success. [Stream] follows a stream on a task
// and reconnects with the same backoff. Subscribers get each new value
// with the guarantees of sprag/state; figures are in the owner's health.
//
// The package is built on sprag's public Scope API only, as a user's own
// primitive would be.
package watch
