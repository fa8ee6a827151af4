package cluster

import "context"

// The context of a listener called for an event that came from another
// replica carries the event's origin. The bridge reads it so as not to
// publish that event again, and listeners may read it with [Origin].

type remoteKey struct{}

// remote describes the delivery a listener is called for.
type remote struct {
	topic   string
	origin  string
	attempt int
}

// remoteCtx is ctx with the remote delivery it carries: one allocation
// where context.WithValue and the value would take two.
type remoteCtx struct {
	context.Context
	r remote
}

func (c *remoteCtx) Value(key any) any {
	if key == (remoteKey{}) {
		return &c.r
	}
	return c.Context.Value(key)
}

func withRemote(ctx context.Context, r remote) context.Context {
	return &remoteCtx{Context: ctx, r: r}
}

func remoteOf(ctx context.Context) *remote {
	r, _ := ctx.Value(remoteKey{}).(*remote)
	return r
}

// Origin reports, inside a listener, whether the event it is called for
// came from another replica, and that replica's name. It reports "",
// false for an event emitted in this process.
//
// An emit of the delivered topic made with this context is taken for the
// delivery itself and is not published again; emits of other topics are
// published as usual.
func Origin(ctx context.Context) (replica string, remoteEvent bool) {
	if r := remoteOf(ctx); r != nil {
		return r.origin, true
	}
	return "", false
}

// Attempt returns, inside a listener of an at-least-once topic, how many
// times the event was delivered to this replica or group, counting this
// delivery: 1 the first time. It returns 0 for a local emit and for an
// at-most-once event.
func Attempt(ctx context.Context) int {
	if r := remoteOf(ctx); r != nil {
		return r.attempt
	}
	return 0
}

type messageIDKey struct{}

// WithMessageID returns a context whose emits of at-least-once topics
// carry id as their message id: the engine drops a second event of the
// same topic with the same id published within its dedup window
// ([DedupWindow]), from any replica. Without it every emit gets a unique
// id, which only protects against the bridge's own publish retries.
func WithMessageID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, messageIDKey{}, id)
}

func messageIDOf(ctx context.Context) string {
	id, _ := ctx.Value(messageIDKey{}).(string)
	return id
}
