// Command dashboard is the Services page of SPECTER/SPRAG, whole, on fx:
// a MetricsService that collects runtime figures on an interval and counts
// orders, an OrderService that takes orders through a controller action,
// an EmailService that confirms them through an adopted outbox, and a
// DashboardController that reads the metrics by named injection.
//
//	go run ./examples/dashboard
//
// It serves on :8080, or on SPRAG_ADDR, and stops every service in reverse
// order on Ctrl-C or SIGTERM.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/sprag-go/sprag/controllers"
	"github.com/sprag-go/sprag/eventbus"
	"github.com/sprag-go/sprag/fxmodule"
)

func main() {
	// Readable logs at info level; stacks only for errors.
	logger, err := zap.NewDevelopment(zap.IncreaseLevel(zap.InfoLevel), zap.AddStacktrace(zap.ErrorLevel))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer func() { _ = logger.Sync() }()

	fxmodule.App(
		fx.Supply(logger),
		fxmodule.Providers(map[string]any{
			"metrics": NewMetricsService,
			"orders":  NewOrderService,
			"email":   NewEmailService,
		}),
		fxmodule.Controllers(NewDashboardController, NewOrdersController),
		fxmodule.Shell(appShell),
		fxmodule.ServerOptions(controllers.WithTitle("sprag-go dashboard")),
		fx.StopTimeout(10*time.Second),
		fx.Invoke(announce),
	).Run()
}

type announceParams struct {
	fx.In
	Bus    *eventbus.Bus
	Server *controllers.Server `name:"http"`
}

// announce prints where to look once every service has started.
func announce(p announceParams) error {
	_, err := fxmodule.AppStarted.Listen(p.Bus, func(_ context.Context, e fxmodule.AppEvent) error {
		base := "http://" + p.Server.Addr()
		fmt.Printf("dashboard: %s/dashboard (services: %v)\n", base, e.Services)
		fmt.Printf("place an order: curl -X POST -H 'Content-Type: application/json' -d '{\"customer\":\"Ada\",\"email\":\"ada@example.com\",\"total_cents\":1999}' %s/orders/create\n", base)
		fmt.Println("stop with Ctrl-C")
		return nil
	})
	return err
}
