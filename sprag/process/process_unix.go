//go:build unix

package process

import (
	"os"
	"syscall"
)

// terminate asks p to exit: SIGTERM.
func terminate(p *os.Process) error { return p.Signal(syscall.SIGTERM) }
