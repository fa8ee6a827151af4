package fxmodule

import (
	"fmt"
	"reflect"
	"strconv"
)

// byTypeGroup is the value group every service is also provided in, under
// its own type: a parameter that asks for a service type without a name is
// filled from it, so that a service provided once can be taken by type.
const byTypeGroup = "sprag.service"

// dep is one dependency of a constructor, as fx fills it.
type dep struct {
	typ      reflect.Type
	name     string
	group    string
	optional bool
	byType   bool   // an untagged service type, taken from byTypeGroup
	where    string // "parameter 1" or "OrdersParams.Store", for messages
	path     []int  // parameter index, then field indexes: where the value is
}

// String shows the dependency as it is asked for: a type and its tag.
func (d dep) String() string {
	switch {
	case d.name != "":
		return fmt.Sprintf("%s `name:%q`", d.typ, d.name)
	case d.group != "":
		return fmt.Sprintf("%s `group:%q`", d.typ, d.group)
	}
	return d.typ.String()
}

// paramPlan says how the wrapper gets one parameter of the user's
// constructor: what it asks fx for, and how it turns that into the value
// the constructor takes. A nil convert passes the value as it is.
type paramPlan struct {
	in      reflect.Type
	convert func(reflect.Value) (reflect.Value, error)
}

// planParams returns how the wrapper of c asks for each of c's parameters,
// and c's dependencies. A parameter that asks for a service type without a
// name is asked for as the service's by-type group, unless it is self, the
// constructor's own result type, which would make the service depend on
// itself. Parameter tags turn a plain parameter into a tagged field.
func planParams(c *constructor, self reflect.Type) ([]paramPlan, []dep) {
	ft := c.fn.Type()
	plans := make([]paramPlan, ft.NumIn())
	var deps []dep
	for i := range ft.NumIn() {
		pt := ft.In(i)
		where := "parameter " + strconv.Itoa(i)
		variadic := ft.IsVariadic() && i == ft.NumIn()-1
		tag := ""
		if i < len(c.tags) {
			tag = c.tags[i]
		}
		switch {
		case tag != "":
			field := reflect.StructField{Name: "V", Type: pt, Tag: reflect.StructTag(tag)}
			d := fieldDep(field, where, []int{i})
			if variadic && d.group == "" && !d.optional {
				// fx marks a tagged variadic parameter optional, so that
				// tagging it does not make it required.
				field.Tag = reflect.StructTag(tag + ` optional:"true"`)
				d.optional = true
			}
			plans[i], d = planField(field, d, self)
			deps = append(deps, d)
		case variadic:
			plans[i] = paramPlan{in: pt} // fx leaves variadic parameters empty
		case isIn(pt):
			sp, fieldDeps := planStruct(pt, self, where, []int{i})
			plans[i] = sp
			deps = append(deps, fieldDeps...)
		default:
			d := dep{typ: pt, where: where, path: []int{i}}
			if isServiceType(pt) && pt != self {
				d.byType = true
				plans[i] = byTypeParam(pt, false)
			} else {
				plans[i] = paramPlan{in: pt}
			}
			deps = append(deps, d)
		}
	}
	return plans, deps
}

// fieldDep returns the dependency a tagged field asks for.
func fieldDep(f reflect.StructField, where string, path []int) dep {
	optional, _ := strconv.ParseBool(f.Tag.Get("optional"))
	return dep{
		typ:      f.Type,
		name:     f.Tag.Get("name"),
		group:    f.Tag.Get("group"),
		optional: optional,
		where:    where,
		path:     path,
	}
}

// planField plans a tagged parameter: a one-field fx.In struct, or the
// by-type group when the tag holds neither name nor group.
func planField(f reflect.StructField, d dep, self reflect.Type) (paramPlan, dep) {
	if d.name == "" && d.group == "" && isServiceType(d.typ) && d.typ != self {
		d.byType = true
		return byTypeParam(d.typ, d.optional), d
	}
	in := reflect.StructOf([]reflect.StructField{{Name: "In", Type: inType, Anonymous: true}, f})
	return paramPlan{in: in, convert: func(v reflect.Value) (reflect.Value, error) { return v.Field(1), nil }}, d
}

// byTypeParam asks for every service of type t and picks the one there is.
func byTypeParam(t reflect.Type, optional bool) paramPlan {
	in := reflect.StructOf([]reflect.StructField{
		{Name: "In", Type: inType, Anonymous: true},
		{Name: "All", Type: reflect.SliceOf(t), Tag: reflect.StructTag(fmt.Sprintf("group:%q", byTypeGroup))},
	})
	return paramPlan{in: in, convert: func(v reflect.Value) (reflect.Value, error) { return pickOne(v.Field(1), t, optional) }}
}

// pickOne returns the one service of all, which are the services of type
// t. The wiring check has made sure there is one; this is its last line.
func pickOne(all reflect.Value, t reflect.Type, optional bool) (reflect.Value, error) {
	switch {
	case all.Len() == 1:
		return all.Index(0), nil
	case all.Len() == 0 && optional:
		return reflect.Zero(t), nil
	case all.Len() == 0:
		return reflect.Value{}, fmt.Errorf("no service is of type %s", t)
	}
	return reflect.Value{}, fmt.Errorf("%d services are of type %s: take one by its name", all.Len(), t)
}

// planStruct plans an fx.In parameter struct: as it is, or, when some of
// its fields ask for a service type without a name, as a mirror struct
// whose such fields ask for the by-type group. Nested fx.In structs are
// planned the same way.
func planStruct(t reflect.Type, self reflect.Type, where string, path []int) (paramPlan, []dep) {
	type fieldPlan struct {
		user, mirror int
		convert      func(reflect.Value) (reflect.Value, error)
	}
	var (
		deps    []dep
		fields  = []reflect.StructField{{Name: "In", Type: inType, Anonymous: true}}
		plans   []fieldPlan
		rewrite bool
	)
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && f.Type == inType || !f.IsExported() {
			continue // fx fills neither the marker nor unexported fields
		}
		fwhere := t.Name() + "." + f.Name
		fpath := append(append([]int(nil), path...), i)
		var fp paramPlan
		if isIn(f.Type) {
			var inner []dep
			fp, inner = planStruct(f.Type, self, fwhere, fpath)
			deps = append(deps, inner...)
		} else {
			d := fieldDep(f, fwhere, fpath)
			if d.name == "" && d.group == "" && isServiceType(f.Type) && f.Type != self {
				d.byType = true
				fp = byTypeParam(f.Type, d.optional)
			} else {
				fp = paramPlan{in: f.Type}
			}
			deps = append(deps, d)
		}
		mf := reflect.StructField{Name: "F" + strconv.Itoa(i), Type: fp.in}
		if fp.convert == nil || isIn(f.Type) {
			mf.Tag = f.Tag
		}
		rewrite = rewrite || fp.convert != nil
		plans = append(plans, fieldPlan{user: i, mirror: len(fields), convert: fp.convert})
		fields = append(fields, mf)
	}
	if !rewrite {
		return paramPlan{in: t}, deps
	}
	mirror := reflect.StructOf(fields)
	return paramPlan{in: mirror, convert: func(v reflect.Value) (reflect.Value, error) {
		out := reflect.New(t).Elem()
		for _, p := range plans {
			fv := v.Field(p.mirror)
			if p.convert != nil {
				var err error
				if fv, err = p.convert(fv); err != nil {
					return reflect.Value{}, fmt.Errorf("%s.%s: %w", t.Name(), t.Field(p.user).Name, err)
				}
			}
			out.Field(p.user).Set(fv)
		}
		return out, nil
	}}, deps
}
