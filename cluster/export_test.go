package cluster

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
