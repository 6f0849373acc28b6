//go:build linux

package pool

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestMinQueue_adaptivePrefetch: with Prefetch 0 a worker is sent 2 calls
// beyond the one it runs while its calls are long, 4 while they are
// short; a fixed Prefetch does not adapt.
func TestMinQueue_adaptivePrefetch(t *testing.T) {
	newWorker := func(prefetch int) *workerProc {
		p := &Pool{cfg: Config{Workers: 2, Concurrency: 1, Prefetch: prefetch}}
		p.prefetchFast, p.prefetchSlow = prefetchDepths(prefetch)
		return &workerProc{p: p, slots: make(chan struct{}, 1+p.prefetchFast)}
	}
	// minQueues returns minQueue with 1..cap(slots) slots taken.
	minQueues := func(w *workerProc) []int {
		var got []int
		for range cap(w.slots) {
			w.slots <- struct{}{}
			got = append(got, w.minQueue())
		}
		for range cap(w.slots) {
			<-w.slots
		}
		return got
	}
	// calls answers n calls sent together, each taking d of the worker's
	// time after the one before.
	calls := func(w *workerProc, n int, d time.Duration) {
		sent := time.Now()
		now := sent
		for range n {
			now = now.Add(d)
			w.timeCall(&task{sentAt: sent}, now)
		}
	}
	never := math.MaxInt

	w := newWorker(0)
	require.Equal(t, []int{1, 2, 2, never, never}, minQueues(w), "slow until calls show otherwise")
	calls(w, 30, 10*time.Microsecond)
	require.Equal(t, []int{1, 2, 2, 2, 2}, minQueues(w), "short calls: four prefetches")
	calls(w, 1, 5*time.Millisecond)
	require.Equal(t, []int{1, 2, 2, never, never}, minQueues(w), "one long call is enough to fall back")

	w = newWorker(3)
	require.Equal(t, []int{1, 2, 2, 2}, minQueues(w), "a fixed Prefetch, long calls or not")
}
