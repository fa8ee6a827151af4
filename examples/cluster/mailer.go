package main

import (
	"context"
	"time"

	"go.uber.org/fx"

	"github.com/sprag-go/sprag/cluster"
	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/sprag/queue"
)

// Email is an item of the mail queue.
type Email struct {
	ID int `json:"id"`
}

// Mailer sends the emails of the queue shared by every replica.
type Mailer struct {
	sprag.Service
	node  *cluster.Node
	s     settings
	queue *cluster.Queue[Email]
}

// MailerParams is what Mailer takes.
type MailerParams struct {
	fx.In
	Node     *cluster.Node `name:"cluster"`
	Settings settings
}

// NewMailer is the service's constructor.
func NewMailer(p MailerParams) *Mailer { return &Mailer{node: p.Node, s: p.Settings} }

// OnStart joins the queue "emails" and starts two workers.
func (m *Mailer) OnStart(ctx context.Context) error {
	q, err := cluster.NewQueue[Email](ctx, m.node, "emails", cluster.AckWait(m.s.ackWait), cluster.Prefetch(4))
	if err != nil {
		return err
	}
	m.queue = q
	_, err = queue.New(m, m.send, queue.Workers(2), queue.Label("emails"), queue.BackedBy[Email](q))
	return err
}

// send "sends" an email. Returning nil acknowledges it.
func (m *Mailer) send(ctx context.Context, e Email) error {
	select {
	case <-time.After(m.s.workTime):
	case <-ctx.Done():
		return ctx.Err()
	}
	say("email id=%d replica=%s", e.ID, m.node.ReplicaName())
	return nil
}

// Push queues the emails first..first+count-1.
func (m *Mailer) Push(ctx context.Context, first, count int) error {
	for id := first; id < first+count; id++ {
		if err := m.queue.Push(ctx, Email{ID: id}); err != nil {
			return err
		}
	}
	return nil
}
