package main

import (
	"context"

	"go.uber.org/fx"

	"github.com/sprag-go/sprag/cluster"
	"github.com/sprag-go/sprag/eventbus"
	"github.com/sprag-go/sprag/sprag"
)

// Greeting is the payload of GreetingSent.
type Greeting struct {
	ID int `json:"id"`
}

// GreetingSent is distributed at least once to every replica: each
// replica's listeners get each greeting once, the emitting replica's when
// it is emitted, the others' through JetStream.
var GreetingSent = eventbus.NewTopic[Greeting]("greeting:sent")

// Greetings listens to greetings and prints them.
type Greetings struct {
	sprag.Service
	node *cluster.Node
}

// GreetingsServiceParams is what Greetings takes.
type GreetingsServiceParams struct {
	fx.In
	Node *cluster.Node `name:"cluster"`
}

// NewGreetings is the service's constructor.
func NewGreetings(p GreetingsServiceParams) *Greetings { return &Greetings{node: p.Node} }

// OnStart listens to GreetingSent.
func (g *Greetings) OnStart(context.Context) error {
	_, err := sprag.ListenTopic(g, GreetingSent, func(ctx context.Context, gr Greeting) error {
		me := g.node.ReplicaName()
		from, remote := cluster.Origin(ctx)
		if !remote {
			from = me
		}
		say("greeting id=%d from=%s at=%s", gr.ID, from, me)
		return nil
	})
	return err
}

// Send emits the greetings first..first+count-1. Each emit returns once
// JetStream has stored the greeting.
func (g *Greetings) Send(ctx context.Context, first, count int) error {
	for id := first; id < first+count; id++ {
		if err := sprag.EmitTopic(ctx, g, GreetingSent, Greeting{ID: id}); err != nil {
			return err
		}
	}
	return nil
}
