package fxmodule

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"

	"go.uber.org/fx"

	"github.com/sprag-go/sprag/sprag"
)

var (
	errorType     = reflect.TypeFor[error]()
	interfaceType = reflect.TypeFor[sprag.Interface]()
	serviceType   = reflect.TypeFor[sprag.Service]()
	inType        = reflect.TypeFor[fx.In]()
	outType       = reflect.TypeFor[fx.Out]()
	wiringType    = reflect.TypeFor[*wiring]()
)

// constructor is a user's constructor as fxmodule sees it: the function,
// where it is declared, and its parameters as fx will fill them.
type constructor struct {
	fn       reflect.Value // nil when the constructor could not be used
	name     string        // the function's name, "main.NewStore"
	file     string
	line     int
	tags     []string // parameter tags, from fxmodule.ParamTags or fx.ParamTags
	problem  error    // what is wrong with it, when it cannot be used
	annotate string   // "fx.Annotate(main.NewStore, ...)" when given so, for messages
}

// newConstructor inspects ctor, which may be a function or the result of
// fx.Annotate with fx.ParamTags. tags are the parameter tags given with
// [ParamTags]. It never fails: a constructor that cannot be used carries
// its problem.
func newConstructor(ctor any, tags []string) *constructor {
	c := &constructor{tags: tags}
	v := reflect.ValueOf(ctor)
	if v.IsValid() && v.Kind() == reflect.Struct && v.Type().PkgPath() == "go.uber.org/fx" {
		v = c.unannotate(v)
		if c.problem != nil {
			c.locate(v)
			return c
		}
	}
	switch {
	case !v.IsValid():
		c.problem = errors.New("the constructor is nil: pass a function")
		c.locate(v)
		return c
	case v.Kind() != reflect.Func:
		c.problem = fmt.Errorf("the constructor is of type %s, not a function: pass a function", v.Type())
		c.locate(reflect.Value{})
		return c
	case v.IsNil():
		c.problem = fmt.Errorf("the constructor is a nil %s: pass a function", v.Type())
		c.locate(v)
		return c
	}
	c.fn = v
	c.locate(v)
	if len(c.tags) > v.Type().NumIn() {
		c.problem = fmt.Errorf("%d parameter tags for %d parameters: give one tag per parameter, in order", len(c.tags), v.Type().NumIn())
	}
	for i, tag := range c.tags {
		if c.problem != nil {
			break
		}
		if err := checkTag(tag); err != nil {
			c.problem = fmt.Errorf("parameter tag %d %q: %w", i, tag, err)
		} else if tag != "" && isIn(v.Type().In(i)) {
			c.problem = fmt.Errorf("parameter tag %d %q: parameter %d is an fx.In struct, whose fields carry their own tags", i, tag, i)
		} else if err := fieldProblem(reflect.StructField{Name: "V", Type: v.Type().In(i), Tag: reflect.StructTag(tag)}); tag != "" && err != nil {
			c.problem = fmt.Errorf("parameter tag %d %q: %w", i, tag, err)
		}
	}
	for i := range v.Type().NumIn() {
		if c.problem != nil {
			break
		}
		if i < len(c.tags) && c.tags[i] != "" {
			continue // checked with its tag
		}
		if err := paramProblem(v.Type().In(i)); err != nil {
			c.problem = fmt.Errorf("parameter %d: %w", i, err)
		}
	}
	return c
}

// unannotate takes the function and the parameter tags out of the result
// of fx.Annotate. Parameter tags are the only annotation a service's
// constructor can take: its result is named by fxmodule.
func (c *constructor) unannotate(v reflect.Value) reflect.Value {
	t := v.Type()
	switch t.Name() {
	case "annotationError": // fx.Annotate refused its annotations
		p := reflect.New(t)
		p.Elem().Set(v)
		if err, ok := p.Interface().(error); ok {
			c.problem = fmt.Errorf("fx.Annotate failed: %w", err)
			return v
		}
	case "annotated":
		target := v.FieldByName("Target")
		if !target.IsValid() || target.Kind() != reflect.Interface {
			break
		}
		fn := target.Elem()
		c.annotate = "fx.Annotate(" + funcName(fn) + ", …)"
		for _, refused := range []struct{ field, what string }{
			{"ResultTags", "fx.ResultTags: the service is named by fxmodule.Service; drop it"},
			{"As", "fx.As: use fxmodule.As(new(Interface)) instead"},
			{"From", "fx.From: take the interface in the constructor's own parameters instead"},
			{"Hooks", "fx.OnStart and fx.OnStop: give the service OnStart and OnStop methods instead"},
		} {
			if f := v.FieldByName(refused.field); f.IsValid() && f.Kind() == reflect.Slice && f.Len() > 0 {
				c.problem = fmt.Errorf("%s is annotated with %s", c.annotate, refused.what)
				return fn
			}
		}
		if tags := v.FieldByName("ParamTags"); tags.IsValid() && tags.Kind() == reflect.Slice && tags.Type().Elem().Kind() == reflect.String {
			if len(c.tags) > 0 && tags.Len() > 0 {
				c.problem = fmt.Errorf("%s has fx.ParamTags and fxmodule.ParamTags too: give the tags once", c.annotate)
				return fn
			}
			for i := range tags.Len() {
				c.tags = append(c.tags, tags.Index(i).String())
			}
		}
		return fn
	case "Annotated":
		c.problem = errors.New("fx.Annotated is not a constructor: pass the function, with fxmodule.ParamTags for its parameters")
		return v
	}
	c.problem = fmt.Errorf("the constructor is of type %s, which fxmodule cannot use: pass a function", t)
	return v
}

