package cluster

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/sprag-go/sprag/sprag"
)

// This file holds every call of sprag's timer and task methods, which are
// changing to return (handle, error): the adaptation is here and only here.

// managed is what the package needs of a service: the methods that the
// embedded sprag.Service promotes.
type managed interface {
	sprag.Interface
	Interval(d time.Duration, fn func(ctx context.Context) error, opts ...sprag.IntervalOption) *sprag.Timer
	Timeout(d time.Duration, fn func(ctx context.Context) error, opts ...sprag.TimeoutOption) *sprag.Timer
	Spawn(fn func(ctx context.Context) error, opts ...sprag.TaskOption) *sprag.Task
	AddCleanup(fn func(ctx context.Context) error) error
	Context() context.Context
}

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
	t := svc.Spawn(fn, sprag.Label(label))
	if err := t.Err(); refused(err) {
		return nil, err
	}
	return t, nil
}

// after calls fn once after d on svc's managed timers.
func after(svc managed, d time.Duration, label string, fn func(ctx context.Context) error) (*sprag.Timer, error) {
	t := svc.Timeout(d, fn, sprag.Label(label))
	if err := t.Err(); err != nil {
		return nil, err
	}
	return t, nil
}

// every calls fn every d on svc's managed timers, at a fixed rate.
func every(svc managed, d time.Duration, label string, fn func(ctx context.Context) error) (*sprag.Timer, error) {
	t := svc.Interval(d, fn, sprag.Label(label), sprag.FixedRate())
	if err := t.Err(); err != nil {
		return nil, err
	}
	return t, nil
}

// refused reports whether a task's error says it never started: today a
// refused Spawn returns a handle that is already done with that error.
func refused(err error) bool {
	return errors.Is(err, sprag.ErrNotRunning) || errors.Is(err, sprag.ErrInvalidArgument)
}
