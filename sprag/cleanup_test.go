package sprag_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/spragtest"
)

type closer struct {
	j   *journal
	err error
}

func (c closer) Close() error { c.j.add("Close"); return c.err }

type stopper struct{ j *journal }

func (s stopper) Stop() { s.j.add("Stop") }

type ctxStopper struct{ j *journal }

func (s ctxStopper) Stop(ctx context.Context) error {
	s.j.add("Stop(ctx)")
	return ctx.Err()
}

type shutdowner struct{ j *journal }

func (s shutdowner) Shutdown(ctx context.Context) error {
	s.j.add("Shutdown(ctx)")
	return ctx.Err()
}

func TestOwnReleasesEachKindOfResourceLastFirst(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var j journal
		p := started(t, func(p *probe) {
			for _, r := range []any{closer{j: &j}, stopper{&j}, ctxStopper{&j}, shutdowner{&j}, time.NewTicker(time.Second)} {
				require.NoError(t, p.Own(r))
			}
			require.NoError(t, p.AddCleanup(func(context.Context) error {
				j.add("cleanup")
				return nil
			}))
		})
		spragtest.Stop(t, p, time.Second)
		assert.Equal(t, []string{"cleanup", "Shutdown(ctx)", "Stop(ctx)", "Stop", "Close"}, j.get())
	})
}

func TestOwnRefusesWhatItCannotRelease(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var errs []error
		started(t, func(p *probe) {
			errs = append(errs, p.Own(42), p.Own(struct{ Name string }{}), p.Own(nil), p.AddCleanup(nil))
		})
		require.ErrorIs(t, errs[0], sprag.ErrUnsupportedResource)
		assert.Contains(t, errs[0].Error(), "own int")
		require.ErrorIs(t, errs[1], sprag.ErrUnsupportedResource)
		require.ErrorIs(t, errs[2], sprag.ErrInvalidArgument)
		require.ErrorIs(t, errs[3], sprag.ErrInvalidArgument)
	})
}

func TestCleanupErrorsAreReturnedByStop(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var j journal
		closeErr := errors.New("close failed")
		p := started(t, func(p *probe) {
			require.NoError(t, p.Own(closer{j: &j, err: closeErr}))
		})
		err := p.Stop(context.Background())
		require.ErrorIs(t, err, closeErr)
		var ce *sprag.CallbackError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, sprag.KindCleanup, ce.Kind)
		assert.Equal(t, "sprag_test.closer", ce.Label)
	})
}

func TestCleanupWhenNotRunning(t *testing.T) {
	t.Parallel()
	p := bound(t, "p", &probe{}).(*probe)
	require.ErrorIs(t, p.AddCleanup(func(context.Context) error { return nil }), sprag.ErrNotRunning)
	var j journal
	require.ErrorIs(t, p.Own(closer{j: &j}), sprag.ErrNotRunning)
	assert.Empty(t, j.get())
}
