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
	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/spragtest"
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
	require.ErrorIs(t, err, sprag.ErrInvalidArgument)
	assert.Contains(t, err.Error(), "cluster.WithCodec(a.b)")
}

type badName struct{ gobCodec }

func (badName) Name() string { return "a.b" }

// panicky is JSON whose Unmarshal panics on a payload that holds "13", as
// a codec with a bug might.
type panicky struct{ cluster.Codec }

func (p panicky) Unmarshal(data []byte, v any) error {
	if bytes.Contains(data, []byte("13")) {
		panic("codec bug")
	}
	return p.Codec.Unmarshal(data, v)
}

func TestAPanicOfTheCodecDeadLettersTheEvent(t *testing.T) {
	srv := clustertest.StartServer(t)
	_, rtA := startNode(t, srv.URL(), "a", atLeastOnce())
	b, rtB := startNode(t, srv.URL(), "b", atLeastOnce(), cluster.WithCodec(panicky{cluster.JSON()}))
	var got received
	got.listen(t, rtB.Bus, nil)

	emit(context.Background(), t, rtA, 13)
	dead := deadLetters(t, srv.URL(), 1)
	assert.Contains(t, dead[0].Headers().Get(cluster.HeaderError), "cannot decode")
	assert.Contains(t, dead[0].Headers().Get(cluster.HeaderError), "codec bug")
	assert.Equal(t, "1", dead[0].Headers().Get(cluster.HeaderAttempts), "dead at once, never redelivered")
	eventually(t, 5*time.Second, func() bool { return b.Stats().Dead == 1 }, "b counts the dead letter")

	emit(context.Background(), t, rtA, 14)
	eventually(t, 10*time.Second, func() bool { return got.counts()[14] == 1 }, "b's deliveries go on after the panic")
	exactlyOnce(t, &got, []int{14}, "b")
}

func TestAPanicOfTheCodecDeadLettersTheQueueItem(t *testing.T) {
	srv := clustertest.StartServer(t)
	n, _ := startNode(t, srv.URL(), "a", cluster.WithCodec(panicky{cluster.JSON()}))
	var h handled
	w := &worker{node: n, workers: 1, opts: fastRetry, handler: func(_ context.Context, item int) error {
		h.add("a", item)
		return nil
	}}
	spragtest.Start(t, "a-worker", w, spragtest.StopTimeout(10*time.Second))
	require.NoError(t, w.q.Push(context.Background(), 13))
	require.NoError(t, w.q.Push(context.Background(), 14))

	dead := deadLetters(t, srv.URL(), 1)
	assert.Contains(t, dead[0].Headers().Get(cluster.HeaderError), "cannot decode")
	assert.Contains(t, dead[0].Headers().Get(cluster.HeaderError), "codec bug")
	assert.Equal(t, "1", dead[0].Headers().Get(cluster.HeaderAttempts), "dead at once, never redelivered")
	assert.Equal(t, "13", string(dead[0].Data()))
	eventually(t, 10*time.Second, func() bool { return len(h.of(14)) == 1 }, "the workers go on after the panic")
	assert.Empty(t, h.of(13), "no worker sees it")
	assert.Equal(t, int64(1), w.q.Stats().Dead)
}
