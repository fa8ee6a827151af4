// Package process runs subprocesses owned by a service, as the original's
// managed processes: output followed line by line, SIGTERM then a grace
// period then SIGKILL at stop, restarts with a policy, exits reported.
//
//	worker, err := process.Start(svc, "ffmpeg", args,
//		process.Grace(10*time.Second),
//		process.Restart(sprag.RestartPolicy{MaxRestarts: 5}),
//		process.Stdout(svc.progress))
//	...
//	err = worker.Stop(ctx) // this one only; the service keeps running
//
// The process is waited for on a task of its owner's scope, so the
// owner's Stop waits for it and names it if it outlives the deadline.
// [Exited] is emitted on the owner's bus when a process exits on its own.
//
// The package is built on sprag's public Scope API only, as a user's own
// primitive would be.
package process
