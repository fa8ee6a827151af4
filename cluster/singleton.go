package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/sprag-go/sprag/sprag"
)

// JobFunc is the work of a singleton job. ctx ends at run.Deadline, before
// the lease the run depends on can expire, when the lease is found lost,
// and when the service stops. Pass run.Token to the stores the job
// writes, so that they can refuse the writes of a replica that lost the
// lease while it was paused (see the package documentation).
type JobFunc func(ctx context.Context, run Run) error

// Run describes one run of a singleton job.
type Run struct {
	Job      string    // the job's name
	Tick     time.Time // the tick the run is for: a multiple of the period since the Unix epoch
	Token    uint64    // the fencing token: larger than every earlier run's of the job
	Deadline time.Time // when ctx ends at the latest
	Holder   string    // the replica running it
}

// Defaults of [Singleton]'s options.
const (
	DefaultLeaseTTL = 10 * time.Second
)

// A SingletonOption configures [Singleton].
type SingletonOption interface {
	applySingleton(*singletonConfig)
	// String returns the option as it would be written in Go, such as
	// cluster.LeaseTTL(5s).
	String() string
}

type singletonConfig struct {
	ttl, margin, keep time.Duration
	label             string
}

type singletonOption struct {
	apply func(*singletonConfig)
	text  string
}

func (o singletonOption) applySingleton(c *singletonConfig) { o.apply(c) }
func (o singletonOption) String() string                    { return o.text }

// LeaseTTL sets how long the job's lease outlives its holder's last
// renewal: the time another replica waits before it takes a dead holder's
// place. It is a whole number of seconds, at least 2s; the default is
// [DefaultLeaseTTL]. A run lasts at most LeaseTTL minus the margin.
func LeaseTTL(d time.Duration) SingletonOption {
	return singletonOption{func(c *singletonConfig) { c.ttl = d }, fmt.Sprintf("cluster.LeaseTTL(%v)", d)}
}

// LeaseMargin sets how long before its lease could expire a run's context
// ends. It must exceed the clock skew between the NATS servers and the
// time a paused process needs to notice its context ended; the default
// (also for 0) is a fifth of the TTL, at least 1s. It must be positive
// and less than the TTL.
func LeaseMargin(d time.Duration) SingletonOption {
	return singletonOption{func(c *singletonConfig) { c.margin = d }, fmt.Sprintf("cluster.LeaseMargin(%v)", d)}
}

// TickRecord sets how long the record that a tick ran is kept, which
// bounds the clock skew between replicas that cannot make a tick run
// twice. It must be at least the period; the default (also for 0) is
// twice the period, at least 30s.
func TickRecord(d time.Duration) SingletonOption {
	return singletonOption{func(c *singletonConfig) { c.keep = d }, fmt.Sprintf("cluster.TickRecord(%v)", d)}
}

// JobLabel names the job's timers in the service's logs; the default is
// "singleton <name>".
func JobLabel(label string) SingletonOption {
	return singletonOption{func(c *singletonConfig) { c.label = label }, fmt.Sprintf("cluster.JobLabel(%q)", label)}
}

// Job is a singleton job started by [Singleton]. Its methods are safe for
// concurrent use.
type Job struct {
	svc    managed
	leases Lease
	name   string
	period time.Duration
	ttl    time.Duration
	margin time.Duration
	keep   time.Duration
	label  string
	fn     JobFunc
	log    *zap.Logger

	lease sync.Mutex // serializes the lease's requests: a tick's and the renewal's

	mu       sync.Mutex
	grant    *Grant             // the lease, while this replica holds it; guarded by mu
	deadline time.Time          // work under grant ends by then; guarded by mu
	next     *sprag.Timer       // the ticks; guarded by mu
	renewal  *sprag.Timer       // guarded by mu
	cancel   context.CancelFunc // ends the run in progress; guarded by mu
	stopped  bool               // guarded by mu

	runs, skipped, taken, acquired, lost atomic.Int64
}

