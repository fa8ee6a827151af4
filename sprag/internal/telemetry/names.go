package telemetry

import (
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// maxTopics bounds the distinct values of the topic attribute of
// sprag.bus.emits in one runtime: the first ones emitted keep their name,
// the others are counted under OtherTopic. Listener measurements need no
// bound: they are keyed by the subscribed topic or pattern, which the code
// that subscribes chose.
const maxTopics = 256

// OtherTopic is the topic attribute of emits past the first maxTopics
// distinct topics of a runtime.
const OtherTopic = "_other"

// attrCache hands out the attribute set of each key, made once by its
// make function; with a bound, at most max sets, and other for any key
// beyond.
type attrCache[K comparable] struct {
	mu    sync.RWMutex
	sets  map[K]attrs
	max   int // 0: no bound
	other attrs
	make  func(K) attrs
}

// newBoundedNames returns the cache of the topic attribute of emits.
func newBoundedNames(maxNames int) *attrCache[string] {
	return &attrCache[string]{
		max:   maxNames,
		other: newAttrs(KeyTopic.String(OtherTopic)),
		make:  func(name string) attrs { return newAttrs(KeyTopic.String(name)) },
	}
}

func (c *attrCache[K]) set(k K) attrs {
	c.mu.RLock()
	s, ok := c.sets[k]
	c.mu.RUnlock()
	if ok {
		return s
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.sets[k]; ok {
		return s
	}
	if c.max > 0 && len(c.sets) >= c.max {
		return c.other
	}
	if c.sets == nil {
		c.sets = make(map[K]attrs)
	}
	s = c.make(k)
	c.sets[k] = s
	return s
}

// attrs is an attribute set made once, as the options of Add and Record:
// passing a slice made beforehand spares the allocation of a variadic
// argument at each measurement.
type attrs struct {
	add []metric.AddOption
	rec []metric.RecordOption
}

func newAttrs(kv ...attribute.KeyValue) attrs {
	set := metric.WithAttributeSet(attribute.NewSet(kv...))
	return attrs{add: []metric.AddOption{set}, rec: []metric.RecordOption{set}}
}
