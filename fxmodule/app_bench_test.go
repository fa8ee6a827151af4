package fxmodule_test

import (
	"context"
	"fmt"
	"testing"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/sprag-go/sprag/fxmodule"
	"github.com/sprag-go/sprag/sprag"
)

// benchService is the service both benchmarks run: it starts and stops
// with nothing to do, so that what is measured is the wiring.
type benchService struct{ sprag.Service }

var serviceCounts = []int{1000, 5000}

// BenchmarkAppStartStop times fx.New, Start and Stop of an app of n
// services provided with fxmodule.Service.
func BenchmarkAppStartStop(b *testing.B) {
	for _, n := range serviceCounts {
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			opts := []fx.Option{fxmodule.Module, fx.Supply(zap.NewNop()), fx.NopLogger}
			for i := range n {
				opts = append(opts, fxmodule.Service(fmt.Sprintf("svc%d", i), func() *benchService { return &benchService{} }))
			}
			b.ReportAllocs()
			for b.Loop() {
				startStop(b, fx.New(opts...))
			}
		})
	}
}

// BenchmarkRawFxStartStop is the baseline: the same services wired by
// hand, as a user would without fxmodule: a named provide, and an invoke
// that binds the service and appends its hook.
func BenchmarkRawFxStartStop(b *testing.B) {
	for _, n := range serviceCounts {
		b.Run(fmt.Sprintf("services=%d", n), func(b *testing.B) {
			opts := []fx.Option{fx.NopLogger, fx.Provide(func() sprag.Runtime { return sprag.NewRuntime(zap.NewNop()) })}
			for i := range n {
				name := fmt.Sprintf("svc%d", i)
				tag := fmt.Sprintf("name:%q", name)
				opts = append(opts,
					fx.Provide(fx.Annotate(func() *benchService { return &benchService{} }, fx.ResultTags(tag))),
					fx.Invoke(fx.Annotate(func(svc *benchService, rt sprag.Runtime, lc fx.Lifecycle) error {
						if err := sprag.Bind(svc, name, rt); err != nil {
							return err
						}
						lc.Append(fx.Hook{OnStart: svc.Start, OnStop: svc.Stop})
						return nil
					}, fx.ParamTags(tag))),
				)
			}
			b.ReportAllocs()
			for b.Loop() {
				startStop(b, fx.New(opts...))
			}
		})
	}
}

func startStop(b *testing.B, app *fx.App) {
	b.Helper()
	if err := app.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	if err := app.Stop(context.Background()); err != nil {
		b.Fatal(err)
	}
}
