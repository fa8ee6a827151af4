package fxcluster_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
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

// Reports takes the node and listens to orders. It records the node's
// state when it starts and when it begins to stop, and its OnStop waits
// for release.
type Reports struct {
	sprag.Service
	node     *cluster.Node
	got      chan Order
	stopping chan struct{}
	release  chan struct{}

	nodeAtStart, nodeAtStop sprag.State // written by OnStart, OnStop
}

type reportsParams struct {
	fx.In
	Node *cluster.Node `name:"cluster"`
}

func newReports(p reportsParams) *Reports {
	return &Reports{node: p.Node, got: make(chan Order, 10), stopping: make(chan struct{}), release: make(chan struct{})}
}

func (r *Reports) OnStart(context.Context) error {
	r.nodeAtStart = r.node.State()
	_, err := sprag.ListenTopic(r, orderCompleted, func(_ context.Context, o Order) error {
		r.got <- o
		return nil
	})
	return err
}

func (r *Reports) OnStop(context.Context) error {
	r.nodeAtStop = r.node.State()
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
	assert.Equal(t, sprag.Running, reports.nodeAtStart, "the node runs when the service that takes it starts")
	require.NoError(t, reports.node.Health(context.Background()))
	require.NoError(t, sprag.EmitTopic(context.Background(), reports, orderCompleted, Order{ID: 1}))
	assert.Equal(t, Order{ID: 1}, <-reports.got)
	assert.Equal(t, int64(1), reports.node.Stats().Published, "the topic declared through Options is distributed")

	// A cleanup of the node runs when the node's scope closes, at its stop.
	reportsAtNodeStop := make(chan sprag.State, 1)
	require.NoError(t, reports.node.AddCleanup(func(context.Context) error {
		reportsAtNodeStop <- reports.State()
		return nil
	}))
	app.RequireStop()
	assert.Equal(t, sprag.Running, reports.nodeAtStop, "the node still runs when the service begins to stop")
	assert.Equal(t, sprag.Stopped, <-reportsAtNodeStop, "the service has stopped when the node stops")
	assert.Equal(t, sprag.Stopped, reports.node.State())
}

func TestOptionsComeAfterTheModulesOptions(t *testing.T) {
	var node *cluster.Node
	app := fx.New(fxmodule.Module, fx.NopLogger,
		fxcluster.Module(cluster.DataDir(t.TempDir()), cluster.Replica("a")),
		fxcluster.Options(cluster.Replica("b")),
		fx.Populate(fx.Annotate(&node, fx.ParamTags(`name:"cluster"`))),
	)
	require.NoError(t, app.Err())
	assert.Equal(t, "b", node.ReplicaName(), "the option of Options wins")
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
	consumerOfB := consumerOf(t, srv.URL(), "b_")

	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		b.RequireStop()
	}()
	<-rb.stopping // b's services are stopping: their listeners no longer run
	require.NoError(t, sprag.EmitTopic(context.Background(), ra, orderCompleted, Order{ID: 7}))
	// The emit returned once the stream stored the event. b no longer
	// pulls: the event waits in b's consumer, never delivered.
	deadline := time.Now().Add(10 * time.Second)
	for {
		info := consumerOfB()
		require.Zero(t, info.Delivered.Consumer, "b hands nothing to its stopping services")
		if info.NumPending == 1 && info.NumWaiting == 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "the event waits in b's consumer, which no pull request of b's waits on: %+v", info)
		time.Sleep(10 * time.Millisecond)
	}
	close(rb.release)
	<-stopped
	assert.Zero(t, rb.node.Stats().Delivered, "b delivered nothing until it stopped")

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
	require.ErrorIs(t, app.Err(), sprag.ErrInvalidArgument, "the error of cluster.New")
	assert.Contains(t, app.Err().Error(), "cluster.DataDir")
}

// consumerOf returns a function that reads the state of the one durable
// consumer of the events stream whose name begins with prefix.
func consumerOf(t *testing.T, url, prefix string) func() *jetstream.ConsumerInfo {
	t.Helper()
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	return func() *jetstream.ConsumerInfo {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s, err := js.Stream(ctx, "SPRAG_EVENTS")
		require.NoError(t, err)
		list := s.ListConsumers(ctx)
		var found *jetstream.ConsumerInfo
		for info := range list.Info() {
			if strings.HasPrefix(info.Name, prefix) {
				found = info
			}
		}
		require.NoError(t, list.Err())
		require.NotNil(t, found, "a consumer %s… of the events stream", prefix)
		return found
	}
}

// TestAppsThatDoNotScaleOutLinkNoNATS: only cluster, fxcluster and what
// imports them depend on NATS; every other package of the module does
// not, so an app that does not scale out links no NATS code.
func TestAppsThatDoNotScaleOutLinkNoNATS(t *testing.T) {
	list := func(args ...string) []string {
		t.Helper()
		out, err := exec.Command("go", append([]string{"list", "-e"}, args...)...).Output() //nolint:gosec // go list of this module's packages
		require.NoError(t, err, "go list %v", args)
		return strings.Fields(string(out))
	}
	var others []string
	for _, p := range list("github.com/sprag-go/sprag/...") {
		switch {
		case strings.HasPrefix(p, "github.com/sprag-go/sprag/cluster"),
			p == "github.com/sprag-go/sprag/fxmodule/fxcluster",
			p == "github.com/sprag-go/sprag/examples/cluster":
		default:
			others = append(others, p)
		}
	}
	require.Contains(t, others, "github.com/sprag-go/sprag/fxmodule")
	for _, dep := range list(append([]string{"-deps"}, others...)...) {
		assert.False(t, strings.HasPrefix(dep, "github.com/nats-io/"), "a package that does not scale out depends on %s", dep)
	}
	assert.Contains(t, list("-deps", "github.com/sprag-go/sprag/fxmodule/fxcluster"), "github.com/nats-io/nats.go", "fxcluster does")
}
