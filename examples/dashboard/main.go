// Command dashboard is the Services page of SPECTER/SPRAG, whole, on fx,
// as a small shop's back office:
//
//   - OrderService keeps orders in an embedded SQLite database (pure Go),
//     and writes each order's confirmation email to an outbox in the
//     order's own transaction;
//   - EmailService drains the outbox through an adopted child service, so
//     no email is lost to a crash, a restart or a burst of orders;
//   - MetricsService collects the runtime's figures and the orders'
//     totals on an interval and follows completed orders on the bus;
//   - DashboardController renders the dashboard in the app's shell, takes
//     orders from its form (with or without JavaScript), and the page
//     follows the bus through the server's event stream.
//
// Run it with nothing but Go:
//
//	go run ./examples/dashboard
//
// and open http://localhost:8080/dashboard. It listens on localhost:8080,
// this machine only; SPRAG_ADDR changes the address (SPRAG_ADDR=":8080"
// serves every interface). Data lives in SPRAG_DATA, by default
// sprag-dashboard in the user's cache directory (~/.cache/sprag-dashboard
// on Linux). /metrics serves the OpenTelemetry metrics to Prometheus;
// SPRAG_TRACE=stdout prints every span. It stops every service in reverse
// order on Ctrl-C or SIGTERM.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/sprag-go/sprag/controllers"
	"github.com/sprag-go/sprag/eventbus"
	"github.com/sprag-go/sprag/fxmodule"
)

func main() {
	// Readable logs at info level. A failure is logged once, without a
	// stack trace: its message says what went wrong; panics carry their
	// stacks in a field of their own.
	logger, err := zap.NewDevelopment(zap.IncreaseLevel(zap.InfoLevel), zap.AddStacktrace(zap.DPanicLevel))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cfg, err := configFromEnv()
	if err != nil {
		logger.Error("dashboard cannot start", zap.Error(err))
		os.Exit(2)
	}
	tel, err := newTelemetry(cfg, os.Stdout)
	if err != nil {
		logger.Error("dashboard cannot start", zap.Error(err))
		os.Exit(1)
	}

	newApp(cfg, tel, fx.Supply(logger), fx.Invoke(announce)).Run() // exits with 1 on a failed start or stop

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tel.shutdown(ctx); err != nil {
		logger.Warn("telemetry shutdown", zap.Error(err))
	}
	_ = logger.Sync() // stderr may not support Sync: nothing to do about it
}

// newApp composes the app: its services, controllers, shell, event
// stream, /metrics and assets, with cfg and tel, and opts after them.
func newApp(cfg Config, tel *telemetry, opts ...fx.Option) *fxmodule.Application {
	serverOpts := []controllers.Option{
		controllers.WithTitle("sprag-go shop"),
		controllers.WithShell(appShell),
		controllers.WithStream(eventsRoute,
			controllers.ForwardTopic(OrderCompleted),
			controllers.ForwardTopic(MailSent),
			controllers.ForwardTopic(MetricsUpdated)),
	}
	if tel.tp != nil {
		serverOpts = append(serverOpts, controllers.WithPropagator(propagation.TraceContext{})) // continue a caller's trace
	}
	all := []fx.Option{
		fx.Supply(cfg),
		fxmodule.Telemetry(tel.mp, tel.tp),
		fxmodule.Providers(map[string]any{
			"orders":  NewOrderService,
			"email":   NewEmailService,
			"metrics": NewMetricsService,
		}),
		fxmodule.Controllers(NewDashboardController, NewOrdersController, NewHomeController),
		fxmodule.ServerOptions(serverOpts...),
		fx.Supply(tel),
		fx.Invoke(mountHandlers),
		fx.StopTimeout(10 * time.Second),
	}
	return fxmodule.App(append(all, opts...)...)
}

type serverParams struct {
	fx.In
	Server    *controllers.Server `name:"http"`
	Telemetry *telemetry
}

// mountHandlers adds the plain handlers to the server: /metrics and the
// page's assets.
func mountHandlers(p serverParams) error {
	if err := p.Server.Handle("GET /metrics", p.Telemetry.metrics); err != nil {
		return err
	}
	return handleAssets(p.Server)
}

type announceParams struct {
	fx.In
	Bus    *eventbus.Bus
	Server *controllers.Server `name:"http"`
	Config Config
}

// announce prints where to look once every service has started.
func announce(p announceParams) error {
	_, err := fxmodule.AppStarted.Listen(p.Bus, func(_ context.Context, e fxmodule.AppEvent) error {
		base := "http://" + p.Server.Addr()
		fmt.Printf("dashboard: %s/dashboard (services: %v)\n", base, e.Services)
		fmt.Printf("data: %s\n", p.Config.DataDir)
		fmt.Printf("place an order: curl -H 'Content-Type: application/json' -d '{\"customer\":\"Ada\",\"email\":\"ada@example.com\",\"amount\":\"19.99\"}' %s/orders/create\n", base)
		fmt.Println("stop with Ctrl-C")
		return nil
	})
	return err
}
