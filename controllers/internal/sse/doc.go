// Package sse is the engine of controllers' Server-Sent Event streams: a
// hub per stream that bus listeners publish into, a ring buffer of encoded
// events that every client of the stream reads from, and the loop that
// writes one client's events.
//
// # Costs and guarantees
//
//   - [Hub.Publish] is what a bus listener calls, on the emitter's
//     goroutine. It takes no lock: it links the event into an intake list
//     with a compare-and-swap and wakes the hub's dispatcher with one
//     non-blocking channel send. Its cost does not depend on the number of
//     clients.
//   - [Hub.Run], the dispatcher, is one goroutine per hub (the caller
//     owns it). It numbers the pending events, writes them into the ring
//     and wakes every waiting client at once by closing a channel.
//   - Clients read the ring from their own cursor, on their own goroutine
//     (the HTTP request's). A client that falls more than the ring's size
//     behind loses the oldest events it had not sent and gets a gap
//     marker, then goes on from the oldest event still held. No client
//     waits for another, and the emitter waits for none.
//
// Event ids are "<epoch>-<seq>": seq counts the hub's events from 1 and
// epoch is random per hub, so that an id from another run of the process
// is recognised as unknown rather than taken for a position in this one.
package sse
