//go:build !unix

package process

import "os"

// terminate ends p at once: without SIGTERM there is nothing gentler to
// ask, so the grace period only bounds the wait for its output.
func terminate(p *os.Process) error { return p.Kill() }
