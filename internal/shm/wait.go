package shm

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"
)

// Wait bounds one blocking operation. Timeout < 0 waits without limit, 0
// does not block (the operation returns ErrWouldBlock instead), > 0 waits
// at most that long (ErrTimeout). A done Ctx ends the wait with an error
// wrapping ErrCanceled and the context's error, within waitSlice. A nil
// Ctx is never done. A closed Stop ends the wait with ErrStopped within
// waitSlice: the parent closes it when its pool closes, so that no call
// sleeps on an arena about to be unmapped.
//
// SpinWhile, if set, is asked before the wait spins and at each yield of
// the spin; once it returns false the wait sleeps. It is for a waiter that
// can tell when a long wait is likely, to which spinning would only take
// CPU from the processes it waits for. Nil spins as usual.
type Wait struct {
	Ctx       context.Context
	Stop      <-chan struct{}
	Timeout   time.Duration
	SpinWhile func() bool

	start time.Time
}

// Forever is a Wait with no timeout and no context.
var Forever = Wait{Timeout: -1}

// NoWait is a Wait that never blocks.
var NoWait = Wait{}

// waitSlice bounds one futex sleep when a context could end the wait:
// a done context is noticed within this long.
const waitSlice = 20 * time.Millisecond

// spinIters is how many times a blocking operation re-checks its condition
// before it sleeps; see RATIONALE.md, "Why spin before sleeping?".
var spinIters = 4000

// yieldEvery is how many checks spin makes between yields of the CPU.
const yieldEvery = 32

// spin re-checks cond up to spinIters times and reports whether it held.
// Every yieldEvery checks it yields the CPU (sched_yield): when the peer
// it waits for runs on the same CPU, spinning alone only burns the
// peer's time slice, and yielding lets it run and answer.
func spin(cond func() bool) bool { return spinWhile(cond, nil, false) }

// spinWhile is spin that also gives up once while, asked at the start and
// after each yield, returns false (nil means always true). With gosched it
// also yields to the other goroutines of this process at each yield: a
// goroutine that waits for another process's answer while goroutines of
// its own process have work (a stream reader whose executor is to run the
// call it just read) must not hold their P. A guest's wait in a host call
// does not: there Gosched only costs, up to 7× on a semaphore ping-pong.
func spinWhile(cond, while func() bool, gosched bool) bool {
	if while != nil && !while() {
		return cond()
	}
	for i := range spinIters {
		if cond() {
			return true
		}
		if i%yieldEvery == yieldEvery-1 {
			if gosched {
				runtime.Gosched()
			}
			osYield()
			if while != nil && !while() {
				return cond()
			}
		}
	}
	return false
}

// sleep sleeps on *w while it holds old, for at most one slice of the
// remaining time. It returns nil when the caller should re-check its
// condition, or the error that ends the wait.
func (wt *Wait) sleep(w *uint32, old uint32) error {
	left, err := wt.left()
	if err != nil {
		return err
	}
	limit := int64(left)
	if (wt.Stop != nil || wt.Ctx != nil && wt.Ctx.Done() != nil) && (limit < 0 || limit > int64(waitSlice)) {
		limit = int64(waitSlice)
	}
	if atomic.LoadUint32(w) != old {
		return nil
	}
	futexWait(w, old, limit)
	return nil
}

// left returns the time left to wait (negative: no limit), or the error
// that ends the wait now: ErrWouldBlock for a Wait that never blocks,
// ErrCanceled, ErrStopped, ErrTimeout. The clock starts at its first call.
func (wt *Wait) left() (time.Duration, error) {
	if wt.Timeout == 0 {
		return 0, ErrWouldBlock
	}
	if wt.Ctx != nil {
		if err := wt.Ctx.Err(); err != nil {
			return 0, fmt.Errorf("%w: %w", ErrCanceled, err)
		}
	}
	if wt.stopped() {
		return 0, ErrStopped
	}
	if wt.Timeout < 0 {
		return -1, nil
	}
	if wt.start.IsZero() {
		wt.start = time.Now()
	}
	left := wt.Timeout - time.Since(wt.start)
	if left <= 0 {
		return 0, ErrTimeout
	}
	return left, nil
}

func (wt *Wait) stopped() bool {
	select {
	case <-wt.Stop:
		return true
	default:
		return false
	}
}
