package sprag_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprag-go/sprag/sprag"
	"github.com/sprag-go/sprag/spragtest"
)

func TestRegistryProvideAndLookups(t *testing.T) {
	t.Parallel()
	var r sprag.Registry // the zero value is ready
	metrics := bound(t, "metrics", &probe{})
	email := bound(t, "email", &plain{})
	require.NoError(t, r.Provide("metrics", metrics))
	require.NoError(t, r.Provide("email", email))

	got, err := r.Resolve("metrics")
	require.NoError(t, err)
	assert.Same(t, metrics, got)
	assert.Equal(t, []string{"metrics", "email"}, r.Names(), "registration order")

	typed, err := sprag.Get[*probe](&r, "metrics")
	require.NoError(t, err)
	assert.Same(t, metrics, typed)

	_, err = sprag.Get[*plain](&r, "metrics")
	require.ErrorIs(t, err, sprag.ErrWrongType)
	assert.Contains(t, err.Error(), "*sprag_test.probe, not *sprag_test.plain")

	_, err = r.Resolve("billing")
	require.ErrorIs(t, err, sprag.ErrNotFound)
	assert.Contains(t, err.Error(), `registered: "metrics", "email"`)
	_, err = sprag.Get[*probe](&r, "billing")
	require.ErrorIs(t, err, sprag.ErrNotFound)

	require.NoError(t, r.Require("email", "metrics"))
	err = r.Require("email", "billing", "sms")
	require.ErrorIs(t, err, sprag.ErrNotFound)
	assert.Contains(t, err.Error(), `"billing", "sms"`)

	var names []string
	for name, svc := range r.All() {
		names = append(names, name+"="+svc.Name())
	}
	assert.Equal(t, []string{"metrics=metrics", "email=email"}, names)
	for range r.All() {
		break // stopping early is fine
	}
}

func TestRegistryProvideBadInput(t *testing.T) {
	t.Parallel()
	r := sprag.NewRegistry()
	require.NoError(t, r.Provide("a", bound(t, "a", &plain{})))
	err := r.Provide("a", bound(t, "a2", &plain{}))
	require.ErrorIs(t, err, sprag.ErrDuplicateName)
	assert.Contains(t, err.Error(), `registered: "a"`)
	require.ErrorIs(t, r.Provide("", bound(t, "b", &plain{})), sprag.ErrInvalidArgument)
	require.ErrorIs(t, r.Provide("c", nil), sprag.ErrInvalidArgument)
	require.ErrorIs(t, r.Provide("d", &plain{}), sprag.ErrNotBound)
	_, err = sprag.NewRegistry().Resolve("x")
	assert.Contains(t, err.Error(), "registered: none")
}

func TestRegistryWaitFor(t *testing.T) {
	t.Parallel()
	t.Run("a service provided and started later", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			r := sprag.NewRegistry()
			p := &probe{onStart: func(context.Context, *probe) error {
				time.Sleep(time.Second) // a slow start
				return nil
			}}
			got := make(chan sprag.Interface, 1)
			go func() {
				svc, err := r.WaitFor(context.Background(), "late")
				assert.NoError(t, err)
				got <- svc
			}()
			time.Sleep(time.Minute)
			synctest.Wait()
			assert.Empty(t, got, "still waiting")

			require.NoError(t, sprag.Bind(p, "late", spragtest.Runtime(t)))
			require.NoError(t, r.Provide("late", p))
			go func() { assert.NoError(t, p.Start(context.Background())) }()
			svc := <-got
			assert.Same(t, p, svc)
			assert.Equal(t, sprag.Running, svc.State(), "WaitFor returns once the service runs")
			spragtest.Stop(t, p, time.Second)
		})
	})
	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			r := sprag.NewRegistry()
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_, err := r.WaitFor(ctx, "never")
			require.ErrorIs(t, err, context.DeadlineExceeded)
			assert.Contains(t, err.Error(), `"never"`)
		})
	})
	t.Run("cancellation while the service starts", func(t *testing.T) {
		t.Parallel()
		synctest.Test(t, func(t *testing.T) {
			r := sprag.NewRegistry()
			p := bound(t, "p", &probe{})
			require.NoError(t, r.Provide("p", p))
			ctx, cancel := context.WithCancel(context.Background())
			errs := make(chan error, 1)
			go func() {
				_, err := r.WaitFor(ctx, "p")
				errs <- err
			}()
			synctest.Wait()
			cancel()
			err := <-errs
			require.ErrorIs(t, err, context.Canceled)
			assert.Contains(t, err.Error(), `"p" to start`)
		})
	})
	t.Run("a service that failed to start", func(t *testing.T) {
		t.Parallel()
		boom := errors.New("boom")
		r := sprag.NewRegistry()
		p := bound(t, "p", &probe{onStart: func(context.Context, *probe) error { return boom }})
		require.NoError(t, r.Provide("p", p))
		require.Error(t, p.Start(context.Background()))
		_, err := r.WaitFor(context.Background(), "p")
		require.ErrorIs(t, err, boom)
		assert.Contains(t, err.Error(), "failed")
	})
}

