package spragtest

import "runtime"

// HeapGrowthPerCycle runs cycle n times and returns how many bytes the
// live heap grew per cycle, measured after garbage collection: about 0
// for code that keeps nothing of a cycle, such as a service that listens
// and unsubscribes, or adopts and stops a child per job. It runs cycle a
// few hundred times first, with negative i, so that caches and maps
// reach their size. Run it in a test that is not parallel, with a
// service that logs nowhere (a test's log is kept in memory). For n < 1
// it runs only those first cycles and returns 0.
func HeapGrowthPerCycle(n int, cycle func(i int)) float64 {
	for i := range 200 {
		cycle(-1 - i)
	}
	if n < 1 {
		return 0
	}
	before := liveHeap()
	for i := range n {
		cycle(i)
	}
	after := liveHeap()
	return (float64(after) - float64(before)) / float64(n)
}

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
