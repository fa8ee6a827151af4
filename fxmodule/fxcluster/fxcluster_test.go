package fxcluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/sprag-go/sprag/cluster"
	"github.com/sprag-go/sprag/cluster/clustertest"
	"github.com/sprag-go/sprag/eventbus"
	"github.com/sprag-go/sprag/fxmodule"
	"github.com/sprag-go/sprag/fxmodule/fxcluster"
	"github.com/sprag-go/sprag/fxmodule/fxmoduletest"
	"github.com/sprag-go/sprag/sprag"
)

type Order struct {
	ID int `json:"id"`
}

var orderCompleted = eventbus.NewTopic[Order]("order:completed")

// Reports takes the node and listens to orders.
type Reports struct {
	sprag.Service
	node     *cluster.Node
	got      chan Order
	stopping chan struct{}
	release  chan struct{}
}

type reportsParams struct {
	fx.In
	Node *cluster.Node `name:"cluster"`
}

func newReports(p reportsParams) *Reports {
	return &Reports{node: p.Node, got: make(chan Order, 10), stopping: make(chan struct{}), release: make(chan struct{})}
}

func (r *Reports) OnStart(context.Context) error {
	_, err := sprag.ListenTopic(r, orderCompleted, func(_ context.Context, o Order) error {
		r.got <- o
		return nil
	})
	return err
}

func (r *Reports) OnStop(context.Context) error {
	close(r.stopping)
	<-r.release
	return nil
}

func TestModuleRunsTheNodeBeforeItsServices(t *testing.T) {
	var reports *Reports
	app := fxmoduletest.New(t,
		fxcluster.Module(cluster.DataDir(t.TempDir()), cluster.Replica("solo")),
		fxcluster.Options(cluster.DistributeTopic(orderCompleted, cluster.AtLeastOnce())),
		fxmodule.Service("reports", newReports),
		fx.Populate(fx.Annotate(&reports, fx.ParamTags(`name:"reports"`))),
	)
	app.RequireStart()
	close(reports.release)
	require.NoError(t, reports.node.Health(context.Background()))
	require.NoError(t, sprag.EmitTopic(context.Background(), reports, orderCompleted, Order{ID: 1}))
	assert.Equal(t, Order{ID: 1}, <-reports.got)
	assert.Equal(t, int64(1), reports.node.Stats().Published, "the topic declared through Options is distributed")
	app.RequireStop()
	assert.Equal(t, sprag.Stopped, reports.node.State())
}

// TestModuleStopsDeliveriesBeforeServicesStop: while a replica's services
// stop, their listeners no longer run, so an event handed to them would
// be acknowledged without being handled. The module stops deliveries
// first: the event waits for the replica's restart.
func TestModuleStopsDeliveriesBeforeServicesStop(t *testing.T) {
	srv := clustertest.StartServer(t)
	distribute := cluster.DistributeTopic(orderCompleted, cluster.AtLeastOnce())
	newApp := func(replica string) (*fxtest.App, *Reports) {
		var r *Reports
		app := fxmoduletest.New(t,
			fxcluster.Module(cluster.URL(srv.URL()), cluster.Replica(replica), distribute),
			fxmodule.Service("reports", newReports),
			fx.Populate(fx.Annotate(&r, fx.ParamTags(`name:"reports"`))),
		)
		app.RequireStart()
		return app, r
	}
	a, ra := newApp("a")
	close(ra.release)
	b, rb := newApp("b")

	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		b.RequireStop()
	}()
	<-rb.stopping // b's services are stopping: their listeners no longer run
	require.NoError(t, sprag.EmitTopic(context.Background(), ra, orderCompleted, Order{ID: 7}))
	time.Sleep(500 * time.Millisecond)
	assert.Zero(t, rb.node.Stats().Delivered, "b hands nothing to its stopping services")
	close(rb.release)
	<-stopped

	b2, rb2 := newApp("b") // b again, under its name
	close(rb2.release)
	select {
	case o := <-rb2.got:
		assert.Equal(t, Order{ID: 7}, o, "the event waited for b")
	case <-time.After(15 * time.Second):
		t.Fatal("the event was lost for b")
	}
	b2.RequireStop()
	a.RequireStop()
}

func TestModuleFailsOnBadOptions(t *testing.T) {
	app := fx.New(fxmodule.Module, fxcluster.Module(), fx.NopLogger)
	require.Error(t, app.Err())
	assert.Contains(t, app.Err().Error(), "cluster.DataDir")
}
