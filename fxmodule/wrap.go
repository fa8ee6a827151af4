package fxmodule

import (
	"errors"
	"fmt"
	"reflect"

	"go.uber.org/fx"

	"github.com/sprag-go/sprag/controllers"
	"github.com/sprag-go/sprag/sprag"
)

// launchGroup holds every service fx must construct when the app is
// built, whether or not anything takes it; [Module] asks for the group.
const launchGroup = "sprag.launch"

var controllerType = reflect.TypeFor[controllers.Controller]()

// located returns fn for fx.Provide, such that fx and dig name the
// function at pc, the user's constructor, in their errors instead of fn,
// a function built with reflect that every such error would otherwise
// call "reflect".makeFuncStub. fx reports an fx.Annotate result at the
// program counter in its FuncPtr field (fx's provide.go hands it to dig as
// dig.LocationForPC), a field fx.Annotate leaves zero; located sets it.
// Should a later fx drop the field, located returns fn unchanged and the
// errors lose the location, which a test of fxmodule catches.
func located(fn any, pc uintptr) any {
	annotated := reflect.ValueOf(fx.Annotate(fn))
	if annotated.Kind() != reflect.Struct {
		return fn
	}
	v := reflect.New(annotated.Type()).Elem()
	v.Set(annotated)
	f := v.FieldByName("FuncPtr")
	if !f.IsValid() || f.Kind() != reflect.Uintptr || !f.CanSet() {
		return fn
	}
	f.SetUint(uint64(pc))
	return v.Interface()
}

// serviceWrapper returns the function fx calls to construct the service
// of d: it takes the app's wiring and what d's constructor takes (as plans ask for it), calls the constructor, binds, registers and
// hooks the service, and provides it as its type named d.name, in the
// by-type group, as each interface of As named d.name, and, when launch
// is set, in the launch group.
//
// It is built with reflect because fx refuses to combine fx.OnStart and
// fx.OnStop annotations with fx.ResultTags, and appending the hook when
// the constructor runs, not in an invoke declared after, is what makes
// the start order follow the dependency order.
func serviceWrapper(d *decl, plans []paramPlan, launch bool) reflect.Value {
	fields := []reflect.StructField{
		{Name: "Out", Type: outType, Anonymous: true},
		{Name: "Named", Type: d.out, Tag: reflect.StructTag(fmt.Sprintf("name:%q", d.name))},
		{Name: "ByType", Type: d.out, Tag: reflect.StructTag(fmt.Sprintf("group:%q", byTypeGroup))},
	}
	if launch {
		fields = append(fields, reflect.StructField{Name: "Launch", Type: interfaceType, Tag: reflect.StructTag(fmt.Sprintf("group:%q", launchGroup))})
	}
	for i, iface := range d.as {
		fields = append(fields, reflect.StructField{Name: fmt.Sprintf("As%d", i), Type: iface, Tag: reflect.StructTag(fmt.Sprintf("name:%q", d.name))})
	}
	out := reflect.StructOf(fields)

	return makeWrapper(d, plans, out, func(w *wiring, res reflect.Value) (reflect.Value, error) {
		if err := w.register(d, res.Interface().(sprag.Interface)); err != nil {
			return reflect.Value{}, err
		}
		v := reflect.New(out).Elem()
		for i := 1; i < out.NumField(); i++ {
			v.Field(i).Set(res)
		}
		return v, nil
	})
}

// controllerOut provides a controller in the group the server mounts.
type controllerOut struct {
	fx.Out
	Controller controllers.Controller `group:"sprag.controllers"`
}

// controllerWrapper returns the function fx calls to construct the
// controller of d and provide it to the app's server.
func controllerWrapper(d *decl, plans []paramPlan) reflect.Value {
	out := reflect.TypeFor[controllerOut]()
	return makeWrapper(d, plans, out, func(_ *wiring, res reflect.Value) (reflect.Value, error) {
		return reflect.ValueOf(controllerOut{Controller: res.Interface().(controllers.Controller)}), nil
	})
}

// makeWrapper builds a function that takes the app's *wiring, then the
// parameters of plans, and returns (out, error): one plain parameter of
// fxmodule's, since fx inspects every parameter of every constructor. It
// converts the parameters, calls d's constructor, refuses an error or a
// nil result with a *WiringError, notes the unmanaged services it was
// given (see wiring.inspect) and hands the result to finish.
func makeWrapper(d *decl, plans []paramPlan, out reflect.Type,
	finish func(w *wiring, res reflect.Value) (reflect.Value, error),
) reflect.Value {
	fn := d.ctor.fn
	ft := fn.Type()
	in := make([]reflect.Type, 0, 1+len(plans))
	in = append(in, wiringType) // first: a variadic parameter must stay last
	for _, p := range plans {
		in = append(in, p.in)
	}
	wrapped := reflect.FuncOf(in, []reflect.Type{out, errorType}, ft.IsVariadic())
	zero := reflect.Zero(out)
	fail := func(err error) []reflect.Value { return []reflect.Value{zero, reflect.ValueOf(&err).Elem()} }

	return reflect.MakeFunc(wrapped, func(args []reflect.Value) []reflect.Value {
		w, params := args[0].Interface().(*wiring), args[1:]
		for i, p := range plans {
			if p.convert == nil {
				continue
			}
			v, err := p.convert(params[i])
			if err != nil {
				return fail(d.wiringError(err))
			}
			params[i] = v
		}
		var res []reflect.Value
		if err := sprag.Safely(func() error {
			if ft.IsVariadic() {
				res = fn.CallSlice(params)
			} else {
				res = fn.Call(params)
			}
			return nil
		}); err != nil {
			return fail(d.wiringError(err)) // a *sprag.PanicError, with the stack
		}
		if len(res) == 2 && !res[1].IsNil() {
			return fail(d.wiringError(res[1].Interface().(error)))
		}
		if isNilValue(res[0]) {
			return fail(d.wiringError(fmt.Errorf("returned a nil %s: return the %s, or an error that says why there is none", ft.Out(0), d.kind)))
		}
		w.inspect(d, params)
		v, err := finish(w, res[0])
		if err != nil {
			var we *WiringError
			if !errors.As(err, &we) {
				err = d.wiringError(err)
			}
			return fail(err)
		}
		return []reflect.Value{v, reflect.Zero(errorType)}
	})
}

// isNilValue reports whether v holds nil.
func isNilValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan:
		return v.IsNil()
	}
	return false
}

// String names the kind in messages.
func (k declKind) String() string {
	if k == controllerDecl {
		return "controller"
	}
	return "service"
}
