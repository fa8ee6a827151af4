package cluster

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// attemptTimeout bounds one attempt to create a stream, bucket or
// consumer.
const attemptTimeout = 3 * time.Second

// ensure runs op, which creates or updates a stream, a bucket or a
// consumer, until it succeeds, fails for good, or ctx ends. Replicas that
// start together create the same resources at once, and a JetStream meta
// leader may then leave a request unanswered while it assigns the
// resource another request created: a later attempt finds it. Each
// attempt is bounded by attemptTimeout and the next one waits a random
// backoff.
func ensure(ctx context.Context, what string, op func(ctx context.Context) error) error {
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		err := op(actx)
		cancel()
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return fmt.Errorf("%s: %w (after %d attempts: %w)", what, ctx.Err(), attempt, err)
		case !retryable(err):
			return fmt.Errorf("%s: %w", what, err)
		}
		d := backoff(attempt, 50*time.Millisecond, time.Second)
		sleep(ctx, d/2+rand.N(d/2+1)) //nolint:gosec // spreads the replicas' attempts; no secret involved
	}
}

// retryable reports whether creating a resource may succeed on a later
// attempt: no answer, the name taken by a concurrent create, or a cluster
// whose servers are still joining.
func retryable(err error) bool {
	if transient(err) {
		return true
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode {
		case jetstream.JSErrCodeStreamNameInUse, jetstream.JSErrCodeConsumerNameExists, jetstream.JSErrCodeConsumerExists,
			jetstream.JSErrCodeConsumerAlreadyExists, 10005: // 10005: no suitable peers for placement
			return true
		}
	}
	return false
}