func TestHealthReport(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		r := sprag.NewRegistry()
		rt := spragtest.Runtime(t)
		sick := errors.New("database unreachable")
		healthy := &probe{onStart: func(ctx context.Context, p *probe) error {
			return p.Adopt(ctx, "worker", &plain{})
		}}
		ailing := &probe{health: func(context.Context) error { return sick }}
		panicky := &probe{health: func(context.Context) error { panic("health panic") }}
		idle := &plain{}
		for name, svc := range map[string]sprag.Interface{"healthy": healthy, "ailing": ailing, "panicky": panicky} {
			spragtest.Start(t, name, svc, spragtest.WithRuntime(rt))
		}
		require.NoError(t, sprag.Bind(idle, "idle", rt))
		for _, name := range []string{"healthy", "ailing", "panicky", "idle"} {
			svc := map[string]sprag.Interface{"healthy": healthy, "ailing": ailing, "panicky": panicky, "idle": idle}[name]
			require.NoError(t, r.Provide(name, svc))
		}
		time.Sleep(time.Minute)

		rep := r.Health(context.Background())

		assert.False(t, rep.Healthy)
		names := make([]string, len(rep.Services))
		for i, st := range rep.Services {
			names[i] = st.Name
		}
		assert.Equal(t, []string{"healthy", "healthy/worker", "ailing", "panicky", "idle"}, names)
		assert.True(t, rep.Services[0].Healthy)
		assert.Equal(t, time.Minute, rep.Services[0].Uptime)
		assert.True(t, rep.Services[1].Healthy)
		require.ErrorIs(t, rep.Services[2].Err, sick)
		var pe *sprag.PanicError
		require.ErrorAs(t, rep.Services[3].Err, &pe)
		assert.Equal(t, sprag.Created, rep.Services[4].State)
		assert.Len(t, rep.Unhealthy(), 3)
		err := rep.Err()
		require.ErrorIs(t, err, sick)
		assert.Contains(t, err.Error(), `service "idle" (created)`)

		data, err := json.Marshal(rep.Services[2])
		require.NoError(t, err)
		assert.JSONEq(t, `{"name":"ailing","state":"running","healthy":false,"error":"database unreachable","uptime_seconds":60}`, string(data))

		empty := sprag.NewRegistry().Health(context.Background())
		assert.True(t, empty.Healthy)
		require.NoError(t, empty.Err())
	})
}

func TestStatusOfAFailedService(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	p := bound(t, "p", &probe{onStart: func(context.Context, *probe) error { return boom }})
	require.Error(t, p.Start(context.Background()))
	st := p.(*probe).Status(context.Background())
	assert.Equal(t, sprag.Failed, st.State)
	assert.False(t, st.Healthy)
	require.ErrorIs(t, st.Err, boom)
}

func TestRegistryWaitForAStoppedService(t *testing.T) {
	t.Parallel()
	r := sprag.NewRegistry()
	p := bound(t, "p", &probe{})
	require.NoError(t, r.Provide("p", p))
	require.NoError(t, p.Start(context.Background()))
	require.NoError(t, p.Stop(context.Background()))
	_, err := r.WaitFor(context.Background(), "p")
	require.ErrorIs(t, err, sprag.ErrStopped)
	assert.Equal(t, `wait for service "p": it is stopped: sprag: service stopped`, err.Error())
}