// JobStats are a job's figures on this replica.
type JobStats struct {
	Holder   bool  `json:"holder"`   // this replica holds the lease now
	Runs     int64 `json:"runs"`     // ticks run here
	Skipped  int64 `json:"skipped"`  // ticks left to the holder, or skipped without a lease
	Taken    int64 `json:"taken"`    // ticks found claimed already
	Acquired int64 `json:"acquired"` // times this replica took the lease
	Lost     int64 `json:"lost"`     // times it found the lease lost
}

// Singleton runs fn every period on one replica of the cluster at a time:
// each tick (a multiple of period since the Unix epoch) runs at most once
// across every replica that runs the same job name, with the same period.
//
// The ticks are svc's managed timers: they stop with svc. At each tick
// every replica of the job wakes up; the one that holds the job's lease
// renews it and, if it can claim the tick with a compare-and-set create in
// leases, runs fn. The others do nothing while the holder renews its
// lease, every third of the TTL; once a holder is gone (its lease expired
// or was released at its stop), the first replica to acquire the lease at
// a tick runs that tick. A tick without a reachable engine is skipped, as
// is a tick that a run overran: runs of a job never overlap.
//
// fn's context ends before the lease can expire; see [JobFunc] and [Run].
// An error or panic of fn is logged by the service, and the job keeps
// ticking.
//
// Singleton must be called while svc starts or runs. Its errors name the
// job, and nothing is started then. It fails with an error wrapping
// sprag.ErrInvalidArgument for a nil svc or one that does not embed
// sprag.Service, a nil leases or fn, a name not made of letters, digits,
// '-' and '_', a period under 100ms, a [LeaseTTL] that is not a whole
// number of seconds of at least 2s, a [LeaseMargin] that is negative or
// not less than the TTL, or a [TickRecord] shorter than the period; and
// with an error wrapping sprag.ErrNotRunning when svc is neither starting
// nor running.
func Singleton(svc sprag.Interface, leases Lease, name string, period time.Duration, fn JobFunc, opts ...SingletonOption) (*Job, error) {
	m, err := asManaged(svc)
	if err != nil {
		return nil, fmt.Errorf("cluster.Singleton(%q): %w", name, err)
	}
	c := singletonConfig{ttl: DefaultLeaseTTL}
	for _, o := range opts {
		if o != nil {
			o.applySingleton(&c)
		}
	}
	if c.margin == 0 {
		c.margin = max(c.ttl/5, time.Second)
	}
	if c.keep == 0 {
		c.keep = max(2*period, 30*time.Second)
	}
	if c.label == "" {
		c.label = "singleton " + name
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("cluster.Singleton(%q): %w: %s", name, sprag.ErrInvalidArgument, fmt.Sprintf(format, args...))
	}
	switch {
	case leases == nil:
		return nil, bad("nil leases")
	case fn == nil:
		return nil, bad("nil function")
	case !validName(name):
		return nil, bad("the name must be made of letters, digits, '-' and '_'")
	case period < 100*time.Millisecond:
		return nil, bad("the period must be at least 100ms, got %v", period)
	case c.ttl < 2*time.Second || c.ttl%time.Second != 0:
		return nil, bad("LeaseTTL must be a whole number of seconds, at least 2s, got %v", c.ttl)
	case c.margin <= 0 || c.margin >= c.ttl:
		return nil, bad("LeaseMargin must be positive and less than the TTL (%v), got %v", c.ttl, c.margin)
	case c.keep < period:
		return nil, bad("TickRecord must be at least the period (%v), got %v", period, c.keep)
	}
	j := &Job{
		svc: m, leases: leases, name: name, period: period, ttl: c.ttl, margin: c.margin, keep: c.keep,
		label: c.label, fn: fn, log: m.Logger().With(zap.String("job", name)),
	}
	if err := m.AddCleanup(j.release); err != nil {
		return nil, fmt.Errorf("cluster.Singleton(%q): %w", name, err)
	}
	renewal, err := every(m, c.ttl/3, c.label+" lease", j.renew)
	if err != nil {
		return nil, fmt.Errorf("cluster.Singleton(%q): %w", name, err)
	}
	j.mu.Lock()
	j.renewal = renewal
	j.mu.Unlock()
	next, err := j.svc.Schedule(ticks(period), j.tick, sprag.Label(c.label))
	if err != nil {
		renewal.Cancel()
		return nil, fmt.Errorf("cluster.Singleton(%q): %w", name, err)
	}
	j.mu.Lock()
	j.next = next
	j.mu.Unlock()
	return j, nil
}

