package cluster

import (
	"encoding/json"
	"fmt"

	"github.com/sprag-go/sprag/sprag"
)

// Codec encodes the payloads of distributed events and queue items. The
// codec's name travels with every message: a replica that receives a
// message of another codec dead-letters it instead of guessing. A payload
// that Unmarshal fails on, or panics on, is dead-lettered at once.
// Implementations must be safe for concurrent use.
type Codec interface {
	// Name identifies the encoding, such as "json".
	Name() string
	// Marshal encodes v.
	Marshal(v any) ([]byte, error)
	// Unmarshal decodes data into the value v points to.
	Unmarshal(data []byte, v any) error
}

// JSON returns the default codec: encoding/json, named "json". A payload
// declared as any arrives as the generic form encoding/json gives
// (map[string]any, []any, float64, string, bool, nil); declare the
// payload's type with [Distribute] to receive it typed.
func JSON() Codec { return jsonCodec{} }

type jsonCodec struct{}

func (jsonCodec) Name() string                       { return "json" }
func (jsonCodec) Marshal(v any) ([]byte, error)      { return json.Marshal(v) }
func (jsonCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// decode decodes data with c into a new T. A panic of the codec is an
// error like another: the error wraps ErrDecode either way, so that the
// payload is dead-lettered rather than the caller's task ended.
func decode[T any](c Codec, data []byte) (any, error) {
	var v T
	if err := sprag.Safely(func() error { return c.Unmarshal(data, &v) }); err != nil {
		return nil, fmt.Errorf("%w with codec %s: %w", ErrDecode, c.Name(), err)
	}
	return v, nil
}
