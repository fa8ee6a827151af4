// Package cluster scales sprag services out to several replicas on NATS:
// events that cross replicas, intervals that run on one replica at a time,
// and a queue that every replica shares. Only apps that scale out import
// it (or its fx wiring, package fxmodule/fxcluster); the others link no
// NATS code.
//
// A [Node] is a sprag service that holds the replica's connection to NATS
// ([URL]) or, without a URL, runs an embedded single-node server with
// JetStream storing under a directory of the app's ([DataDir]):
//
//	node, err := cluster.New(
//		cluster.URL("nats://nats-1:4222,nats://nats-2:4222,nats://nats-3:4222"),
//		cluster.Replica(os.Getenv("POD_NAME")),
//		cluster.DistributeTopic(OrderCompleted, cluster.AtLeastOnce()),
//		cluster.Distribute[any]("cache:*", cluster.AtMostOnce()),
//	)
//
// Bind and start it before the services that use it; fxcluster does both.
//
// # Distributed topics
//
// A topic or pattern declared with [Distribute] or [DistributeTopic] is
// bridged between the local bus and the other replicas: a local emit runs
// the local listeners synchronously, as always, and is published; an
// event published by another replica is emitted on this replica's bus,
// decoded into the declared type, with a context that tells where it came
// from ([Origin]) and is not published again. A replica never gets its own
// emit twice.
//
//   - [AtMostOnce]: core NATS, fan-out. Every connected replica gets the
//     event once or not at all. While the replica is disconnected its emits
//     are dropped and counted ([Stats].Dropped); the emitter gets no error.
//   - [AtLeastOnce]: a JetStream stream, fan-out by default, or one
//     replica of a group with [Shared]. A delivery is acknowledged only
//     once the replica's listeners returned nil; a failure is delivered
//     again after a doubling [Backoff], up to [MaxDeliveries], then moved to
//     the dead-letter stream with its error; a payload that cannot be
//     decoded goes there at once. Duplicates within the [DedupWindow] are
//     dropped ([WithMessageID]). An emit returns once the stream stored the
//     event; while the replica cannot publish, events wait in a bounded
//     buffer ([PublishBuffer]), in order, and past it the emitter gets an
//     error wrapping [ErrBufferFull].
//
// Once the node has stopped, its bridge is gone: an emit of a distributed
// topic runs the local listeners only, as on an app that does not scale
// out, and is neither published nor buffered.
//
// # Subjects
//
// A topic's segments become a subject's tokens, so that NATS matches
// patterns as the local bus does: "order:completed" is order.completed,
// "order:*:failed" is order.*.failed, a trailing '*' is '>', and every
// other character than letters, digits, '-' and '_' is escaped as %XX.
// The mapping is reversible ([SubjectOf], [TopicOf]). The node prefixes
// the subjects (sprag.ev.…, sprag.al.…; see [Prefix]).
//
// # Singleton jobs
//
// [Singleton] runs a function every period on one replica at a time, on
// the service's managed timers. Each tick (a multiple of the period since
// the Unix epoch) runs at most once across the replicas: the replica that
// holds the job's lease claims the tick with a compare-and-set create
// before it runs it, so clock skew and unaligned timers cannot run a tick
// twice. The holder renews its lease every third of the TTL; its run's
// context ends before the lease could expire, and the run receives a
// fencing token ([Run].Token) for the stores it writes. When the holder
// dies, another replica runs the job within LeaseTTL + period + 1.5s. The
// engine is a [Lease]: the node's JetStream bucket ([Node.Leases]), or
// another.
//
// # Shared queues
//
// [NewQueue] creates or joins a queue kept in a JetStream work-queue
// stream: an item pushed on any replica is handled once by a worker of
// some replica, redelivered with backoff when it fails and dead-lettered
// past a limit, and redelivered elsewhere when its replica dies or stops
// while handling it. A [Queue] is a backend of the queue primitive:
// queue.New(svc, handler, queue.BackedBy[T](q)) gives a service workers
// that pull from it, with the primitive's options, figures and stop.
//
// # Connection faults
//
// The client reconnects by itself, forever. After a reconnect, the node
// also re-establishes what the client does not bring back: the pull of
// each consumer and the watch of leases. [Node.Health] reports the
// connection's state, so a disconnected replica shows up in /healthz.
//
// # Engines
//
// The transport of distributed topics ([Transport]) and the lease of
// singleton jobs ([Lease]) are interfaces; their documentation states
// what another engine must guarantee. NATS is the engine built here.
//
// # Goroutines
//
// Delivery loops, publish buffers, watches and queue workers run on the
// managed tasks of the node's service, or of the service that owns the
// queue primitive; singleton ticks run on the managed timers of the job's
// service.
// Listener and handler panics are recovered and count as failures.
//
// docs/cluster.md has the guarantees in full, the failover bound and the
// JetStream settings a correctness-critical deployment needs.
package cluster