// Name returns the job's name.
func (j *Job) Name() string { return j.name }

// Stats returns the job's figures on this replica.
func (j *Job) Stats() JobStats {
	j.mu.Lock()
	holder := j.grant != nil && time.Now().Before(j.deadline)
	j.mu.Unlock()
	return JobStats{Holder: holder, Runs: j.runs.Load(), Skipped: j.skipped.Load(), Taken: j.taken.Load(),
		Acquired: j.acquired.Load(), Lost: j.lost.Load()}
}

// Stop stops the job on this replica: no tick begins after it returns,
// and a run in progress sees its context end. It releases the lease, if
// this replica holds it, so that another replica takes over at its next
// tick; ctx bounds that request. Stopping a stopped job does nothing. The
// job also stops when its service does.
func (j *Job) Stop(ctx context.Context) error {
	j.mu.Lock()
	if j.stopped {
		j.mu.Unlock()
		return nil
	}
	j.stopped = true
	next, renewal, cancel := j.next, j.renewal, j.cancel
	j.mu.Unlock()
	if next != nil {
		next.Cancel()
	}
	if renewal != nil {
		renewal.Cancel()
	}
	if cancel != nil {
		cancel()
	}
	return j.release(ctx)
}

// ticks is the schedule of a job's ticks: each run at the first multiple
// of period after the last run's tick and after now; see nextTick.
type ticks time.Duration

// Next returns when the tick after last's is due.
func (p ticks) Next(now time.Time, last sprag.Run) time.Time {
	var prev time.Time
	if last.N > 0 {
		prev = tickOf(last.Start, time.Duration(p))
	}
	return nextTick(prev, now, time.Duration(p))
}

// String names the schedule.
func (p ticks) String() string { return fmt.Sprintf("cluster ticks every %v", time.Duration(p)) }

// tick is one tick on this replica: take or keep the lease, claim the
// tick, run.
func (j *Job) tick(ctx context.Context) error {
	tick := tickOf(time.Now(), j.period)
	deadline, ok := j.hold(ctx)
	if !ok {
		j.skipped.Add(1)
		return nil
	}
	if !time.Now().Before(deadline) {
		j.skipped.Add(1)
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, time.Until(deadline))
	token, err := j.leases.Claim(cctx, j.name, tick, j.keep)
	cancel()
	switch {
	case errors.Is(err, ErrTickTaken):
		j.taken.Add(1)
		return nil
	case err != nil:
		j.skipped.Add(1)
		return fmt.Errorf("job %q: %w", j.name, err)
	}
	return j.run(ctx, Run{Job: j.name, Tick: tick, Token: token, Deadline: deadline, Holder: j.holder()})
}

func (j *Job) holder() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.grant == nil {
		return ""
	}
	return j.grant.Holder
}

// run calls fn with a context that ends at the run's deadline or when the
// lease is found lost.
func (j *Job) run(ctx context.Context, r Run) error {
	rctx, cancel := context.WithDeadline(ctx, r.Deadline)
	defer cancel()
	j.mu.Lock()
	if j.stopped {
		j.mu.Unlock()
		return nil
	}
	j.cancel = cancel
	j.mu.Unlock()
	defer func() {
		j.mu.Lock()
		j.cancel = nil
		j.mu.Unlock()
	}()
	j.runs.Add(1)
	return j.fn(rctx, r)
}

