package fxmodule

import (
	"fmt"
	"html/template"
	"reflect"

	"go.uber.org/fx"

	"github.com/sprag-go/sprag/controllers"
	"github.com/sprag-go/sprag/sprag"
)

// HTTPServiceName is the name of the app's HTTP server among its services:
// inject it as *controllers.Server tagged `name:"http"`.
const HTTPServiceName = "http"

const (
	controllersGroup   = `group:"sprag.controllers"`
	serverOptionsGroup = `group:"sprag.http.options"`
)

// serverProvide and serverTouch provide the app's controllers.Server as the
// service "http". Module holds the provide; Controllers and Controller
// hold the invoke, so that an app without controllers opens no port.
var serverProvide, serverTouch = provideService(HTTPServiceName, newServer)

type serverParams struct {
	fx.In
	Registry    *sprag.Registry
	Logger      *logger
	Controllers []controllers.Controller `group:"sprag.controllers"`
	Options     []controllers.Option     `group:"sprag.http.options"`
}

// newServer builds the server with the app's logger, then the options of
// ServerOptions and Shell, and mounts the controllers. Since it takes the
// controllers, which take services, the server starts after every service
// it serves and stops before them.
func newServer(p serverParams) (*controllers.Server, error) {
	opts := append([]controllers.Option{controllers.WithLogger(p.Logger.Logger)}, p.Options...)
	opts = append(opts, controllers.WithControllers(p.Controllers...))
	return controllers.NewServer(p.Registry, opts...)
}

// Controllers provides each constructor's result as a controller of the
// app's HTTP server and runs that server as the service "http"
// ([HTTPServiceName]). A constructor is an ordinary fx constructor: it
// receives services by fx.In fields tagged `name:"…"`, and may return an
// error. Its result must implement controllers.Controller; anything else
// fails fx.New with an error naming the constructor. Route conflicts and
// malformed routes fail fx.New too (the server is built while fx wires the
// app), naming the routes and the controllers.
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
	opts := []fx.Option{serverTouch}
	for _, ctor := range ctors {
		opts = append(opts, controller(ctor))
	}
	return fx.Options(opts...)
}

var controllerType = reflect.TypeFor[controllers.Controller]()

func controller(ctor any) fx.Option {
	ft := reflect.TypeOf(ctor)
	if ft == nil || ft.Kind() != reflect.Func || ft.NumOut() == 0 || !ft.Out(0).Implements(controllerType) {
		return fx.Error(fmt.Errorf("fxmodule.Controllers: %T is not a constructor of a controllers.Controller (a func whose first result has Route and Load)", ctor))
	}
	return fx.Provide(fx.Annotate(ctor, fx.As(new(controllers.Controller)), fx.ResultTags(controllersGroup)))
}

// ServerOptions configures the app's HTTP server: its address, timeouts,
// limits, shell. It may be given several times; the options apply in
// order, after the app's logger.
func ServerOptions(opts ...controllers.Option) fx.Option {
	provides := make([]fx.Option, len(opts))
	for i, o := range opts {
		provides[i] = fx.Provide(fx.Annotate(func() controllers.Option { return o }, fx.ResultTags(serverOptionsGroup)))
	}
	return fx.Options(provides...)
}

// Shell sets the html/template the app's pages render in, the seed's
// shell=app_shell; see controllers.WithShell for what it is given.
func Shell(t *template.Template) fx.Option { return ServerOptions(controllers.WithShell(t)) }
