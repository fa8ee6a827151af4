package fxmodule

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"go.uber.org/fx"

	"github.com/sprag-go/sprag/sprag"
)

// A ServiceOption configures [Service]: [As] and [ParamTags].
type ServiceOption interface {
	applyService(*serviceConfig)
	String() string
}

type serviceConfig struct {
	as   []any
	tags []string
}

type asOption []any

func (o asOption) applyService(c *serviceConfig) { c.as = append(c.as, o...) }
func (o asOption) String() string {
	names := make([]string, len(o))
	for i, iface := range o {
		if t := reflect.TypeOf(iface); t != nil && t.Kind() == reflect.Pointer {
			names[i] = "new(" + t.Elem().String() + ")"
		} else {
			names[i] = fmt.Sprintf("%#v", iface)
		}
	}
	return "fxmodule.As(" + strings.Join(names, ", ") + ")"
}

// As also provides the service as each of the given interfaces, under the
// same name, as fx.As does: As(new(Mailer)) makes it injectable as a
// Mailer tagged `name:"email"`. The concrete type stays provided too.
func As(interfaces ...any) ServiceOption { return asOption(interfaces) }

type paramTagsOption []string

func (o paramTagsOption) applyService(c *serviceConfig) { c.tags = append(c.tags, o...) }
func (o paramTagsOption) String() string {
	quoted := make([]string, len(o))
	for i, t := range o {
		quoted[i] = fmt.Sprintf("%q", t)
	}
	return "fxmodule.ParamTags(" + strings.Join(quoted, ", ") + ")"
}

// ParamTags tags the constructor's parameters, in order, as fx.ParamTags
// does: ParamTags(`name:"primary"`, "") makes the first parameter the
// service named "primary" and leaves the second untagged. A tag holds
// name, group and optional keys. Passing fx.Annotate(ctor,
// fx.ParamTags(...)) to Service does the same; fx's other annotations
// are refused there, since Service names the result itself.
func ParamTags(tags ...string) ServiceOption { return paramTagsOption(tags) }

// Service provides the service that ctor builds under `name:"<name>"` and
// runs it with the app:
//
//	fx.New(
//		fxmodule.Module,
//		fxmodule.Service("metrics", NewMetricsService),
//		fxmodule.Service("dashboard", NewDashboard), // may take *MetricsService
//	)
//
// ctor is an ordinary fx constructor: it may take dependencies and may
// return an error as its second result. Its first result must be a pointer
// to a struct that embeds sprag.Service. It takes other services by name,
// through fx.In fields tagged `name:"…"` or [ParamTags], or by type, with
// no tag, when exactly one service is of that type: the service is
// provided under its name, and also by type to the constructors given to
// Service and [Controllers].
//
// When fx constructs the service, and it does when the app is built even
// when nothing takes the service, Service binds it to the app's runtime
// under name, registers it in the *sprag.Registry, and appends one fx hook
// that starts it (OnStart) and stops it (OnStop). Hooks are appended in
// construction order, and fx constructs a dependency before what depends
// on it: a service starts after the services it takes and stops before
// them.
//
// Mistakes fail fx.New with a *[WiringError] that names the service, the
// constructor with its file and line, and what to do: a constructor that
// cannot build a service, a name given twice or with a '/', a service
// taken by a name or a type that no service has, a constructor that fails
// or returns nil. Service needs [Module] in the app.
func Service(name string, ctor any, opts ...ServiceOption) fx.Option {
	var cfg serviceConfig
	for _, o := range opts {
		if o != nil {
			o.applyService(&cfg)
		}
	}
	return newService(name, ctor, cfg, true)
}

// newService returns the option of a service; launch puts it in the group
// of services Module constructs, which the HTTP server joins only when
// Controllers is used.
func newService(name string, ctor any, cfg serviceConfig, launch bool) *serviceOption {
	d := &decl{kind: serviceDecl, name: name, ctor: newConstructor(ctor, cfg.tags)}
	d.problem = checkName(name)
	if d.problem == nil {
		d.problem = d.ctor.problem
	}
	if d.problem == nil {
		d.out, d.problem = serviceResult(d.ctor)
	}
	if d.problem == nil {
		d.as, d.problem = asTypes(d.out, cfg.as)
	}
	if d.problem != nil {
		return &serviceOption{Option: declOnly(d), decl: d}
	}
	plans, deps := planParams(d.ctor, d.out)
	d.deps = deps
	return &serviceOption{
		Option: fx.Options(fx.Provide(located(serviceWrapper(d, plans, launch).Interface(), d.ctor.pc()), d.provide), requireModule),
		decl:   d,
	}
}

// serviceOption is the option Service returns; it keeps its declaration
// for [App], which checks an app's services before fx builds it.
type serviceOption struct {
	fx.Option
	decl *decl
}

// declOnly declares d without providing it: the option of a service that
// cannot be provided, whose mistake the wiring check reports.
func declOnly(d *decl) fx.Option { return fx.Options(fx.Provide(d.provide), requireModule) }

// checkName says what is wrong with a service's name.
func checkName(name string) error {
	if err := sprag.CheckName(name); err != nil { // sprag's rule, in the wiring's words
		return fmt.Errorf("%s: choose another name", strings.TrimPrefix(err.Error(), sprag.ErrInvalidArgument.Error()+": "))
	}
	return nil
}

// serviceResult returns the service type c's constructor builds, or what
// is wrong with its results.
func serviceResult(c *constructor) (reflect.Type, error) {
	ft := c.fn.Type()
	if ft.NumOut() == 0 || ft.NumOut() > 2 || (ft.NumOut() == 2 && ft.Out(1) != errorType) {
		results := make([]string, ft.NumOut())
		for i := range results {
			results[i] = ft.Out(i).String()
		}
		return nil, fmt.Errorf("returns (%s): a service's constructor returns the service, and optionally an error", strings.Join(results, ", "))
	}
	if err := checkServiceType(ft.Out(0)); err != nil {
		return nil, err
	}
	return ft.Out(0), nil
}

// asTypes returns the interfaces of As, or what is wrong with them.
func asTypes(out reflect.Type, as []any) ([]reflect.Type, error) {
	var types []reflect.Type
	for _, iface := range as {
		t := reflect.TypeOf(iface)
		if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Interface {
			given := "nil"
			if t != nil {
				given = "a " + t.String()
			}
			return nil, fmt.Errorf("fxmodule.As takes pointers to interfaces, such as fxmodule.As(new(Mailer)), and was given %s", given)
		}
		if !out.Implements(t.Elem()) {
			return nil, fmt.Errorf("%s does not implement %s, which fxmodule.As names", out, t.Elem())
		}
		if !slices.Contains(types, t.Elem()) {
			types = append(types, t.Elem())
		}
	}
	return types, nil
}

// moduleIn is what requireModule asks for: the wiring Module provides.
type moduleIn struct {
	fx.In
	Wiring *wiring `optional:"true"`
}

// errNoModule is the error of an app with services and no Module.
var errNoModule = errors.New("fxmodule.Service and fxmodule.Controllers need fxmodule.Module, " +
	"which checks, constructs and runs the services: add it to fx.New, first, or build the app with fxmodule.App")

// requireModule fails the app when it has no Module: without it, nothing
// would construct, run or even check its services. It is one option for
// every Service and Controllers call, built once: an option records the
// stack of its making, which costs more than the invoke.
var requireModule = fx.Invoke(func(p moduleIn) error {
	if p.Wiring == nil {
		return errNoModule
	}
	return nil
})

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
