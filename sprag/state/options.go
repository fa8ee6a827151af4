package state

import (
	"errors"
	"fmt"
	"reflect"
)

// An Option configures [New].
type Option interface {
	applyObservable(*config)
	String() string
}

// A SubscribeOption configures [Observable.Subscribe].
type SubscribeOption interface {
	applySubscribe(*subscribeConfig)
	String() string
}

type config struct {
	label  string
	dedupe DedupeOption
	unset  bool
	hidden bool
}

type subscribeConfig struct {
	current bool
}

type labelOption string

func (o labelOption) applyObservable(c *config) { c.label = string(o) }
func (o labelOption) String() string            { return fmt.Sprintf("state.Label(%q)", string(o)) }

// Label names an observable in logs, errors and its owner's health
// details ("observable <label>"). The default is the name of its type.
func Label(label string) Option { return labelOption(label) }

type unsetOption struct{}

func (unsetOption) applyObservable(c *config) { c.unset = true }
func (unsetOption) String() string            { return "state.Unset()" }

// Unset makes an observable start without a value: [New]'s initial is
// ignored, [Observable.Load] reports false, subscribers and Watch channels
// receive nothing until the first Set, and Version is 0 until then.
func Unset() Option { return unsetOption{} }

type hiddenOption struct{}

func (hiddenOption) applyObservable(c *config) { c.hidden = true }
func (hiddenOption) String() string            { return "state.Hidden()" }

// Hidden keeps an observable's figures out of its owner's health details:
// for a primitive that holds one and reports figures of its own
// (sprag/watch). A hidden observable claims no name in the health
// details, so its label is not checked for duplicates: the primitive
// that holds it names itself there.
func Hidden() Option { return hiddenOption{} }

// DedupeOption is returned by [Dedupe] and [DedupeFunc]: an equality that
// makes a Set of a value equal to the current one change nothing.
type DedupeOption struct {
	deep     bool
	equal    any // a func(a, b T) bool
	typeName string
}

func (o DedupeOption) applyObservable(c *config) { c.dedupe = o }

// String returns the option as it would be written in Go.
func (o DedupeOption) String() string {
	if o.deep {
		return "state.Dedupe()"
	}
	return fmt.Sprintf("state.DedupeFunc(func(a, b %s) bool)", o.typeName)
}

// Dedupe makes an observable skip a value equal to the current one, as
// reflect.DeepEqual says: subscribers are not notified and it does not
// count as a change.
func Dedupe() DedupeOption { return DedupeOption{deep: true} }

// DedupeFunc is [Dedupe] with equal deciding whether two values are the
// same. T must be the observable's value type; another one is refused
// with an error wrapping sprag.ErrInvalidArgument.
func DedupeFunc[T any](equal func(a, b T) bool) DedupeOption {
	return DedupeOption{equal: equal, typeName: reflect.TypeFor[T]().String()}
}

// EqualFunc returns the equality that o configures for values of type T:
// reflect.DeepEqual for [Dedupe], the function of [DedupeFunc], or nil for
// the zero DedupeOption. It fails for a DedupeFunc of another type. Other
// primitives that dedupe (sprag/watch) use it.
func EqualFunc[T any](o DedupeOption) (func(a, b T) bool, error) {
	switch {
	case o.deep:
		return func(a, b T) bool { return reflect.DeepEqual(a, b) }, nil
	case o.equal == nil:
		return nil, nil
	}
	fn, ok := o.equal.(func(a, b T) bool)
	switch {
	case !ok:
		return nil, fmt.Errorf("DedupeFunc compares %s, the values are %s", o.typeName, reflect.TypeFor[T]())
	case fn == nil:
		return nil, errors.New("nil DedupeFunc function")
	}
	return fn, nil
}

type notifyCurrentOption struct{}

func (notifyCurrentOption) applySubscribe(c *subscribeConfig) { c.current = true }
func (notifyCurrentOption) String() string                    { return "state.NotifyCurrent()" }

// NotifyCurrent makes a subscriber also receive the current value when it
// subscribes, before any later one. An [Unset] observable has nothing to
// send.
func NotifyCurrent() SubscribeOption { return notifyCurrentOption{} }
