package sprag

import "fmt"

// State is where a service is in its lifecycle:
//
//	Created → Starting → Running → Stopping → Stopped
//	             ↓
//	           Failed
//
// A service is Failed when OnStart returned an error or panicked. A
// stopped or failed service does not start again.
type State int32

// The states of a service.
const (
	Created State = iota
	Starting
	Running
	Stopping
	Stopped
	Failed
)

var stateNames = [...]string{
	Created:  "created",
	Starting: "starting",
	Running:  "running",
	Stopping: "stopping",
	Stopped:  "stopped",
	Failed:   "failed",
}

// String returns the state's lower-case name.
func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", s)
}

// MarshalText encodes the state as its name, for JSON health reports.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
