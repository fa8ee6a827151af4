package fxmodule

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"go.uber.org/fx"

	"github.com/sprag-go/sprag/sprag"
)

// A ServiceOption configures [Service].
type ServiceOption interface {
	applyService(*serviceConfig)
	String() string
}

type serviceConfig struct {
	as []any
}

type asOption []any

func (o asOption) applyService(c *serviceConfig) { c.as = append(c.as, o...) }
func (o asOption) String() string {
	names := make([]string, len(o))
	for i, iface := range o {
		names[i] = reflect.TypeOf(iface).Elem().String()
	}
	return "As(" + strings.Join(names, ", ") + ")"
}

// As also provides the service as each of the given interfaces, under the
// same name, as fx.As does: As(new(Mailer)) makes it injectable as a
// Mailer tagged `name:"email"`. The concrete type stays provided too.
func As(interfaces ...any) ServiceOption { return asOption(interfaces) }

var (
	errorType     = reflect.TypeFor[error]()
	interfaceType = reflect.TypeFor[sprag.Interface]()
	wiringType    = reflect.TypeFor[*wiring]()
	lifecycleType = reflect.TypeFor[fx.Lifecycle]()
)

// wiring is what Service's wrapper needs besides the constructor's own
// parameters and the lifecycle. Module provides it; it is one plain
// parameter rather than an fx.In struct because dig builds a parameter
// object anew for every constructor that takes one.
type wiring struct {
	runtime  sprag.Runtime
	registry *sprag.Registry
	ready    *Ready
}

func newWiring(rt sprag.Runtime, registry *sprag.Registry, ready *Ready) *wiring {
	return &wiring{runtime: rt, registry: registry, ready: ready}
}

// Service provides the service that ctor builds under `name:"<name>"` and
// runs it with the app:
//
//	fx.New(
//		fxmodule.Module,
//		fxmodule.Service("metrics", NewMetricsService),
//		fxmodule.Service("dashboard", NewDashboard), // may take `name:"metrics"`
//	)
//
// ctor is an ordinary fx constructor: it may take dependencies, other
// services among them through fx.In fields tagged `name:"…"`, and may
// return an error as its second result. Its first result must be a pointer
// to a struct that embeds sprag.Service; anything else fails fx.New with an
// error naming the service.
//
// When fx constructs the service, and it does even when nothing injects it,
// Service binds it to the app's runtime under name, registers it in the
// *sprag.Registry, and appends one fx hook that starts it (OnStart) and
// stops it (OnStop). Hooks are appended in construction order, and fx
// constructs a dependency before what depends on it: a service starts after
// the services it takes and stops before them. A constructor error, a
// duplicate name or a nil result fails fx.New, naming the service.
func Service(name string, ctor any, opts ...ServiceOption) fx.Option {
	provide, touch := provideService(name, ctor, opts...)
	return fx.Options(provide, touch)
}

// provideService returns the provide of the service and the invoke that
// makes fx construct it even when nothing injects it.
func provideService(name string, ctor any, opts ...ServiceOption) (provide, touch fx.Option) {
	var c serviceConfig
	for _, o := range opts {
		o.applyService(&c)
	}
	fn := reflect.ValueOf(ctor)
	out, err := checkConstructor(name, fn)
	if err != nil {
		return fx.Error(err), fx.Options()
	}
	for _, iface := range c.as {
		if t := reflect.TypeOf(iface); t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Interface {
			return fx.Error(fmt.Errorf("fxmodule.Service(%q): As wants pointers to interfaces such as new(Mailer), got %T", name, iface)), fx.Options()
		} else if !out.Implements(t.Elem()) {
			return fx.Error(fmt.Errorf("fxmodule.Service(%q): %s does not implement %s", name, out, t.Elem())), fx.Options()
		}
	}

	tag := fmt.Sprintf("name:%q", name)
	provideAnns := []fx.Annotation{fx.ResultTags(tag)}
	if len(c.as) > 0 {
		// One fx.As per type: the interfaces of a single As map to
		// successive results, and the second result is the error.
		provideAnns = append(provideAnns, fx.As(fx.Self()))
		for _, iface := range c.as {
			provideAnns = append(provideAnns, fx.As(iface))
		}
	}
	noop := reflect.MakeFunc(reflect.FuncOf([]reflect.Type{out}, nil, false), func([]reflect.Value) []reflect.Value { return nil })
	return fx.Provide(fx.Annotate(wrapConstructor(name, fn, out).Interface(), provideAnns...)),
		fx.Invoke(fx.Annotate(noop.Interface(), fx.ParamTags(tag)))
}

