// Package benchmarks compares sprag-go with other libraries and with
// hand-written code, in one run. It is a module of its own, so that the
// libraries it measures against never enter sprag-go's go.mod.
//
// Run it from this directory:
//
//	go test -run XXX -bench . -benchmem -count 5
//
// Each scenario is one BenchmarkX with one b.Run per contender. The
// figures of the last run are in ../docs/benchmarks.md.
package benchmarks
