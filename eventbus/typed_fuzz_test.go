package eventbus_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/sprag-go/sprag/eventbus"
)

// FuzzTypedTopic gives arbitrary names to typed topics and compares them
// with the string API on arbitrary emitted topics. NewTopic never fails
// itself; a typed Listen is refused exactly when Bus.Listen refuses the
// name, with an error wrapping ErrInvalidTopic that quotes it; a typed
// listener is called for exactly the string emits that call a string
// listener of the same name, each with the payload, and a string emit of
// another type is refused with ErrPayloadType without calling it; a typed
// Emit is refused for a pattern and otherwise reaches the typed listener
// and the string listeners of the name.
func FuzzTypedTopic(f *testing.F) {
	for _, seed := range [][2]string{
		{"order:completed", "order:completed"},
		{"order:*", "order:completed"},
		{"order:*", "order"},
		{"*", "a:b"},
		{"a:*:c", "a:b:c"},
		{"", ""},
		{"a::b", "a::b"},
		{"a:", "a:"},
		{"ord*", "order"},
		{"a:b", "a:b:c"},
		{"\xff", "\xff"},
	} {
		f.Add(seed[0], seed[1])
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, name, topic string) {
		tp := eventbus.NewTopic[string](name)
		if tp.Name() != name {
			t.Fatalf("NewTopic(%q).Name() = %q", name, tp.Name())
		}
		typedBus, stringBus := eventbus.New(), eventbus.New()
		var typedGot []string
		_, typedErr := tp.Listen(typedBus, func(_ context.Context, p string) error {
			typedGot = append(typedGot, p)
			return nil
		})
		var stringGot []any
		_, stringErr := stringBus.Listen(name, func(_ context.Context, p any) error {
			stringGot = append(stringGot, p)
			return nil
		})
		if (typedErr == nil) != (stringErr == nil) {
			t.Fatalf("name %q: typed Listen says %v, Bus.Listen says %v", name, typedErr, stringErr)
		}
		if typedErr != nil {
			if !errors.Is(typedErr, eventbus.ErrInvalidTopic) || !strings.Contains(typedErr.Error(), strconv.Quote(name)) {
				t.Fatalf("NewTopic(%q).Listen: %v does not wrap ErrInvalidTopic and quote the name", name, typedErr)
			}
			if err := tp.Emit(ctx, typedBus, "x"); !errors.Is(err, eventbus.ErrInvalidTopic) {
				t.Fatalf("NewTopic(%q).Emit: %v, want ErrInvalidTopic", name, err)
			}
			return
		}

		// The same string emit on both buses.
		typedEmit := typedBus.Emit(ctx, topic, "payload")
		stringEmit := stringBus.Emit(ctx, topic, "payload")
		if (typedEmit == nil) != (stringEmit == nil) {
			t.Fatalf("emit %q to listeners of %q: typed bus says %v, string bus %v", topic, name, typedEmit, stringEmit)
		}
		if len(typedGot) != len(stringGot) {
			t.Fatalf("emit %q: the typed listener of %q got %q, the string listener %q", topic, name, typedGot, stringGot)
		}
		if len(typedGot) == 1 && typedGot[0] != "payload" {
			t.Fatalf("emit %q: the typed listener of %q got %q", topic, name, typedGot[0])
		}

		// A string emit of another type is refused and calls nothing.
		if len(typedGot) == 1 {
			typedGot = nil
			if err := typedBus.Emit(ctx, topic, 42); !errors.Is(err, eventbus.ErrPayloadType) || len(typedGot) != 0 {
				t.Fatalf("emit %q with an int to a string listener of %q: %v, called with %q", topic, name, err, typedGot)
			}
		}

		// A typed emit: refused for a pattern, else heard by both kinds.
		typedGot, stringGot = nil, nil
		if _, err := typedBus.Listen(name, func(_ context.Context, p any) error {
			stringGot = append(stringGot, p)
			return nil
		}); err != nil {
			t.Fatalf("second Listen(%q): %v", name, err)
		}
		err := tp.Emit(ctx, typedBus, "typed")
		if eventbus.IsPattern(name) {
			if !errors.Is(err, eventbus.ErrInvalidTopic) || len(typedGot)+len(stringGot) != 0 {
				t.Fatalf("typed Emit on the pattern %q: %v, calls %q %q", name, err, typedGot, stringGot)
			}
			return
		}
		if err != nil || len(typedGot) != 1 || typedGot[0] != "typed" || len(stringGot) != 1 || stringGot[0] != "typed" {
			t.Fatalf("typed Emit on %q: %v, typed listener got %q, string listener %q", name, err, typedGot, stringGot)
		}
	})
}
