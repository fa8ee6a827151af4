package fxmodule

import (
	"fmt"
	"html/template"

	"go.uber.org/fx"

	"github.com/sprag-go/sprag/controllers"
	"github.com/sprag-go/sprag/sprag"
)

// HTTPServiceName is the name of the app's HTTP server among its services:
// inject it as *controllers.Server tagged `name:"http"`. No service of the
// app's may take the name, with or without [Controllers]: the wiring check
// reports it as a name given twice.
const HTTPServiceName = "http"

// serverProvide provides the app's controllers.Server as the service
// "http". Module holds it, and fx builds it only when something takes it:
// Controllers does, and so does any injection of it, so that an app in
// which nothing takes it opens no port.
var serverProvide = newService(HTTPServiceName, newServer, serviceConfig{}, false)

type serverParams struct {
	fx.In
	Registry    *sprag.Registry
	Logger      *logger
	Telemetry   *telemetryConfig         `optional:"true"`
	Controllers []controllers.Controller `group:"sprag.controllers"`
	Options     [][]controllers.Option   `group:"sprag.http.options"`
	Defaults    *serverDefaults          `optional:"true"`
}

// serverDefaults is what [App] sets for the server before the app's own
// ServerOptions.
type serverDefaults struct {
	addr string
}

// newServer builds the server with the app's logger, App's address, then
// the options of ServerOptions and Shell, and mounts the controllers.
// Since it takes the controllers, which take services, the server starts
// after every service it serves and stops before them.
func newServer(p serverParams) (*controllers.Server, error) {
	opts := []controllers.Option{controllers.WithLogger(p.Logger.Logger)}
	if t := p.Telemetry; t != nil { // the app's providers, as its services have them
		if t.mp != nil {
			opts = append(opts, controllers.WithMeterProvider(t.mp))
		}
		if t.tp != nil {
			opts = append(opts, controllers.WithTracerProvider(t.tp))
		}
	}
	if p.Defaults != nil && p.Defaults.addr != "" {
		opts = append(opts, controllers.WithAddr(p.Defaults.addr))
	}
	for _, o := range p.Options {
		opts = append(opts, o...)
	}
	opts = append(opts, controllers.WithControllers(p.Controllers...))
	return controllers.NewServer(p.Registry, opts...)
}

// serverIn takes the app's server, to launch it.
type serverIn struct {
	fx.In
	Server *controllers.Server `name:"http"`
}

// launchOut puts a service in the group that Module constructs.
type launchOut struct {
	fx.Out
	Service sprag.Interface `group:"sprag.launch"`
}

func launchServer(p serverIn) launchOut { return launchOut{Service: p.Server} }

// Controllers provides each constructor's result as a controller of the
// app's HTTP server and runs that server as the service "http"
// ([HTTPServiceName]). A constructor is an ordinary fx constructor, or
// fx.Annotate of one with fx.ParamTags: it takes services by name, through
// fx.In fields tagged `name:"…"`, or by type when one service is of that
// type, and may return an error. Its result must implement
// controllers.Controller. Mistakes fail fx.New with a *[WiringError] that
// names the constructor, as for [Service]; route conflicts and malformed
// routes fail fx.New too (the server is built while fx builds the app),
// naming the routes and the controllers.
//
//	type DashboardParams struct {
//		fx.In
//		Metrics *MetricsService `name:"metrics"`
//	}
//
//	func NewDashboardController(p DashboardParams) *DashboardController { ... }
//
//	fxmodule.Controllers(NewDashboardController)
func Controllers(ctors ...any) fx.Option {
	opts := []fx.Option{fx.Provide(launchServer)}
	for _, ctor := range ctors {
		opts = append(opts, controller(ctor))
	}
	return fx.Options(opts...)
}

func controller(ctor any) fx.Option {
	d := &decl{kind: controllerDecl, ctor: newConstructor(ctor, nil)}
	d.problem = d.ctor.problem
	if d.problem == nil {
		ft := d.ctor.fn.Type()
		switch {
		case ft.NumOut() == 0 || ft.NumOut() > 2 || (ft.NumOut() == 2 && ft.Out(1) != errorType):
			d.problem = fmt.Errorf("returns %d results: a controller's constructor returns the controller, and optionally an error", ft.NumOut())
		case !ft.Out(0).Implements(controllerType):
			d.problem = fmt.Errorf("returns %s, which is not a controllers.Controller: give it the methods Route() string and Load(ctx, *controllers.Request) (any, error)", ft.Out(0))
		}
	}
	if d.problem != nil {
		return declOnly(d)
	}
	plans, deps := planParams(d.ctor, nil)
	d.deps = deps
	return fx.Options(fx.Provide(located(controllerWrapper(d, plans).Interface(), d.ctor.pc()), d.provide), requireModule)
}

// serverOptionsOut adds the options of one ServerOptions call.
type serverOptionsOut struct {
	fx.Out
	Options []controllers.Option `group:"sprag.http.options"`
}

// ServerOptions configures the app's HTTP server: its address, timeouts,
// limits, shell. The options of one call apply in order, after the app's
// logger and [App]'s address. It may be given several times, but fx
// gives the calls to the server in no set order: an option that sets the
// same thing as another (two addresses, two shells) belongs in the same
// call.
func ServerOptions(opts ...controllers.Option) fx.Option {
	return fx.Provide(func() serverOptionsOut { return serverOptionsOut{Options: opts} })
}

// Shell sets the html/template the app's pages render in, the seed's
// shell=app_shell; see controllers.WithShell for what it is given.
func Shell(t *template.Template) fx.Option { return ServerOptions(controllers.WithShell(t)) }