// locate sets the name and the location of c to those of fn, a function,
// or, when fn is none, to the call of fxmodule that was given it.
func (c *constructor) locate(fn reflect.Value) {
	if fn.IsValid() && fn.Kind() == reflect.Func && !fn.IsNil() {
		if f := runtime.FuncForPC(fn.Pointer()); f != nil {
			c.name = shortFuncName(f.Name())
			c.file, c.line = f.FileLine(fn.Pointer())
			if strings.HasPrefix(c.file, "<") { // a method value's wrapper, "<autogenerated>": no line of the user's
				c.name = strings.TrimSuffix(c.name, "-fm")
				_, c.file, c.line = callSite()
			}
			return
		}
	}
	c.name, c.file, c.line = callSite()
}

// callSite returns the exported function of fxmodule that the app called,
// and the file and line of that call.
func callSite() (fn, file string, line int) {
	pcs := make([]uintptr, 16)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	pkg := reflect.TypeFor[constructor]().PkgPath() + "."
	for {
		f, more := frames.Next()
		if !strings.HasPrefix(f.Function, pkg) {
			return fn, f.File, f.Line
		}
		if name := strings.TrimPrefix(f.Function, pkg); !strings.ContainsAny(name, ".(") && name != "" && name[0] >= 'A' && name[0] <= 'Z' {
			fn = "fxmodule." + name
		}
		if !more {
			return fn, "", 0
		}
	}
}

// pc returns the constructor's program counter, for fx to report it as
// the constructor's location.
func (c *constructor) pc() uintptr {
	if !c.fn.IsValid() {
		return 0
	}
	return c.fn.Pointer()
}

// location formats file:line, relative to the working directory when the
// file is below it, as the go command prints paths.
func location(file string, line int) string {
	if wd, err := filepath.Abs("."); err == nil {
		if rel, err := filepath.Rel(wd, file); err == nil && !strings.HasPrefix(rel, "..") && !filepath.IsAbs(rel) {
			file = rel
		}
	}
	return file + ":" + strconv.Itoa(line)
}

// funcName returns the short name of the function fn, or its type when it
// is not one.
func funcName(fn reflect.Value) string {
	if fn.IsValid() && fn.Kind() == reflect.Func && !fn.IsNil() {
		if f := runtime.FuncForPC(fn.Pointer()); f != nil {
			return shortFuncName(f.Name())
		}
	}
	if !fn.IsValid() {
		return "nil"
	}
	return fn.Type().String()
}

// shortFuncName drops the import path of a runtime function name, as %T
// does for types: "github.com/acme/shop/store.NewStore" is "store.NewStore".
func shortFuncName(name string) string {
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	return name
}

// checkTag checks a parameter tag as fx.ParamTags does: space-separated
// key:"value" pairs whose keys are name, group and optional.
func checkTag(tag string) error {
	rest := strings.TrimSpace(tag)
	for rest != "" {
		colon := strings.Index(rest, ":")
		if colon <= 0 {
			return errors.New(`want key:"value" pairs`)
		}
		switch key := rest[:colon]; key {
		case "name", "group", "optional":
		default:
			return fmt.Errorf("unknown key %q: the keys are name, group and optional", key)
		}
		rest = rest[colon+1:]
		value, err := strconv.QuotedPrefix(rest)
		if err != nil {
			return errors.New(`want key:"value" pairs`)
		}
		rest = strings.TrimSpace(rest[len(value):])
	}
	return nil
}

// isIn reports whether t is an fx.In parameter struct: it embeds fx.In,
// directly or through the structs it embeds, as dig sees it.
func isIn(t reflect.Type) bool { return embeds(t, inType) }

// embeds reports whether t is marker, or a struct that embeds marker,
// directly or through the types it embeds (dig's rule for fx.In and
// fx.Out).
func embeds(t, marker reflect.Type) bool {
	queue := []reflect.Type{t}
	for len(queue) > 0 {
		t, queue = queue[0], queue[1:]
		if t == marker {
			return true
		}
		if t.Kind() != reflect.Struct {
			continue
		}
		for i := range t.NumField() {
			if f := t.Field(i); f.Anonymous {
				queue = append(queue, f.Type)
			}
		}
	}
	return false
}

