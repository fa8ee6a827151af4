package cluster

import "context"

// LeaseSeen returns what the watch of n's lease engine last saw of lease
// name: its holder, whether it is gone, and whether it saw it at all.
func LeaseSeen(n *Node, name string) (holder string, gone, ok bool) {
	n.mu.Lock()
	l := n.leases
	n.mu.Unlock()
	if l == nil {
		return "", false, false
	}
	o, ok := l.observed(name)
	return o.holder, o.gone, ok
}

// PushTwice stores item with one message id twice, as a Push retried after
// a lost acknowledgement does.
func PushTwice[T any](ctx context.Context, q *Queue[T], item T) error {
	msg, err := q.message(item)
	if err != nil {
		return err
	}
	if err := q.publish(ctx, msg); err != nil {
		return err
	}
	return q.publish(ctx, msg)
}
