package docs_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sprag-go/sprag/controllers"
	"github.com/sprag-go/sprag/fxmodule"
	"github.com/sprag-go/sprag/sprag"
)

// EmailConfig is what NewEmailService needs.
type EmailConfig struct{ APIKey string }

// Mailer is how other services see EmailService.
type Mailer interface {
	Send(ctx context.Context, to, body string) error
}

// EmailService sends emails. Its constructor fails without a key, as the
// seed's EmailService(api_key=os.environ["EMAIL_KEY"]) does.
type EmailService struct {
	sprag.Service
	key string
}

func NewEmailService(cfg EmailConfig) (*EmailService, error) {
	if cfg.APIKey == "" {
		return nil, errors.New("EMAIL_KEY is not set")
	}
	return &EmailService{key: cfg.APIKey}, nil
}

// Send sends one email; here it only pretends to.
func (e *EmailService) Send(ctx context.Context, to, body string) error { return nil }

// ReportsParams is what NewReports takes: services, by name.
type ReportsParams struct {
	fx.In
	Metrics *MetricsService `name:"metrics"`
	Mailer  Mailer          `name:"email"` // EmailService, provided As(new(Mailer))
}

// Reports mails the metrics every day. It depends on both services, so
// it starts after them and stops before them.
type Reports struct {
	sprag.Service
	metrics *MetricsService
	mailer  Mailer
}

func NewReports(p ReportsParams) *Reports {
	return &Reports{metrics: p.Metrics, mailer: p.Mailer}
}

func (r *Reports) OnStart(ctx context.Context) error {
	fmt.Println("start reports; metrics is", r.metrics.State())
	return nil
}

func (r *Reports) OnStop(ctx context.Context) error {
	fmt.Println("stop reports; metrics is", r.metrics.State())
	return nil
}

