// Package workpool runs independent jobs on every core, for commands that
// handle many coins (generate, validate): results stay in input order
// because each job writes only its own slot.
package workpool

import (
	"context"
	"runtime"
	"sync"
)

// Run calls job(i) for each i in [0, n), in increasing order of start, on
// at most GOMAXPROCS goroutines, and returns once every started call has
// returned. Once ctx is done no further call starts and Run returns the
// context's cause; calls already running finish, so each job must leave
// things whole on its own (as generator.Write does).
func Run(ctx context.Context, n int, job func(i int)) error {
	workers := min(runtime.GOMAXPROCS(0), n)
	var (
		mu   sync.Mutex
		next int
		wg   sync.WaitGroup
	)
	// take hands out the next index, or false when all are taken or the
	// run was cancelled.
	take := func() (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		if next >= n || ctx.Err() != nil {
			return 0, false
		}
		next++
		return next - 1, true
	}
	for range workers {
		wg.Go(func() {
			for i, ok := take(); ok; i, ok = take() {
				job(i)
			}
		})
	}
	wg.Wait()
	if next < n {
		return context.Cause(ctx)
	}
	return nil
}
