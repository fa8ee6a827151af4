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

func TestAdoptedChildSharesTheRuntimeAndStopsWithTheParent(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var j journal
		rt := spragtest.Runtime(t)
		worker := &probe{
			onStart: func(_ context.Context, w *probe) error {
				j.add("worker started as " + w.Name())
				return nil
			},
			onStop: func(context.Context, *probe) error {
				j.add("worker stopped")
				return nil
			},
		}
		parent := &probe{onStart: func(ctx context.Context, p *probe) error {
			return p.Adopt(ctx, "worker", worker)
		}}
		spragtest.Start(t, "parent", parent, spragtest.WithRuntime(rt))

		assert.Equal(t, sprag.Running, worker.State())
		assert.Same(t, rt.Bus, worker.Runtime().Bus)
		require.Len(t, parent.Children(), 1)
		assert.Equal(t, "parent/worker", parent.Children()[0].Name())

		late := &plain{}
		require.NoError(t, parent.Adopt(context.Background(), "late", late), "a running parent adopts too")
		assert.Equal(t, sprag.Running, late.State())

		spragtest.Stop(t, parent, time.Second)
		assert.Equal(t, []string{"worker started as parent/worker", "worker stopped"}, j.get())
		assert.Equal(t, sprag.Stopped, worker.State())
		assert.Equal(t, sprag.Stopped, late.State())
		assert.Empty(t, parent.Children())
	})
}

func TestAdoptReturnsTheChildsStartError(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		boom := errors.New("child cannot start")
		var adoptErr error
		parent := started(t, func(p *probe) {
			adoptErr = p.Adopt(context.Background(), "bad", &probe{onStart: func(context.Context, *probe) error { return boom }})
		})
		require.ErrorIs(t, adoptErr, boom)
		assert.Contains(t, adoptErr.Error(), `start service "svc/bad"`)
		assert.Empty(t, parent.Children(), "a child that failed to start is not kept")
		assert.Equal(t, sprag.Running, parent.State())
	})
}

func TestAdoptBadInput(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		outer := &probe{}
		spragtest.Start(t, "outer", outer)
		child := &plain{}
		require.NoError(t, outer.Adopt(ctx, "child", child))
		grandchild := &probe{}
		require.NoError(t, child.Adopt(ctx, "grandchild", grandchild))
		assert.Equal(t, "outer/child/grandchild", grandchild.Name())

		var nilChild *plain
		tests := []struct {
			name   string
			parent sprag.Interface
			give   sprag.Interface
			as     string
			wantIs error
		}{
			{"nil child", outer, nil, "x", sprag.ErrInvalidArgument},
			{"nil pointer child", outer, nilChild, "x", sprag.ErrInvalidArgument},
			{"empty name", outer, &plain{}, "", sprag.ErrInvalidArgument},
			{"slash in name", outer, &plain{}, "a/b", sprag.ErrInvalidArgument},
			{"itself", outer, outer, "me", sprag.ErrCycle},
			{"an ancestor", grandchild, outer, "grandpa", sprag.ErrCycle},
			{"twice", outer, child, "again", sprag.ErrAlreadyBound},
			{"a bound service", outer, bound(t, "elsewhere", &plain{}), "x", sprag.ErrAlreadyBound},
			{"a taken name", outer, &plain{}, "child", sprag.ErrDuplicateName},
		}
		for _, tt := range tests {
			var err error
			require.NotPanics(t, func() { err = adopt(ctx, tt.parent, tt.as, tt.give) }, tt.name)
			require.ErrorIs(t, err, tt.wantIs, tt.name)
		}
		assert.Len(t, outer.Children(), 1)
	})
}

// adopt calls Adopt through the Interface, as code that holds one does.
func adopt(ctx context.Context, parent sprag.Interface, name string, child sprag.Interface) error {
	return parent.(interface {
		Adopt(context.Context, string, sprag.Interface) error
	}).Adopt(ctx, name, child)
}

func TestAdoptWhenNotRunning(t *testing.T) {
	t.Parallel()
	p := bound(t, "p", &probe{})
	err := adopt(context.Background(), p, "child", &plain{})
	require.ErrorIs(t, err, sprag.ErrNotRunning)
}

func TestChildrenStopInReverseAdoptionOrder(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var j journal
		p := started(t, func(p *probe) {
			for _, name := range []string{"a", "b", "c"} {
				child := &probe{onStop: func(context.Context, *probe) error {
					j.add(name)
					return nil
				}}
				require.NoError(t, p.Adopt(context.Background(), name, child))
			}
		})
		spragtest.Stop(t, p, time.Second)
		assert.Equal(t, []string{"c", "b", "a"}, j.get())
	})
}
