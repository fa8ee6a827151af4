package cluster_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/sprag-go/sprag/cluster"
	"github.com/sprag-go/sprag/eventbus"
	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/queue"
)

// OrderShipped is a typed topic of the examples.
var OrderShipped = eventbus.NewTopic[Order]("order:shipped")

// Shipping listens to OrderShipped: with the topic distributed, it hears
// the orders shipped on every replica.
type Shipping struct {
	sprag.Service
	shipped chan Order
}

func (s *Shipping) OnStart(context.Context) error {
	_, err := sprag.ListenTopic(s, OrderShipped, func(ctx context.Context, o Order) error {
		from, remote := cluster.Origin(ctx)
		if !remote {
			from = "this replica"
		}
		fmt.Printf("order %d shipped, emitted by %s\n", o.ID, from)
		s.shipped <- o
		return nil
	})
	return err
}

// A node with an embedded server, a topic distributed at least once, and a
// service that listens to it. On several replicas the same code, with
// cluster.URL instead of cluster.DataDir, hands every order to every
// replica.
func Example() {
	dir, err := os.MkdirTemp("", "cluster-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = os.RemoveAll(dir) }()

	node, err := cluster.New(
		cluster.DataDir(dir), // no URL: an embedded NATS server keeps its data here
		cluster.Replica("web-1"),
		cluster.DistributeTopic(OrderShipped, cluster.AtLeastOnce()),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	rt := sprag.NewRuntime(nil)
	shipping := &Shipping{shipped: make(chan Order, 1)}
	ctx := context.Background()
	for name, svc := range map[string]sprag.Interface{"cluster": node, "shipping": shipping} {
		if err := sprag.Bind(svc, name, rt); err != nil {
			fmt.Println(err)
			return
		}
	}
	if err := node.Start(ctx); err != nil { // the node first: services use it
		fmt.Println(err)
		return
	}
	defer func() { _ = node.Stop(ctx) }()
	if err := shipping.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = shipping.Stop(ctx) }()

	// The emit returns once JetStream has stored the order.
	if err := sprag.EmitTopic(ctx, shipping, OrderShipped, Order{ID: 7, Item: "book"}); err != nil {
		fmt.Println(err)
		return
	}
	<-shipping.shipped
	fmt.Println("published:", node.Stats().Published)
	// Output:
	// order 7 shipped, emitted by this replica
	// published: 1
}

// Report runs the nightly report on one replica of the cluster at a time.
type Report struct {
	sprag.Service
	node *cluster.Node
	runs chan cluster.Run
}

func (r *Report) OnStart(context.Context) error {
	_, err := cluster.Singleton(r, r.node.Leases(), "nightly-report", 100*time.Millisecond, r.run,
		cluster.LeaseTTL(10*time.Second))
	return err
}

// run is the job. A store it writes to would be given run.Token, so as to
// refuse the writes of an older holder.
func (r *Report) run(ctx context.Context, run cluster.Run) error {
	select {
	case r.runs <- run:
	default:
	}
	return nil
}

func ExampleSingleton() {
	dir, err := os.MkdirTemp("", "cluster-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = os.RemoveAll(dir) }()
	node, err := cluster.New(cluster.DataDir(dir), cluster.Replica("worker-1"))
	if err != nil {
		fmt.Println(err)
		return
	}
	rt := sprag.NewRuntime(nil)
	report := &Report{node: node, runs: make(chan cluster.Run, 1)}
	ctx := context.Background()
	_ = sprag.Bind(node, "cluster", rt)
	_ = sprag.Bind(report, "report", rt)
	if err := node.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = node.Stop(ctx) }()
	if err := report.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = report.Stop(ctx) }()

	run := <-report.runs
	fmt.Println("ran on:", run.Holder)
	fmt.Println("on a tick:", run.Tick.Equal(run.Tick.Truncate(100*time.Millisecond)))
	fmt.Println("with a token:", run.Token > 0)
	fmt.Println("ends before its lease:", run.Deadline.Before(run.Tick.Add(10*time.Second)))
	// Output:
	// ran on: worker-1
	// on a tick: true
	// with a token: true
	// ends before its lease: true
}

// Email is an item of the example's queue.
type Email struct {
	To string `json:"to"`
}

// Mailer sends the emails of a queue that every replica shares.
type Mailer struct {
	sprag.Service
	node  *cluster.Node
	queue *cluster.Queue[Email]
	sent  chan string
}

func (m *Mailer) OnStart(ctx context.Context) error {
	q, err := cluster.NewQueue[Email](ctx, m.node, "emails", cluster.MaxDeliveries(5))
	if err != nil {
		return err
	}
	m.queue = q
	_, err = queue.New(m, m.send, queue.Label("emails"), queue.BackedBy[Email](q))
	return err
}

// send returns nil once the email is sent: only then is it acknowledged.
func (m *Mailer) send(ctx context.Context, e Email) error {
	m.sent <- e.To
	return nil
}

func ExampleNewQueue() {
	dir, err := os.MkdirTemp("", "cluster-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = os.RemoveAll(dir) }()
	node, err := cluster.New(cluster.DataDir(dir), cluster.Replica("worker-1"))
	if err != nil {
		fmt.Println(err)
		return
	}
	rt := sprag.NewRuntime(nil)
	mailer := &Mailer{node: node, sent: make(chan string, 3)}
	ctx := context.Background()
	_ = sprag.Bind(node, "cluster", rt)
	_ = sprag.Bind(mailer, "mailer", rt)
	if err := node.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = node.Stop(ctx) }()
	if err := mailer.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = mailer.Stop(ctx) }()

	for _, to := range []string{"ada@example.com", "grace@example.com", "alan@example.com"} {
		if err := mailer.queue.Push(ctx, Email{To: to}); err != nil { // returns once stored
			fmt.Println(err)
			return
		}
	}
	for range 3 {
		fmt.Println("sent to", <-mailer.sent)
	}
	// Output:
	// sent to ada@example.com
	// sent to grace@example.com
	// sent to alan@example.com
}

func ExampleSubjectOf() {
	for _, topic := range []string{"order:completed", "order:*:failed", "order:*", "v1.0:état"} {
		subject, _ := cluster.SubjectOf(topic)
		back, _ := cluster.TopicOf(subject)
		fmt.Printf("%-16s %-18s %s\n", topic, subject, back)
	}
	// Output:
	// order:completed  order.completed    order:completed
	// order:*:failed   order.*.failed     order:*:failed
	// order:*          order.>            order:*
	// v1.0:état        v1%2E0.%C3%A9tat   v1.0:état
}

func ExampleAtLeastOnce() {
	fmt.Println(cluster.AtLeastOnce(cluster.Shared("billing"), cluster.MaxDeliveries(3), cluster.Backoff(time.Second, 30*time.Second)))
	// Output:
	// cluster.AtLeastOnce(cluster.MaxDeliveries(3), cluster.Backoff(1s, 30s), cluster.AckWait(30s), cluster.Shared("billing"))
}
