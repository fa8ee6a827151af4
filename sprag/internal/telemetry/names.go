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

// boundedNames hands out at most max distinct attribute sets, one per
// name, and OtherTopic's for any name beyond.
type boundedNames struct {
	mu    sync.RWMutex
	sets  map[string]attrs
	max   int
	other attrs
}

func newBoundedNames(maxNames int) *boundedNames {
	return &boundedNames{
		sets:  make(map[string]attrs),
		max:   maxNames,
		other: newAttrs(KeyTopic.String(OtherTopic)),
	}
}

func (b *boundedNames) set(name string) attrs {
	b.mu.RLock()
	s, ok := b.sets[name]
	b.mu.RUnlock()
	if ok {
		return s
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if s, ok := b.sets[name]; ok {
		return s
	}
	if len(b.sets) >= b.max {
		return b.other
	}
	s = newAttrs(KeyTopic.String(name))
	b.sets[name] = s
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
