package fxmodule

import (
	"cmp"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"

	"go.uber.org/fx"

	"github.com/sprag-go/sprag/sprag"
)

// declKind tells a service from a controller.
type declKind uint8

const (
	serviceDecl declKind = iota
	controllerDecl
)

// decl is what one constructor given to [Service] or [Controllers]
// declares: the service it provides under which name and types, and what
// it takes. It is built once, when the option is, and read-only after.
type decl struct {
	kind    declKind
	name    string // the service's name; empty for a controller
	ctor    *constructor
	out     reflect.Type   // the service's type
	as      []reflect.Type // the interfaces of As
	deps    []dep
	problem error // a mistake found when the option was built
}

// declOut puts a decl in the group Module reads. Its constructor is a
// plain function of a static type, so that declaring costs fx little (no
// annotation to build).
type declOut struct {
	fx.Out
	Decl *decl `group:"sprag.decl"`
}

func (d *decl) provide() declOut { return declOut{Decl: d} }

// provides reports whether d provides a value of type t under name.
func (d *decl) provides(t reflect.Type, name string) bool {
	if d.kind != serviceDecl || d.name != name {
		return false
	}
	return d.out == t || slices.Contains(d.as, t)
}

// wiring is the app's view of its services and controllers: what they
// declared, and what the wrappers of their constructors need when fx
// calls them. [Module] provides it; it is one plain parameter of every
// wrapper (dig builds a parameter object anew for every call of a
// constructor that takes one).
type wiring struct {
	lifecycle fx.Lifecycle
	runtime   sprag.Runtime
	registry  *sprag.Registry
	watch     *deadlineWatch

	decls  []*decl                  // in source order of their constructors
	byName map[string][]*decl       // services by name
	byType map[reflect.Type][]*decl // services by their own type

	mu        sync.Mutex
	unmanaged []unmanaged // service values not provided by fxmodule; guarded by mu
	readyHook bool        // Ready's hook is appended; guarded by mu
	late      []fx.Hook   // the hooks of services constructed after it, which Ready's hook runs; guarded by mu
}

// unmanaged is a value embedding sprag.Service that a constructor of
// fxmodule's took although no fxmodule.Service provided it.
type unmanaged struct {
	svc sprag.Interface
	by  *decl
	dep dep
}

type wiringParams struct {
	fx.In
	Lifecycle fx.Lifecycle
	Runtime   sprag.Runtime
	Registry  *sprag.Registry
	Watch     *deadlineWatch
	Decls     []*decl `group:"sprag.decl"`
}

func newWiring(p wiringParams) *wiring {
	w := &wiring{
		lifecycle: p.Lifecycle,
		runtime:   p.Runtime,
		registry:  p.Registry,
		watch:     p.Watch,
		decls:     slices.Clone(p.Decls),
		byName:    make(map[string][]*decl),
		byType:    make(map[reflect.Type][]*decl),
	}
	// fx shuffles value groups; the constructors' source positions give
	// the messages an order that does not change from run to run.
	// The HTTP server's comes first, so that a service of the app's that
	// takes its name is the one reported.
	server := serverProvide.decl
	slices.SortStableFunc(w.decls, func(a, b *decl) int {
		return cmp.Or(cmpBool(b == server, a == server), cmp.Compare(a.ctor.file, b.ctor.file), cmp.Compare(a.ctor.line, b.ctor.line),
			cmp.Compare(a.kind, b.kind), cmp.Compare(a.name, b.name))
	})
	for _, d := range w.decls {
		if d.kind != serviceDecl {
			continue
		}
		w.byName[d.name] = append(w.byName[d.name], d)
		if d.out != nil {
			w.byType[d.out] = append(w.byType[d.out], d)
		}
	}
	return w
}

// cmpBool orders false before true.
func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// register binds svc, registers it and appends its hook, when fx has
// constructed it.
func (w *wiring) register(d *decl, svc sprag.Interface) error {
	if err := sprag.Bind(svc, d.name, w.runtime); err != nil {
		return d.wiringError(err)
	}
	if err := w.registry.Provide(d.name, svc); err != nil {
		return d.wiringError(err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.readyHook {
		// Constructed by an invoke of the app's own, after Module's: a hook
		// appended now would start after Ready's and stop before it. Ready's
		// hook starts it before the app is ready, and stops it after
		// AppStopping.
		w.late = append(w.late, w.watch.hook(svc))
		return nil
	}
	w.lifecycle.Append(w.watch.hook(svc))
	return nil
}

// hookReady records that Ready's hook is appended: the hooks of services
// constructed from now on are Ready's to run.
func (w *wiring) hookReady() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.readyHook = true
}

// lateHooks returns the hooks of the services constructed after Ready's
// hook was appended, in construction order.
func (w *wiring) lateHooks() []fx.Hook {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.late)
}

// inspect notes the service values among args, the arguments of d's
// constructor, that no fxmodule.Service provided: values of a group, or of
// an optional name. [Ready] reports those that nothing started.
func (w *wiring) inspect(d *decl, args []reflect.Value) {
	for _, dp := range d.deps {
		if dp.byType || (dp.name != "" && !dp.optional) {
			continue // checked by the wiring check: provided by fxmodule
		}
		if !isServiceType(dp.typ) && (dp.typ.Kind() != reflect.Slice || !isServiceType(dp.typ.Elem())) {
			continue
		}
		v := valueAt(args, dp.path)
		if !v.IsValid() {
			continue
		}
		if v.Kind() == reflect.Slice {
			for i := range v.Len() {
				w.noteUnmanaged(d, dp, v.Index(i))
			}
			continue
		}
		w.noteUnmanaged(d, dp, v)
	}
}

func (w *wiring) noteUnmanaged(d *decl, dp dep, v reflect.Value) {
	if v.IsNil() {
		return
	}
	svc := v.Interface().(sprag.Interface)
	if svc.Name() != "" {
		return // bound: an fxmodule service, or adopted
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.unmanaged = append(w.unmanaged, unmanaged{svc: svc, by: d, dep: dp})
}

// checkUnmanaged returns a WiringError for each service value noted by
// inspect that nothing started: no fxmodule.Service provided it, and no
// service adopted it.
func (w *wiring) checkUnmanaged() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var errs []error
	for _, u := range w.unmanaged {
		if u.svc.State() != sprag.Created {
			continue
		}
		errs = append(errs, u.by.wiringError(fmt.Errorf(
			"took %s (%s), whose %T embeds sprag.Service, but no fxmodule.Service provides it and nothing started it: "+
				"provide it with fxmodule.Service(name, constructor), or adopt it in OnStart", u.dep, u.dep.where, u.svc)))
	}
	return joinErrors(errs)
}

// valueAt returns the value at path in args: a parameter index, then
// field indexes.
func valueAt(args []reflect.Value, path []int) reflect.Value {
	if len(path) == 0 || path[0] >= len(args) {
		return reflect.Value{}
	}
	v := args[path[0]]
	for _, i := range path[1:] {
		v = v.Field(i)
	}
	return v
}

// joinErrors returns nil, the one error, or errors joined.
func joinErrors(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return errors.Join(errs...)
}
