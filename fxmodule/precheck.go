package fxmodule

import (
	"reflect"

	"go.uber.org/fx"
)

// precheck returns opts with the services that fx would fail to build in
// its own terms taken out, their mistakes left for the wiring check to
// report: every service after the first of a name (fx refuses a second
// provider of one type and name), and the services of a cycle (fx
// reports a cycle before any invoke, so before the wiring check).
func precheck(opts []fx.Option) []fx.Option {
	var all []*serviceOption
	collectServices(opts, &all)
	seen := make(map[string]bool)
	drop := make(map[*serviceOption]error) // the services to declare only, with their mistake, if any
	byDecl := make(map[*decl]*serviceOption, len(all))
	var decls []*decl
	for _, s := range all {
		byDecl[s.decl] = s
		if s.decl.problem != nil {
			continue
		}
		if seen[s.decl.name] {
			drop[s] = nil // the wiring check reports the name given twice
			continue
		}
		seen[s.decl.name] = true
		decls = append(decls, s.decl)
	}
	for _, cycle := range cycles(decls) {
		for i, d := range cycle {
			drop[byDecl[d]] = errCycleMember
			if i == 0 {
				drop[byDecl[d]] = cycleError(cycle)
			}
		}
	}
	if len(drop) == 0 {
		return opts
	}
	return replaceServices(opts, drop)
}

// optionType is the element type of fx.Options' result, a slice of options.
var optionType = reflect.TypeFor[fx.Option]()

// collectServices appends the services among opts, also inside
// fx.Options, to all.
func collectServices(opts []fx.Option, all *[]*serviceOption) {
	for _, o := range opts {
		if s, ok := o.(*serviceOption); ok {
			*all = append(*all, s)
			continue
		}
		if inner, ok := optionSlice(o); ok {
			collectServices(inner, all)
		}
	}
}

// replaceServices returns opts with the services of drop declared only,
// with the mistake drop gives them.
func replaceServices(opts []fx.Option, drop map[*serviceOption]error) []fx.Option {
	out := make([]fx.Option, len(opts))
	for i, o := range opts {
		out[i] = o
		if s, ok := o.(*serviceOption); ok {
			if problem, dropped := drop[s]; dropped {
				d := *s.decl
				d.problem = problem
				out[i] = declOnly(&d)
			}
		} else if inner, ok := optionSlice(o); ok {
			out[i] = fx.Options(replaceServices(inner, drop)...)
		}
	}
	return out
}

// optionSlice returns the options o groups when o is the result of
// fx.Options, a slice of options.
func optionSlice(o fx.Option) ([]fx.Option, bool) {
	v := reflect.ValueOf(o)
	if v.Kind() != reflect.Slice || v.Type().Elem() != optionType {
		return nil, false
	}
	inner := make([]fx.Option, v.Len())
	for i := range inner {
		inner[i], _ = v.Index(i).Interface().(fx.Option)
	}
	return inner, true
}
