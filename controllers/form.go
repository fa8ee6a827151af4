package controllers

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// isFormContentType accepts application/x-www-form-urlencoded, with any
// parameters.
func isFormContentType(ct string) bool {
	mediaType, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(mediaType), "application/x-www-form-urlencoded")
}

// decodeForm decodes a form body into dst, a pointer to a value of type t
// or to a pointer to one. The fields are turned into the JSON document
// they stand for, following t's structure, and that document goes through
// the JSON decoder, so a form is held to the same rules as a JSON body:
// unknown fields refused, values of the wrong type refused, the same
// messages.
func (s *Server) decodeForm(r *Request, dst any, t reflect.Type) error {
	hr := r.http
	var body []byte
	if hr.Body != nil && hr.Body != http.NoBody {
		b, err := io.ReadAll(hr.Body)
		if err != nil {
			if tooLarge := new(http.MaxBytesError); errors.As(err, &tooLarge) {
				return s.tooLarge()
			}
			return &HTTPError{Status: http.StatusBadRequest, Message: "request body could not be read", Err: err}
		}
		body = b
	}
	values, err := url.ParseQuery(string(body))
	if err != nil {
		return &HTTPError{Status: http.StatusBadRequest, Message: "request body is not a valid form"}
	}
	r.form = values
	doc, he := formDocument(values, t)
	if he != nil {
		return he
	}
	return s.decodeJSON(bytes.NewReader(doc), dst, t)
}