func TestRegistryUnregisterAndReplace(t *testing.T) {
	t.Parallel()
	r := sprag.NewRegistry()
	first, second := bound(t, "a", &plain{}), bound(t, "b", &plain{})
	require.NoError(t, r.Provide("metrics", first))
	require.NoError(t, r.Provide("email", second))

	old, err := r.Replace("metrics", second)
	require.NoError(t, err)
	assert.Same(t, first, old)
	got, err := r.Resolve("metrics")
	require.NoError(t, err)
	assert.Same(t, second, got)
	assert.Equal(t, []string{"metrics", "email"}, r.Names(), "a replaced name keeps its place")

	old, err = r.Replace("sms", first)
	require.NoError(t, err)
	assert.Nil(t, old, "a free name")
	assert.Equal(t, []string{"metrics", "email", "sms"}, r.Names())

	gone, err := r.Unregister("email")
	require.NoError(t, err)
	assert.Same(t, second, gone)
	assert.Equal(t, []string{"metrics", "sms"}, r.Names())
	_, err = r.Unregister("email")
	require.ErrorIs(t, err, sprag.ErrNotFound)
	require.NoError(t, r.Provide("email", first), "the name is free again")

	tests := []struct {
		name string
		give func() error
		want error
	}{
		{"empty name", func() error { _, err := r.Replace("", first); return err }, sprag.ErrInvalidArgument},
		{"nil service", func() error { _, err := r.Replace("x", nil); return err }, sprag.ErrInvalidArgument},
		{"unbound service", func() error { _, err := r.Replace("x", &plain{}); return err }, sprag.ErrNotBound},
	}
	for _, tt := range tests {
		require.ErrorIs(t, tt.give(), tt.want, tt.name)
	}
}

func TestRegistryUntilStopped(t *testing.T) {
	t.Parallel()
	r := sprag.NewRegistry()
	job := bound(t, "job", &plain{})
	require.NoError(t, job.Start(context.Background()))
	require.NoError(t, r.Provide("job", job, sprag.UntilStopped()))
	assert.Equal(t, []string{"job"}, r.Names())
	require.NoError(t, job.Stop(context.Background()))
	<-job.Done()
	assert.Empty(t, r.Names(), "the entry left with its stopped service")

	failed := bound(t, "failed", &probe{onStart: func(context.Context, *probe) error { return errors.New("boom") }})
	require.NoError(t, r.Provide("failed", failed, sprag.UntilStopped()))
	require.Error(t, failed.Start(context.Background()))
	<-failed.Done()
	assert.Empty(t, r.Names(), "a service that failed to start leaves too")

	replaced := bound(t, "v1", &plain{})
	require.NoError(t, replaced.Start(context.Background()))
	require.NoError(t, r.Provide("api", replaced, sprag.UntilStopped()))
	successor := bound(t, "v2", &plain{})
	_, err := r.Replace("api", successor)
	require.NoError(t, err)
	require.NoError(t, replaced.Stop(context.Background()))
	<-replaced.Done()
	assert.Equal(t, []string{"api"}, r.Names(), "the successor keeps the name")
}

func TestCheckName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give string
		want string // "" for a good name
	}{
		{"metrics", ""},
		{"email-v2.eu_west", ""},
		{"", "the name is empty"},
		{"pool/worker", "holds a '/'"},
		{"my service", "holds a space or a control character"},
		{"tab\there", "holds a space or a control character"},
		{string(make([]byte, 129)), "longer than 128 bytes"},
	}
	for _, tt := range tests {
		err := sprag.CheckName(tt.give)
		if tt.want == "" {
			require.NoError(t, err, tt.give)
			continue
		}
		require.ErrorIs(t, err, sprag.ErrInvalidArgument, tt.give)
		assert.Contains(t, err.Error(), tt.want)
	}
	require.ErrorIs(t, sprag.Bind(&plain{}, "a b", sprag.NewRuntime(nil)), sprag.ErrInvalidArgument, "Bind applies it")
	require.ErrorIs(t, sprag.NewRegistry().Provide("a/b", bound(t, "x", &plain{})), sprag.ErrInvalidArgument, "Provide too")
}