// hold makes sure this replica holds the lease: it renews the grant it
// has or acquires one. It returns until when work may run under the
// grant, and false when another replica holds the lease or the engine
// cannot tell.
func (j *Job) hold(ctx context.Context) (time.Time, bool) {
	j.lease.Lock()
	defer j.lease.Unlock()
	if j.isStopped() {
		return time.Time{}, false
	}
	if deadline, ok := j.renewLocked(ctx); ok {
		return deadline, true
	}
	j.mu.Lock()
	held := j.grant != nil
	j.mu.Unlock()
	if held {
		return time.Time{}, false // kept, but the engine did not answer: no new run on it
	}
	start := time.Now()
	rctx, cancel := context.WithTimeout(ctx, j.ttl-j.margin)
	g, err := j.leases.Acquire(rctx, j.name, j.ttl)
	cancel()
	if err != nil {
		if !errors.Is(err, ErrLeaseHeld) {
			j.log.Warn("acquire the job's lease", zap.Error(err))
		}
		return time.Time{}, false
	}
	deadline := runDeadline(start, j.ttl, j.margin)
	j.mu.Lock()
	j.grant, j.deadline = &g, deadline
	j.mu.Unlock()
	j.acquired.Add(1)
	j.log.Info("job lease acquired", zap.Uint64("revision", g.Revision))
	return deadline, true
}

func (j *Job) isStopped() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.stopped
}

// renewLocked renews the grant, if there is one; j.lease is held. It
// reports the new deadline, or false when there is no grant, it was lost
// (then it is dropped and the run in progress ends), or the engine did
// not answer (then it is kept until its deadline, for the next try).
func (j *Job) renewLocked(ctx context.Context) (time.Time, bool) {
	j.mu.Lock()
	g, deadline := j.grant, j.deadline
	j.mu.Unlock()
	if g == nil {
		return time.Time{}, false
	}
	start := time.Now()
	if !start.Before(deadline) {
		// Its deadline passed without a renewal: the lease may have
		// expired. Only a successful renewal (a compare-and-set on the
		// grant's revision) can say it did not.
		deadline = start
	}
	rctx, cancel := context.WithTimeout(ctx, max(time.Until(deadline), j.ttl/3))
	ng, err := j.leases.Renew(rctx, *g, j.ttl)
	cancel()
	switch {
	case err == nil:
		deadline = runDeadline(start, j.ttl, j.margin)
		j.mu.Lock()
		j.grant, j.deadline = &ng, deadline
		j.mu.Unlock()
		return deadline, true
	case errors.Is(err, ErrLeaseLost):
		j.lost.Add(1)
		j.log.Warn("job lease lost", zap.Error(err))
		j.mu.Lock()
		j.grant = nil
		cancelRun := j.cancel
		j.mu.Unlock()
		if cancelRun != nil {
			cancelRun()
		}
		return time.Time{}, false
	default:
		j.log.Warn("renew the job's lease", zap.Error(err))
		return time.Time{}, false
	}
}

// renew is the renewal interval: it keeps the lease while this replica
// holds it, between ticks.
func (j *Job) renew(ctx context.Context) error {
	j.lease.Lock()
	defer j.lease.Unlock()
	if j.isStopped() {
		return nil
	}
	j.renewLocked(ctx)
	return nil
}

// release gives the lease up, if held, so that another replica takes over
// at its next tick rather than after the TTL.
func (j *Job) release(ctx context.Context) error {
	j.lease.Lock()
	defer j.lease.Unlock()
	j.mu.Lock()
	g := j.grant
	j.grant = nil
	j.mu.Unlock()
	if g == nil {
		return nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, stopTimeout)
		defer cancel()
	}
	if err := j.leases.Release(ctx, *g); err != nil && !errors.Is(err, ErrLeaseLost) {
		return fmt.Errorf("job %q: release the lease: %w", j.name, err)
	}
	return nil
}