// formDocument returns the JSON object that the form values stand for,
// given the type t they are decoded into.
func formDocument(values url.Values, t reflect.Type) ([]byte, *HTTPError) {
	if k := deref(t).Kind(); k != reflect.Struct && k != reflect.Map && k != reflect.Interface {
		return nil, &HTTPError{Status: http.StatusUnsupportedMediaType,
			Message: "request body must be application/json: this action's input is not an object"}
	}
	limit := 0 // an index must be below the number of values: no huge arrays from a short form
	for _, vs := range values {
		limit += len(vs)
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var doc any = map[string]any{}
	for _, key := range keys {
		path, ok := parseFormPath(key)
		if !ok {
			return nil, fieldProblem(key, "unknown", "is not a known field")
		}
		if !utf8.ValidString(key) || slices.ContainsFunc(values[key], notUTF8) {
			return nil, fieldProblem(key, "type", "is not valid UTF-8")
		}
		f := formField{key: key, values: values[key], limit: limit}
		var he *HTTPError
		if doc, _, he = f.insert(doc, t, path); he != nil {
			return nil, he
		}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, &HTTPError{Status: http.StatusBadRequest, Message: "request body could not be decoded", Err: err} // not reached: strings, numbers and booleans encode
	}
	return b, nil
}

// pathStep is one step of a form field's name: a member ("address") or an
// index ("[2]").
type pathStep struct {
	member string
	index  int // for an index step; member is then ""
}

// maxFormSteps bounds the steps of a form field's name: a form's
// structure is shallow, and a name of thousands of steps would only cost
// the server a document as deep to build and refuse.
const maxFormSteps = 32

// parseFormPath splits "items[0].sku" into its steps. It reports false
// for an empty member, a malformed index and a name of more than
// maxFormSteps steps.
func parseFormPath(key string) ([]pathStep, bool) {
	if strings.Count(key, ".")+strings.Count(key, "[") >= maxFormSteps {
		return nil, false
	}
	var steps []pathStep
	for part := range strings.SplitSeq(key, ".") {
		name, rest, indexed := strings.Cut(part, "[")
		if name == "" {
			return nil, false
		}
		steps = append(steps, pathStep{member: name})
		for indexed { // after a '[': digits, then ']'
			digits, after, ok := strings.Cut(rest, "]")
			n, err := strconv.Atoi(digits)
			if !ok || err != nil || n < 0 || strings.TrimLeft(digits, "0123456789") != "" {
				return nil, false
			}
			steps = append(steps, pathStep{index: n})
			if after == "" {
				break
			}
			if after[0] != '[' {
				return nil, false
			}
			rest = after[1:]
		}
	}
	return steps, true
}

// formField is one form field being placed in the document.
type formField struct {
	key    string
	values []string
	limit  int
}

// insert places the field's value at path in node, a value of type t in
// the document (nil when absent), and returns the node. absent reports
// that the value counts as missing (an empty number), so that nothing is
// placed.
func (f formField) insert(node any, t reflect.Type, path []pathStep) (out any, absent bool, he *HTTPError) {
	t = deref(t)
	if len(path) == 0 {
		if node != nil {
			return nil, false, fieldProblem(f.key, "type", "is given more than once")
		}
		v, absent, he := f.leaf(t)
		return v, absent, he
	}
	step := path[0]
	if step.member != "" {
		ft, name, ok := member(t, step.member)
		if !ok {
			return nil, false, fieldProblem(f.key, "unknown", "is not a known field")
		}
		obj, ok := node.(map[string]any)
		if node == nil {
			obj = map[string]any{}
		} else if !ok {
			return nil, false, fieldProblem(f.key, "type", "is given more than once")
		}
		// Under the field's own name: "NAME" and "name" are one field.
		child, absent, he := f.insert(obj[name], ft, path[1:])
		if he != nil {
			return nil, false, he
		}
		if !absent {
			obj[name] = child
		}
		return obj, false, nil
	}
	if (t.Kind() != reflect.Slice && t.Kind() != reflect.Array) || t.Elem().Kind() == reflect.Uint8 {
		return nil, false, fieldProblem(f.key, "unknown", "is not a known field")
	}
	if step.index >= f.limit || (t.Kind() == reflect.Array && step.index >= t.Len()) {
		return nil, false, fieldProblem(f.key, "type", "has an index out of range")
	}
	arr, ok := node.([]any)
	if node != nil && !ok {
		return nil, false, fieldProblem(f.key, "type", "is given more than once")
	}
	for len(arr) <= step.index {
		arr = append(arr, nil)
	}
	child, absent, he := f.insert(arr[step.index], t.Elem(), path[1:])
	if he != nil {
		return nil, false, he
	}
	if !absent {
		arr[step.index] = child
	}
	return arr, false, nil
}

// leaf converts the field's values for a value of type t.
func (f formField) leaf(t reflect.Type) (any, bool, *HTTPError) {
	if (t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8) || t.Kind() == reflect.Array {
		list := make([]any, 0, len(f.values))
		for _, v := range f.values {
			if x, absent := scalar(deref(t.Elem()), v); !absent {
				list = append(list, x)
			}
		}
		return list, false, nil
	}
	if len(f.values) > 1 {
		return nil, false, fieldProblem(f.key, "type", "must have a single value")
	}
	v, absent := scalar(t, f.values[0])
	return v, absent, nil
}

var (
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
)

// scalar converts one form value for a value of type t: a JSON number for
// a number, a boolean for a bool ("on", as a checkbox sends, is true), a
// string otherwise. An empty value for a number or a bool is absent. A
// value that does not convert stays a string, which the JSON decoder then
// refuses with the type's message.
func scalar(t reflect.Type, v string) (any, bool) {
	pt := reflect.PointerTo(t)
	if pt.Implements(textUnmarshaler) || pt.Implements(jsonUnmarshaler) {
		return v, v == "" && t.Kind() != reflect.String
	}
	switch t.Kind() {
	case reflect.Bool:
		switch strings.ToLower(v) {
		case "":
			return nil, true
		case "true", "on", "1", "yes":
			return true, false
		case "false", "off", "0", "no":
			return false, false
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		v = strings.TrimSpace(v)
		if v == "" {
			return nil, true
		}
		if isJSONNumber(v) {
			return json.Number(v), false
		}
	}
	return v, false
}

// notUTF8 reports whether s is not valid UTF-8, which a JSON string
// could not carry unchanged.
func notUTF8(s string) bool { return !utf8.ValidString(s) }

// isJSONNumber reports whether s is a number in JSON's grammar.
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return i - start
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

// memberType returns the type of the member name of a value of type t: a
// struct field as encoding/json names it (exactly, else ignoring case, as
// encoding/json matches), a map's value, or any for an interface.
func memberType(t reflect.Type, name string) (reflect.Type, bool) {
	ft, _, ok := member(t, name)
	return ft, ok
}

// member is memberType that also returns the member's own name: a struct
// field's name as encoding/json spells it (of the fields whose names
// differ from name only in case, the first in sorted order), or name.
func member(t reflect.Type, name string) (reflect.Type, string, bool) {
	switch t.Kind() {
	case reflect.Map:
		if t.Key().Kind() == reflect.String {
			return t.Elem(), name, true
		}
	case reflect.Interface:
		return t, name, true
	case reflect.Struct:
		fields := cachedJSONFields(t)
		if ft, ok := fields[name]; ok {
			return ft, name, true
		}
		var found string
		for n := range fields {
			if strings.EqualFold(n, name) && (found == "" || n < found) {
				found = n
			}
		}
		if found != "" {
			return fields[found], found, true
		}
	}
	return nil, "", false
}

// jsonFieldsCache holds jsonFields by struct type: an action's input type
// is walked once, not on every form post. It grows with the struct types
// of the actions' inputs, a set fixed by the code.
var jsonFieldsCache sync.Map // reflect.Type -> map[string]reflect.Type

// cachedJSONFields is jsonFields, computed once per type. The map it
// returns is shared: read it, do not change it.
func cachedJSONFields(t reflect.Type) map[string]reflect.Type {
	if fields, ok := jsonFieldsCache.Load(t); ok {
		return fields.(map[string]reflect.Type)
	}
	fields, _ := jsonFieldsCache.LoadOrStore(t, jsonFields(t))
	return fields.(map[string]reflect.Type)
}

// jsonFields returns the fields encoding/json decodes into a struct of type
// t, by name: exported fields under their json tag's name or their own,
// and the fields of embedded structs promoted, a shallower field hiding a
// deeper one, and a tie dropping both unless exactly one is tagged.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	type candidate struct {
		typ    reflect.Type
		depth  int
		tagged bool
		count  int
	}
	found := map[string]*candidate{}
	var walk func(t reflect.Type, depth int, seen map[reflect.Type]bool)
	walk = func(t reflect.Type, depth int, seen map[reflect.Type]bool) {
		if seen[t] {
			return
		}
		seen[t] = true
		defer delete(seen, t)
		for i := range t.NumField() {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			ft := sf.Type
			if sf.Anonymous && name == "" {
				if et := deref(ft); et.Kind() == reflect.Struct {
					walk(et, depth+1, seen)
					continue
				}
			}
			if !sf.IsExported() {
				continue
			}
			tagged := name != ""
			if !tagged {
				name = sf.Name
			}
			c := found[name]
			switch {
			case c == nil || depth < c.depth:
				found[name] = &candidate{typ: ft, depth: depth, tagged: tagged, count: 1}
			case depth == c.depth:
				if tagged && !c.tagged {
					*c = candidate{typ: ft, depth: depth, tagged: true, count: 1}
				} else if tagged == c.tagged {
					c.count++
				}
			}
		}
	}
	walk(t, 0, map[reflect.Type]bool{})
	out := make(map[string]reflect.Type, len(found))
	for name, c := range found {
		if c.count == 1 {
			out[name] = c.typ
		}
	}
	return out
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// fieldProblem is the 400 of one form field at fault.
func fieldProblem(field, rule, message string) *HTTPError {
	return &HTTPError{Status: http.StatusBadRequest, Message: "invalid input",
		Fields: []FieldError{{Field: field, Rule: rule, Message: message}}}
}
