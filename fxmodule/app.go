package fxmodule

import (
	"context"
	"fmt"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/sprag-go/sprag/eventbus"
	"github.com/sprag-go/sprag/sprag"
)

// App returns the fx app of a sprag program: [Module], fx's own events
// logged through zap ([LogFxEvents]), and opts, such as [Providers],
// [Service], [Controllers], fx.Supply(logger) or fx.StopTimeout. It is
// fx.New with those options; call Run on it to start, wait for SIGINT or
// SIGTERM, and stop every service in reverse order.
//
//	fxmodule.App(
//		fxmodule.Providers(map[string]any{
//			"metrics": NewMetricsService,
//			"email":   NewEmailService,
//		}),
//		fxmodule.Controllers(NewDashboardController),
//	).Run()
func App(opts ...fx.Option) *fx.App {
	return fx.New(append([]fx.Option{Module, LogFxEvents}, opts...)...)
}

// ShutdownOnTaskGiveUp makes the app shut down with exitCode when a task
// exhausts its sprag.RestartPolicy, for programs that would rather crash
// and be restarted by their orchestrator than run degraded. Without it a
// task that gives up leaves its service unhealthy and the app running.
// exitCode must not be 0.
func ShutdownOnTaskGiveUp(exitCode int) fx.Option {
	if exitCode == 0 {
		return fx.Error(fmt.Errorf("fxmodule.ShutdownOnTaskGiveUp: the exit code must not be 0"))
	}
	return fx.Invoke(func(bus *eventbus.Bus, sd fx.Shutdowner, l *logger) error {
		_, err := sprag.TaskGaveUp.Listen(bus, func(_ context.Context, f sprag.TaskFailure) error {
			l.Error("a task gave up: shutting the app down",
				zap.String("service", f.Service), zap.String("label", f.Label), zap.Int("exit_code", exitCode), zap.Error(f.Err))
			return sd.Shutdown(fx.ExitCode(exitCode))
		}, eventbus.WithName("fxmodule.ShutdownOnTaskGiveUp"))
		return err
	})
}
