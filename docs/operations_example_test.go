package docs_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sprag-go/sprag/fxmodule"
	"github.com/sprag-go/sprag/sprag"
)

// Example_operationsRun is compiled but not run (it has no Output
// comment): Run blocks until SIGINT or SIGTERM.
func Example_operationsRun() {
	fxmodule.App(
		fx.Supply(EmailConfig{APIKey: os.Getenv("EMAIL_KEY")}),
		fxmodule.Providers(map[string]any{
			"metrics": NewMetricsService,
			"email":   NewEmailService,
		}),
		fxmodule.Controllers(NewDashboardController),
		fxmodule.Shell(appShell),
		fx.StartTimeout(30*time.Second),
		fx.StopTimeout(20*time.Second), // less than the orchestrator's grace period
		fxmodule.ShutdownOnTaskGiveUp(3),
	).Run() // 0 after a signal and a clean stop; 1 when the start or the stop fails; 3 after a give-up
}

// Billing fails in several ways, to show what the logs say.
type Billing struct{ sprag.Service }

func (b *Billing) OnStart(ctx context.Context) error {
	_, err := b.Listen("invoice:due", b.onInvoice)
	return err
}

func (b *Billing) onInvoice(ctx context.Context, payload any) error {
	return fmt.Errorf("invoice %v: customer has no address", payload)
}

func Example_operationsLogs() {
	core, logs := observer.New(zap.InfoLevel)
	rt := sprag.NewRuntime(zap.New(core))
	ctx := context.Background()
	billing := &Billing{}
	_ = sprag.Bind(billing, "billing", rt)
	_ = billing.Start(ctx)

	_ = rt.Bus.Emit(ctx, "invoice:due", "INV-7")
	task, _ := billing.Spawn(func(context.Context) error { panic("nil ledger") }, sprag.Label("reconcile"))
	_ = task.Wait(ctx)
	_ = billing.Stop(ctx)
	_, _ = billing.Timeout(time.Second, func(context.Context) error { return nil }, sprag.Label("late"))

	for _, e := range logs.All() {
		fields := e.ContextMap()
		_, stack := fields["stack"]
		delete(fields, "stack")
		fmt.Println(e.Level, e.Message, fields, "stack:", stack)
	}
	// Output:
	// info service started map[service:billing] stack: false
	// error listener failed map[error:invoice INV-7: customer has no address kind:listener label:(*Billing).onInvoice service:billing topic:invoice:due] stack: false
	// error task panicked map[error:panic: nil ledger kind:task label:reconcile service:billing] stack: true
	// info service stopped map[service:billing] stack: false
	// warn managed method called while not running map[kind:timeout label:late service:billing] stack: false
}

func Example_operationsJSONLogs() {
	enc := zap.NewProductionEncoderConfig() // what zap.NewProduction writes, as JSON
	enc.TimeKey = ""                        // left out so that the output is the same on every run
	logger := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.AddSync(os.Stdout), zap.InfoLevel))
	ctx := context.Background()
	svc := &Bare{}
	_ = sprag.Bind(svc, "billing", sprag.NewRuntime(logger))
	_ = svc.Start(ctx)
	task, _ := svc.Spawn(func(context.Context) error {
		return errors.New("ledger: connection reset")
	}, sprag.Label("reconcile"))
	_ = task.Wait(ctx)
	_ = svc.Stop(ctx)
	// Output:
	// {"level":"info","msg":"service started","service":"billing"}
	// {"level":"error","msg":"task failed","service":"billing","kind":"task","label":"reconcile","error":"ledger: connection reset"}
	// {"level":"info","msg":"service stopped","service":"billing"}
}
