package benchmarks

import (
	"context"
	"fmt"
	"testing"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/sprag-go/sprag/fxmodule"
	"github.com/sprag-go/sprag/sprag"
)

type service struct{ sprag.Service }

// BenchmarkServiceStartStop times fx.New, Start and Stop of an app of 100
// services: with fxmodule.Service, and wired by hand (a named provide, an
// invoke that binds the service and appends its hook).
func BenchmarkServiceStartStop(b *testing.B) {
	const n = 100
	b.Run("sprag-fxmodule", func(b *testing.B) {
		opts := []fx.Option{fxmodule.Module, fx.Supply(zap.NewNop()), fx.NopLogger}
		for i := range n {
			opts = append(opts, fxmodule.Service(fmt.Sprintf("svc%d", i), func() *service { return &service{} }))
		}
		b.ReportAllocs()
		for b.Loop() {
			run(b, fx.New(opts...))
		}
	})
	b.Run("raw-fx", func(b *testing.B) {
		opts := []fx.Option{fx.NopLogger, fx.Provide(func() sprag.Runtime { return sprag.NewRuntime(zap.NewNop()) })}
		for i := range n {
			name := fmt.Sprintf("svc%d", i)
			tag := fmt.Sprintf("name:%q", name)
			opts = append(opts,
				fx.Provide(fx.Annotate(func() *service { return &service{} }, fx.ResultTags(tag))),
				fx.Invoke(fx.Annotate(func(svc *service, rt sprag.Runtime, lc fx.Lifecycle) error {
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
			run(b, fx.New(opts...))
		}
	})
}

func run(b *testing.B, app *fx.App) {
	b.Helper()
	if err := app.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	if err := app.Stop(context.Background()); err != nil {
		b.Fatal(err)
	}
}