// paramProblem says what dig, under fx, would refuse in a parameter of
// type t when fx.New provides the constructor: fx would report it, with a
// stack, as a failure of the function fxmodule builds with reflect.
func paramProblem(t reflect.Type) error {
	switch {
	case embeds(t, outType) || t.Kind() == reflect.Pointer && embeds(t.Elem(), outType) || embeds(t, reflect.PointerTo(outType)):
		return fmt.Errorf("%s is an fx.Out struct, which only a constructor's results can be: take the values it holds", t)
	case isIn(t):
		return inProblem(t)
	case embeds(t, reflect.PointerTo(inType)):
		return fmt.Errorf("%s embeds *fx.In: embed fx.In itself", t)
	case t.Kind() == reflect.Pointer && isIn(t.Elem()):
		return fmt.Errorf("%s is a pointer to an fx.In struct: take the struct itself", t)
	}
	return nil
}

// inProblem says what dig would refuse in the fields of t, an fx.In struct.
func inProblem(t reflect.Type) error {
	ignoreUnexported := false
	for i := range t.NumField() {
		if f := t.Field(i); f.Type == inType {
			if v := f.Tag.Get("ignore-unexported"); v != "" {
				b, err := strconv.ParseBool(v)
				if err != nil {
					return fmt.Errorf("%s: `ignore-unexported:%q` on fx.In: want true or false", t, v)
				}
				ignoreUnexported = b
			}
			break
		}
	}
	for i := range t.NumField() {
		f := t.Field(i)
		switch {
		case f.Type == inType:
		case !f.IsExported() && ignoreUnexported:
		case !f.IsExported():
			return fmt.Errorf("%s.%s is unexported, and fx fills only exported fields: export it, or tag fx.In with `ignore-unexported:\"true\"`", t, f.Name)
		default:
			if err := fieldProblem(f); err != nil {
				return fmt.Errorf("%s.%s: %w", t, f.Name, err)
			}
		}
	}
	return nil
}

// fieldProblem says what dig would refuse in f, a field of an fx.In
// struct or a parameter with its tag.
func fieldProblem(f reflect.StructField) error {
	optional := false
	if v := f.Tag.Get("optional"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("`optional:%q`: want true or false", v)
		}
		optional = b
	}
	group := f.Tag.Get("group")
	if group == "" {
		return paramProblem(f.Type)
	}
	name, opts, _ := strings.Cut(group, ",")
	for opt := range strings.SplitSeq(opts, ",") {
		switch opt {
		case "", "soft":
		case "flatten":
			return fmt.Errorf("`group:%q`: flatten is for results, not parameters", group)
		default:
			return fmt.Errorf("`group:%q`: unknown option %q: the option is soft", group, opt)
		}
	}
	switch {
	case f.Type.Kind() != reflect.Slice:
		return fmt.Errorf("`group:%q` on a %s: a group is taken as a slice, []%s", name, f.Type, f.Type)
	case f.Tag.Get("name") != "":
		return fmt.Errorf("`group:%q` and `name:%q`: take a group or a name, not both", name, f.Tag.Get("name"))
	case optional:
		return fmt.Errorf("`group:%q` is optional: a group is never missing, only empty; drop optional", name)
	}
	return nil
}

// isServiceType reports whether t is a pointer to a struct that embeds
// sprag.Service: a type whose values fxmodule binds, registers and runs.
func isServiceType(t reflect.Type) bool {
	return t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct && t.Implements(interfaceType)
}

// checkServiceType says what is wrong with t as the result of a service's
// constructor, or nil when it is a pointer to a struct embedding
// sprag.Service by value.
func checkServiceType(t reflect.Type) error {
	switch {
	case t.Kind() == reflect.Struct && reflect.PointerTo(t).Implements(interfaceType):
		return fmt.Errorf("returns %s, a struct value: return *%s, a pointer, so that the service is not copied", t, t)
	case !isServiceType(t):
		return fmt.Errorf("returns %s, which does not embed sprag.Service: embed sprag.Service in the struct and return a pointer to it", t)
	case embedsServicePointer(t.Elem()):
		return fmt.Errorf("returns %s, which embeds *sprag.Service, a pointer: embed sprag.Service itself, so that each service has its own", t)
	}
	return nil
}

// embedsServicePointer reports whether struct type t reaches its promoted
// sprag.Service through an embedded pointer.
func embedsServicePointer(t reflect.Type) bool {
	f, ok := t.FieldByName("Service") // the shallowest, as Go promotes it
	if !ok || (f.Type != serviceType && f.Type != reflect.PointerTo(serviceType)) {
		return false
	}
	for i := range f.Index {
		if t.FieldByIndex(f.Index[:i+1]).Type.Kind() == reflect.Pointer {
			return true
		}
	}
	return false
}
