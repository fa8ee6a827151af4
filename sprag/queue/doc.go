// Package queue is a bounded work queue owned by a service: typed items,
// a pool of workers, and a drain at stop that loses nothing, as the
// original's QueueService.
//
//	emails, err := queue.New(svc, svc.send, queue.Workers(4), queue.Capacity(1000),
//		queue.Overflow(svc.saveForLater))
//	err = emails.TryEnqueue(msg) // queue.ErrFull when there is no room
//
// # Guarantees
//
// Workers are tasks of the owner's scope. At stop the queue stops
// accepting, drains until Stop's deadline, and hands what is left to
// [Overflow] (or counts and logs it as dropped) once its last worker has
// returned: handled + overflowed + dropped = accepted, Overflow never
// overlaps a handler, and the owner's Done closes only after all of it.
// Figures ([Stats]) are in the owner's health.
//
// # Backends
//
// [BackedBy] keeps the items in a [Backend] instead of the queue's own
// buffer: a store that several processes share, such as cluster.Queue,
// a JetStream work-queue stream. The workers, options, figures and stop
// stay the queue's.
//
// The package is built on sprag's public Scope API only, as a user's own
// primitive would be.
package queue
