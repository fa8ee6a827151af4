package cluster_test

import (
	"bytes"
	"context"
	"encoding/gob"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/cluster"
	"github.com/sprag-go/sprag/cluster/clustertest"
)

// gobCodec is a codec of the test's own: encoding/gob.
type gobCodec struct{}

func (gobCodec) Name() string { return "gob" }

func (gobCodec) Marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	err := gob.NewEncoder(&b).Encode(v)
	return b.Bytes(), err
}

func (gobCodec) Unmarshal(data []byte, v any) error {
	return gob.NewDecoder(bytes.NewReader(data)).Decode(v)
}

func TestAnotherCodec(t *testing.T) {
	srv := clustertest.StartServer(t)
	_, rts, got := replicas(t, srv.URL(), []string{"a", "b"}, nil, atLeastOnce(), cluster.WithCodec(gobCodec{}))
	emit(context.Background(), t, rts[0], 1)
	eventually(t, 10*time.Second, func() bool { return got[1].len() == 1 }, "b decodes a's gob")
	assert.Equal(t, []Order{{ID: 1, Item: "book"}}, got[1].got())

	// A replica with another codec does not guess: the event is dead.
	j, rtJ := startNode(t, srv.URL(), "j", atLeastOnce())
	var gotJ received
	gotJ.listen(t, rtJ.Bus, nil)
	emit(context.Background(), t, rts[0], 2)
	dead := deadLetters(t, srv.URL(), 1)
	assert.Contains(t, dead[0].Headers().Get(cluster.HeaderError), `codec "gob"`)
	eventually(t, 5*time.Second, func() bool { return j.Stats().Dead == 1 }, "j counts the dead letter")
	assert.Zero(t, gotJ.len())
}

func TestCodecNamesAreChecked(t *testing.T) {
	_, err := cluster.New(cluster.URL("nats://127.0.0.1:4222"), cluster.WithCodec(badName{}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "codec")
}

type badName struct{ gobCodec }

func (badName) Name() string { return "a.b" }