// checkConstructor checks that fn is a function whose first result embeds
// sprag.Service and whose optional second result is an error, and returns
// the first result's type.
func checkConstructor(name string, fn reflect.Value) (reflect.Type, error) {
	if name == "" || strings.Contains(name, "/") {
		return nil, fmt.Errorf("fxmodule.Service(%q): a service name must be non-empty and hold no '/'", name)
	}
	if !fn.IsValid() || fn.Kind() != reflect.Func || fn.IsNil() {
		return nil, fmt.Errorf("fxmodule.Service(%q): the constructor must be a function, got %T", name, fn)
	}
	ft := fn.Type()
	switch {
	case ft.NumOut() == 0 || ft.NumOut() > 2 || (ft.NumOut() == 2 && ft.Out(1) != errorType):
		return nil, fmt.Errorf("fxmodule.Service(%q): the constructor %s must return the service, and optionally an error", name, ft)
	case !ft.Out(0).Implements(interfaceType):
		return nil, fmt.Errorf("fxmodule.Service(%q): the constructor returns %s, which does not embed sprag.Service (embed it in the struct and return a pointer)", name, ft.Out(0))
	}
	return ft.Out(0), nil
}

// wrapConstructor returns a function with a lifecycle, a *wiring and fn's
// parameters, and results (service, error): it calls fn, then binds,
// registers and hooks the service. It is built with reflect because fx
// refuses to combine fx.OnStart/fx.OnStop annotations with ResultTags on
// one constructor, and appending the hook when the constructor runs (not in
// an invoke) is what makes the start order follow the dependency order.
func wrapConstructor(name string, fn reflect.Value, out reflect.Type) reflect.Value {
	ft := fn.Type()
	in := make([]reflect.Type, 0, ft.NumIn()+2)
	in = append(in, lifecycleType, wiringType) // first: a variadic parameter must stay last
	for i := range ft.NumIn() {
		in = append(in, ft.In(i))
	}
	wrapped := reflect.FuncOf(in, []reflect.Type{out, errorType}, ft.IsVariadic())
	zero := reflect.Zero(out)
	fail := func(err error) []reflect.Value { return []reflect.Value{zero, reflect.ValueOf(&err).Elem()} }

	return reflect.MakeFunc(wrapped, func(args []reflect.Value) []reflect.Value {
		lc, w := args[0].Interface().(fx.Lifecycle), args[1].Interface().(*wiring)
		args = args[2:]
		var res []reflect.Value
		if ft.IsVariadic() {
			res = fn.CallSlice(args)
		} else {
			res = fn.Call(args)
		}
		if len(res) == 2 && !res[1].IsNil() {
			return fail(fmt.Errorf("construct service %q: %w", name, res[1].Interface().(error)))
		}
		if res[0].Kind() == reflect.Pointer && res[0].IsNil() {
			return fail(fmt.Errorf("construct service %q: the constructor returned a nil %s", name, out))
		}
		svc := res[0].Interface().(sprag.Interface)
		if err := w.register(name, svc, lc); err != nil {
			return fail(err)
		}
		return []reflect.Value{res[0], reflect.Zero(errorType)}
	})
}

// register binds svc, registers it and appends its hook.
func (w *wiring) register(name string, svc sprag.Interface, lc fx.Lifecycle) error {
	if err := sprag.Bind(svc, name, w.runtime); err != nil {
		return err
	}
	if err := w.registry.Provide(name, svc); err != nil {
		return err
	}
	lc.Append(w.ready.serviceHook(svc))
	return nil
}

// Providers provides each service of the map, as [Service] does, in the
// order of their names: the seed's providers={...}. Constructors may
// depend on each other; fx orders their construction, and so their start,
// by those dependencies.
//
//	fxmodule.Providers(map[string]any{
//		"metrics": NewMetricsService,
//		"email":   NewEmailService,
//	})
func Providers(ctors map[string]any) fx.Option {
	names := make([]string, 0, len(ctors))
	for name := range ctors {
		names = append(names, name)
	}
	slices.Sort(names)
	opts := make([]fx.Option, len(names))
	for i, name := range names {
		opts[i] = Service(name, ctors[name])
	}
	return fx.Options(opts...)
}
