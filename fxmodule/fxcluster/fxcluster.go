// Package fxcluster runs a cluster.Node in an fxmodule app. It is a
// package of its own so that an app that does not scale out links no
// NATS code: only the apps that import fxcluster do.
//
//	fxmodule.App(
//		fxcluster.Module(
//			cluster.URL(os.Getenv("NATS_URL")),
//			cluster.DistributeTopic(OrderCompleted, cluster.AtLeastOnce()),
//		),
//		fxmodule.Service("reports", NewReports), // takes the node `name:"cluster"`
//	).Run()
//
// The node is the service "cluster" ([cluster.ServiceName]): services that
// take it, through an fx.In field tagged `name:"cluster"`, start after it
// and stop before it. When the app begins to stop, before any service
// stops, the node stops handing the events of other replicas to local
// listeners ([cluster.Node.StopDelivering]), so that no event is
// acknowledged by a replica whose listeners are going away; those events
// go to the other replicas, or back to this one when it restarts.
//
// Other modules add options to the node with [Options].
package fxcluster

import (
	"context"

	"go.uber.org/fx"

	"github.com/sprag-go/sprag/cluster"
	"github.com/sprag-go/sprag/eventbus"
	"github.com/sprag-go/sprag/fxmodule"
)

// group is the value group of the node's options.
const group = `group:"cluster.options"`

// Params are what the node's constructor takes: the options given to
// [Module], then the options of the value group "cluster.options"
// ([Options]).
type Params struct {
	fx.In
	// Options are the options that modules of the app added with
	// [Options], in the order fx resolves the value group; the node
	// applies them after those given to [Module], so that, for an option
	// that sets one value, the later one wins.
	Options []cluster.Option `group:"cluster.options"`
}

// Module provides a *cluster.Node built with opts, then the options of
// [Options], as the service "cluster", and stops its deliveries when the
// app begins to stop. A bad option fails the app's construction with the
// error of cluster.New.
func Module(opts ...cluster.Option) fx.Option {
	return fx.Module("fxcluster",
		fxmodule.Service(cluster.ServiceName, func(p Params) (*cluster.Node, error) {
			return cluster.New(append(append([]cluster.Option{}, opts...), p.Options...)...)
		}),
		fx.Invoke(stopDeliveringFirst),
	)
}

// Options adds opts to the node of [Module], from any module of the app:
// a module that owns a topic can declare it distributed itself.
func Options(opts ...cluster.Option) fx.Option {
	provides := make([]fx.Option, len(opts))
	for i, o := range opts {
		provides[i] = fx.Provide(fx.Annotate(func() cluster.Option { return o }, fx.ResultTags(group)))
	}
	return fx.Options(provides...)
}

type stopParams struct {
	fx.In
	Bus  *eventbus.Bus
	Node *cluster.Node `name:"cluster"`
}

// stopDeliveringFirst stops the node's deliveries on fxmodule.AppStopping,
// emitted before the first service stops.
func stopDeliveringFirst(p stopParams) error {
	_, err := fxmodule.AppStopping.Listen(p.Bus, func(ctx context.Context, _ fxmodule.AppEvent) error {
		return p.Node.StopDelivering(ctx)
	}, eventbus.WithName("fxcluster: stop delivering"))
	return err
}
