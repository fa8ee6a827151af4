package cluster

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"go.uber.org/zap"

	"github.com/sprag-go/sprag/sprag"
)

// This file holds what the package needs of a sprag service (managed),
// the check that a service provides it (asManaged), and the helpers that
// start the package's labelled tasks and fixed-rate timers on a service
// (spawn, every).

// managed is what the package needs of a service: the methods that the
// embedded sprag.Service promotes.
type managed interface {
	sprag.Interface
	Logger() *zap.Logger
	Schedule(sched sprag.Schedule, fn func(ctx context.Context) error, opts ...sprag.TimerOption) (*sprag.Timer, error)
	Spawn(fn func(ctx context.Context) error, opts ...sprag.TaskOption) (*sprag.Task, error)
	AddCleanup(fn func(ctx context.Context) error) error
}

// sprag.Service provides every method that managed lists.
var _ managed = (*sprag.Service)(nil)

// asManaged returns svc's managed methods.
func asManaged(svc sprag.Interface) (managed, error) {
	if v := reflect.ValueOf(svc); !v.IsValid() || v.Kind() == reflect.Pointer && v.IsNil() {
		return nil, fmt.Errorf("%w: nil service", sprag.ErrInvalidArgument)
	}
	m, ok := svc.(managed)
	if !ok {
		return nil, fmt.Errorf("%w: %T does not embed sprag.Service", sprag.ErrInvalidArgument, svc)
	}
	return m, nil
}

// spawn starts fn as a task of svc labelled label. The error means nothing
// was started.
func spawn(svc managed, label string, fn func(ctx context.Context) error) (*sprag.Task, error) {
	return svc.Spawn(fn, sprag.Label(label))
}

// every calls fn every d on svc's managed timers, at a fixed rate.
func every(svc managed, d time.Duration, label string, fn func(ctx context.Context) error) (*sprag.Timer, error) {
	return svc.Schedule(sprag.FixedRate(d), fn, sprag.Label(label))
}
