//go:build race

package eventbus

// raceEnabled is true when the tests run under the race detector, which
// makes them 5 to 10 times slower: single-goroutine tests of size scale
// down under it, where it has nothing to find.
const raceEnabled = true
