package fxmodule

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/sprag-go/sprag/sprag"
)

// errCycleMember marks a service that App took out of the app because it
// is in a dependency cycle reported on another member of the cycle.
var errCycleMember = errors.New("in a dependency cycle")

// check returns the mistakes in the app's wiring, one *WiringError each
// (joined when there are several), before fx constructs any service:
// constructors fxmodule cannot use, names given twice, and services or
// controllers that take a service by a name or a type that no service has.
// [Module] runs it in its first invoke.
func (w *wiring) check() error {
	var errs []error
	for _, d := range w.decls {
		if d.problem != nil {
			if !errors.Is(d.problem, errCycleMember) {
				errs = append(errs, d.wiringError(d.problem))
			}
			continue
		}
		if d.kind == serviceDecl {
			switch first := w.byName[d.name][0]; first {
			case d:
			case serverProvide.decl:
				errs = append(errs, d.wiringError(fmt.Errorf("%w: %q is the name of the app's HTTP server (fxmodule.HTTPServiceName): give the service another name",
					sprag.ErrDuplicateName, d.name)))
			default:
				errs = append(errs, d.wiringError(fmt.Errorf("%w: service %s has that name too: give each service its own name",
					sprag.ErrDuplicateName, describe(first))))
			}
		}
		for _, dp := range d.deps {
			if err := w.checkDep(d, dp); err != nil {
				errs = append(errs, d.wiringError(err))
			}
		}
	}
	return joinErrors(errs)
}

// checkDep says what is wrong with dp, a dependency of d, when it asks for
// a service that fxmodule does not provide. A dependency on a value of the
// app's own is fx's to check: it may come from anywhere in the app, and
// fx names the constructor that lacks it.
func (w *wiring) checkDep(d *decl, dp dep) error {
	switch {
	case dp.group != "":
		return nil
	case dp.byType:
		return w.checkByType(dp)
	case dp.name == "" && d.kind == serviceDecl && dp.typ == d.out:
		return fmt.Errorf("takes %s (%s) by type, and is a %s itself: take the other service by its name, with a `name:\"…\"` tag",
			dp.typ, dp.where, dp.typ)
	case dp.name == "":
		return nil
	}
	named := w.byName[dp.name]
	for _, s := range named {
		if s.provides(dp.typ, dp.name) || s.problem != nil {
			return nil // provided, or its own mistake is reported
		}
	}
	if dp.optional {
		return nil
	}
	isIface := dp.typ.Kind() == reflect.Interface
	if len(named) > 0 {
		s := named[0]
		switch {
		case isIface && s.out.Implements(dp.typ):
			return fmt.Errorf("takes %s (%s), but service %q is not provided as %s: add fxmodule.As(new(%s)) to its fxmodule.Service",
				dp, dp.where, dp.name, dp.typ, dp.typ)
		case isIface:
			return fmt.Errorf("takes %s (%s), but service %q is a %s, which does not implement %s", dp, dp.where, dp.name, s.out, dp.typ)
		case isServiceType(dp.typ):
			return fmt.Errorf("takes %s (%s), but service %q is a %s", dp, dp.where, dp.name, s.out)
		}
		return nil
	}
	var candidates []string // the names of the services of this type
	for _, s := range w.decls {
		if s.kind == serviceDecl && s.out != nil && (s.out == dp.typ || slices.Contains(s.as, dp.typ)) {
			candidates = append(candidates, s.name)
		}
	}
	if !isServiceType(dp.typ) && len(candidates) == 0 {
		return nil // an interface that no service is provided as: a value of the app's own
	}
	msg := fmt.Sprintf("takes %s (%s), but no service is named %q", dp, dp.where, dp.name)
	if guess := closest(dp.name, candidates); guess != "" {
		msg += fmt.Sprintf(": did you mean %q?", guess)
	}
	if len(candidates) == 0 {
		return fmt.Errorf("%s, and none is a %s: provide it with fxmodule.Service(%q, constructor); a service provided otherwise is never started",
			msg, dp.typ, dp.name)
	}
	return fmt.Errorf("%s (services that are a %s: %s)", msg, dp.typ, quoteAll(candidates))
}