func Example_fxService() {
	var registry *sprag.Registry
	app := fx.New(
		fxmodule.Module,
		fx.Supply(zap.NewNop()), // the app's logger; without one, a production logger
		fx.NopLogger,            // fx's own events; fxmodule.LogFxEvents sends them to zap
		fx.Supply(EmailConfig{APIKey: "k-123"}),
		fxmodule.Service("reports", NewReports), // declared first, started last
		fxmodule.Service("metrics", NewMetricsService),
		fxmodule.Service("email", NewEmailService, fxmodule.As(new(Mailer))),
		fx.Populate(&registry),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(registry.Names()) // construction order, which is start order
	if err := app.Stop(ctx); err != nil {
		fmt.Println(err)
	}
	// Output:
	// start reports; metrics is running
	// [metrics email reports]
	// stop reports; metrics is running
}

func Example_fxConstructorError() {
	app := fx.New(
		fxmodule.Module, fx.Supply(zap.NewNop()), fx.NopLogger,
		fx.Supply(EmailConfig{}), // no key
		fxmodule.Service("email", NewEmailService),
	)
	err := app.Err() // also returned by app.Start; app.Run exits with status 1
	var wiringErr *fxmodule.WiringError
	if errors.As(err, &wiringErr) { // fx.New's error holds fxmodule's
		fmt.Println(wiringErr.Service, wiringErr.Constructor, "|", wiringErr.Err)
	}
	// Output:
	// email docs_test.NewEmailService | EMAIL_KEY is not set
}

// Step prints its start and stop; a non-nil fail makes its OnStart fail.
type Step struct {
	sprag.Service
	fail error
}

func (s *Step) OnStart(ctx context.Context) error {
	fmt.Println("start", s.Name())
	return s.fail
}

func (s *Step) OnStop(ctx context.Context) error {
	fmt.Println("stop", s.Name())
	return nil
}

// AfterDB makes a constructor depend on the service "db".
type AfterDB struct {
	fx.In
	DB *Step `name:"db"`
}

func Example_fxStartFailure() {
	app := fx.New(fxmodule.Module, fx.Supply(zap.NewNop()), fx.NopLogger,
		fxmodule.Service("db", func() *Step { return &Step{} }),
		fxmodule.Service("cache", func(AfterDB) *Step { return &Step{} }),
		fxmodule.Service("search", func(AfterDB) *Step { return &Step{fail: errors.New("index missing")} }),
	)
	err := app.Start(context.Background())
	fmt.Println(err)
	// Output:
	// start db
	// start cache
	// start search
	// stop cache
	// stop db
	// start service "search": index missing
}

func Example_fxReady() {
	var ready *fxmodule.Ready
	var registry *sprag.Registry
	app := fx.New(fxmodule.Module, fx.Supply(zap.NewNop()), fx.NopLogger,
		fxmodule.Service("db", func() *Step { return &Step{} }),
		fxmodule.Service("cache", func(AfterDB) *Step { return &Step{} }),
		fx.Populate(&ready, &registry),
		fx.Invoke(func(lc fx.Lifecycle, registry *sprag.Registry) {
			lc.Append(fx.StartHook(func(ctx context.Context) { // runs after every hook appended before it
				for name, svc := range registry.All() {
					fmt.Println("registered:", name, svc.State())
				}
			}))
		}),
		fx.Invoke(func(rt sprag.Runtime) error {
			_, err := fxmodule.AppStarted.Listen(rt.Bus, func(ctx context.Context, e fxmodule.AppEvent) error {
				fmt.Println("app started:", e.Services)
				return nil
			})
			if err != nil {
				return err
			}
			_, err = fxmodule.AppStopping.Listen(rt.Bus, func(ctx context.Context, e fxmodule.AppEvent) error {
				fmt.Println("app stopping:", e.Services)
				return nil
			})
			return err
		}),
	)
	_ = app.Start(context.Background())
	<-ready.Done() // closed once every service has started
	fmt.Println("healthy:", registry.Health(context.Background()).Healthy)
	_ = app.Stop(context.Background())
	// Output:
	// start db
	// start cache
	// app started: [db cache]
	// registered: db running
	// registered: cache running
	// healthy: true
	// app stopping: [db cache]
	// stop cache
	// stop db
}

// DashboardParams is what NewDashboardController receives: services by
// name.
type DashboardParams struct {
	fx.In
	Metrics *MetricsService `name:"metrics"`
}

// DashboardController is the seed's DashboardController.
type DashboardController struct{ metrics *MetricsService }

func NewDashboardController(p DashboardParams) *DashboardController {
	return &DashboardController{metrics: p.Metrics}
}

func (c *DashboardController) Route() string { return "GET /dashboard" }

func (c *DashboardController) Load(ctx context.Context, r *controllers.Request) (any, error) {
	email, err := controllers.Service[*EmailService](r, "email") // or look it up by name
	if err != nil {
		return nil, err
	}
	return map[string]any{"orders": c.metrics.Orders(), "email_configured": email.key != ""}, nil
}

func Example_fxControllers() {
	var server *controllers.Server
	app := fxmodule.App(
		fx.Supply(zap.NewNop()),
		fx.Supply(EmailConfig{APIKey: "k-123"}),
		fxmodule.Providers(map[string]any{
			"metrics": NewMetricsService,
			"email":   NewEmailService,
		}),
		fxmodule.Controllers(NewDashboardController),
		fxmodule.ServerOptions(controllers.WithAddr("127.0.0.1:0")),
		fx.Populate(fx.Annotate(&server, fx.ParamTags(`name:"http"`))),
	)
	if err := app.Start(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	rec := httptest.NewRecorder()
	server.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/dashboard", nil))
	fmt.Println(rec.Code, rec.Body)
	fmt.Println(server.Registry().Names())
	_ = app.Stop(context.Background())
	// Output:
	// 200 {"email_configured":true,"orders":0}
	// [email metrics http]
}

// Syncer's task always fails, and its restart policy soon gives up.
type Syncer struct{ sprag.Service }

func (s *Syncer) OnStart(ctx context.Context) error {
	_, err := s.Spawn(func(ctx context.Context) error {
		return errors.New("upstream unavailable")
	}, sprag.Label("pull"), sprag.Restart(sprag.RestartPolicy{MaxRestarts: 1, Backoff: time.Millisecond}))
	return err
}

func Example_fxShutdownOnTaskGiveUp() {
	app := fx.New(fxmodule.Module, fx.Supply(zap.NewNop()), fx.NopLogger,
		fxmodule.ShutdownOnTaskGiveUp(3),
		fxmodule.Service("syncer", func() *Syncer { return &Syncer{} }),
	)
	if err := app.Start(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	sig := <-app.Wait() // what app.Run waits for: SIGINT, SIGTERM or a shutdown
	fmt.Println("exit code", sig.ExitCode)
	_ = app.Stop(context.Background())
	// Output:
	// exit code 3
}

func Example_fxLogs() {
	core, logs := observer.New(zap.DebugLevel)
	app := fxmodule.App( // Module, plus fx's own events in zap
		fx.Supply(zap.New(core)),
		fxmodule.Service("db", func() *Bare { return &Bare{} }),
	)
	_ = app.Start(context.Background())
	_ = app.Stop(context.Background())

	hook := logs.FilterMessage("OnStart hook executed").All()[0]
	fmt.Println(hook.Level, hook.LoggerName, hook.Message)
	started := logs.FilterMessage("service started").All()[0]
	fmt.Println(started.Level, started.Message, started.ContextMap())
	fmt.Println(logs.FilterLevelExact(zap.ErrorLevel).Len())
	// Output:
	// debug fx OnStart hook executed
	// info service started map[service:db]
	// 0
}

// Audit takes the metrics service by its type, without a tag: one
// service is a *MetricsService.
type Audit struct {
	sprag.Service
	metrics *MetricsService
}

func NewAudit(metrics *MetricsService) *Audit { return &Audit{metrics: metrics} }

func Example_fxByType() {
	var audit *Audit
	app := fx.New(fxmodule.Module, fx.Supply(zap.NewNop()), fx.NopLogger,
		fxmodule.Service("audit", NewAudit),
		fxmodule.Service("metrics", NewMetricsService),
		fx.Populate(fx.Annotate(&audit, fx.ParamTags(`name:"audit"`))),
	)
	if err := app.Start(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(audit.metrics.Name(), audit.metrics.State())
	_ = app.Stop(context.Background())
	// Output:
	// metrics running
}

func Example_fxParamTags() {
	var audit *Audit
	app := fx.New(fxmodule.Module, fx.Supply(zap.NewNop()), fx.NopLogger,
		fxmodule.Service("metrics", NewMetricsService),
		fxmodule.Service("shadow-metrics", NewMetricsService),
		// Two services are a *MetricsService: name the one NewAudit takes.
		fxmodule.Service("audit", NewAudit, fxmodule.ParamTags(`name:"shadow-metrics"`)),
		// The same with fx's own annotation:
		// fxmodule.Service("audit", fx.Annotate(NewAudit, fx.ParamTags(`name:"shadow-metrics"`))),
		fx.Populate(fx.Annotate(&audit, fx.ParamTags(`name:"audit"`))),
	)
	if err := app.Start(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(audit.metrics.Name())
	_ = app.Stop(context.Background())
	// Output:
	// shadow-metrics
}
