package main

import (
	"context"

	"go.uber.org/fx"

	"github.com/sprag-go/sprag/cluster"
	"github.com/sprag-go/sprag/sprag"
)

// Reports runs the report once per tick across the cluster.
type Reports struct {
	sprag.Service
	node *cluster.Node
	s    settings
}

// ReportsParams is what Reports takes: the cluster node by name.
type ReportsParams struct {
	fx.In
	Node     *cluster.Node `name:"cluster"`
	Settings settings
}

// NewReports is the service's constructor.
func NewReports(p ReportsParams) *Reports { return &Reports{node: p.Node, s: p.Settings} }

// OnStart starts the singleton job.
func (r *Reports) OnStart(context.Context) error {
	_, err := cluster.Singleton(r, r.node.Leases(), "report", r.s.tick, r.report, cluster.LeaseTTL(r.s.leaseTTL))
	return err
}

// report is the job. A real report would write with run.Token, so that
// its store refuses a replica that lost the lease while paused.
func (r *Reports) report(_ context.Context, run cluster.Run) error {
	say("tick at=%d token=%d replica=%s", run.Tick.UnixMilli(), run.Token, run.Holder)
	return nil
}
