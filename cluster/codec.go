package cluster

import (
	"encoding/json"
	"fmt"
)

// Codec encodes the payloads of distributed events and queue items. The
// codec's name travels with every message: a replica that receives a
// message of another codec dead-letters it instead of guessing.
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

// decode decodes data with c into a new T.
func decode[T any](c Codec, data []byte) (any, error) {
	var v T
	if err := c.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("%w with codec %s: %w", ErrDecode, c.Name(), err)
	}
	return v, nil
}
