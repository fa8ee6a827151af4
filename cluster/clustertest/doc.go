// Package clustertest helps test code built on package cluster: NATS
// servers with JetStream in the test's process, a proxy that cuts
// connections, and an in-memory lease engine for singleton jobs on the
// virtual clock of a testing/synctest bubble.
//
//	srv := clustertest.StartServer(t)        // one server, random port, stopped at the end
//	c := clustertest.StartCluster(t, 3)      // three servers with routes; c.URL() lists them
//	p := clustertest.NewProxy(t, srv.URL())  // p.Cut() drops its connections until p.Restore()
//	leases := clustertest.NewLeases()        // leases.For("a") is replica a's cluster.Lease
//
// Servers and proxies start goroutines of their own; each is shut down
// and waited for when the test ends, so tests that use them can check for
// leaks with goleak.
package clustertest