// checkByType checks a dependency on a service type without a name: there
// must be one service of the type.
func (w *wiring) checkByType(dp dep) error {
	all := w.byType[dp.typ]
	switch {
	case len(all) == 1, len(all) == 0 && dp.optional:
		return nil
	case len(all) == 0:
		return fmt.Errorf("takes %s (%s), but no service is a %s: provide one with fxmodule.Service(name, constructor); a service provided otherwise is never started",
			dp.typ, dp.where, dp.typ)
	}
	described := make([]string, len(all))
	for i, s := range all {
		described[i] = describe(s)
	}
	return fmt.Errorf("takes %s (%s), but %d services are a %s, %s: take one by its name, with a `name:%q` tag (fxmodule.ParamTags for a parameter)",
		dp.typ, dp.where, len(all), dp.typ, strings.Join(described, " and "), all[0].name)
}

// describe names a service and its constructor: `"store" (main.NewStore at main.go:12)`.
func describe(d *decl) string {
	return fmt.Sprintf("%q (%s at %s)", d.name, d.ctor.name, location(d.ctor.file, d.ctor.line))
}

func quoteAll(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = strconv.Quote(n)
	}
	return strings.Join(quoted, ", ")
}

// closest returns the name among names that is within two edits of name
// (an insertion, a deletion, a substitution or a swap of neighbours), the
// nearest first, or "" when none is.
func closest(name string, names []string) string {
	best, bestDist := "", 3
	for _, n := range names {
		if d := editDistance(name, n); d < bestDist && d < len(name) {
			best, bestDist = n, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// cycles returns the dependency cycles among the services of decls, each
// as the services in it, the first in source order leading; a service
// that takes its own name is a cycle of one.
func cycles(decls []*decl) [][]*decl {
	byName := make(map[string][]*decl)
	byType := make(map[reflect.Type][]*decl)
	for _, d := range decls {
		if d.kind == serviceDecl && d.problem == nil {
			byName[d.name] = append(byName[d.name], d)
			byType[d.out] = append(byType[d.out], d)
		}
	}
	edges := func(d *decl) []*decl {
		var to []*decl
		for _, dp := range d.deps {
			switch {
			case dp.byType:
				to = append(to, byType[dp.typ]...)
			case dp.name != "" && dp.group == "":
				for _, s := range byName[dp.name] {
					if s.provides(dp.typ, dp.name) {
						to = append(to, s)
					}
				}
			}
		}
		return to
	}
	// Tarjan's strongly connected components.
	var (
		index   = make(map[*decl]int)
		low     = make(map[*decl]int)
		onStack = make(map[*decl]bool)
		stack   []*decl
		found   [][]*decl
		visit   func(*decl)
	)
	visit = func(d *decl) {
		index[d], low[d] = len(index), len(index)
		stack = append(stack, d)
		onStack[d] = true
		self := false
		for _, to := range edges(d) {
			if to == d {
				self = true
			}
			if _, seen := index[to]; !seen {
				visit(to)
				low[d] = min(low[d], low[to])
			} else if onStack[to] {
				low[d] = min(low[d], index[to])
			}
		}
		if low[d] != index[d] {
			return
		}
		var scc []*decl
		for {
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			onStack[top] = false
			scc = append(scc, top)
			if top == d {
				break
			}
		}
		if len(scc) > 1 || self {
			slices.SortFunc(scc, func(a, b *decl) int { return slices.Index(decls, a) - slices.Index(decls, b) })
			found = append(found, scc)
		}
	}
	for _, d := range decls {
		if _, seen := index[d]; !seen && d.kind == serviceDecl && d.problem == nil {
			visit(d)
		}
	}
	slices.SortFunc(found, func(a, b []*decl) int { return slices.Index(decls, a[0]) - slices.Index(decls, b[0]) })
	return found
}

// cycleError says what is wrong with cycle, services that take each
// other; it is reported on the first of them.
func cycleError(cycle []*decl) error {
	const fix = "let one find the other when it starts (sprag.Get on the *sprag.Registry, in its OnStart) instead of taking it in its constructor"
	if len(cycle) == 1 {
		return fmt.Errorf("takes itself, by its own name %q, so fx cannot construct it: %s", cycle[0].name, fix)
	}
	if len(cycle) == 2 {
		return fmt.Errorf("takes service %s, which takes it in turn, so fx can construct neither: %s", describe(cycle[1]), fix)
	}
	others := make([]string, len(cycle)-1)
	for i, d := range cycle[1:] {
		others[i] = describe(d)
	}
	return fmt.Errorf("takes, through others, services that take it in turn, %s, so fx can construct none of them: %s",
		strings.Join(others, " and "), fix)
}
