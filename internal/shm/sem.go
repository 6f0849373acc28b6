package shm

import "sync/atomic"

// semSize is the size of a semaphore: value, waiters, bound, spare.
const semSize = 16

// Semaphore is a view of a cross-process counting semaphore. A bounded
// semaphore (bound > 0) refuses to be released above its bound. Nothing
// records who acquired it: a participant that dies holding units does not
// give them back (as with Python's semaphores).
type Semaphore struct {
	value, waiters, bound *uint32
}

func semAt(a *Arena, off uint64) Semaphore {
	return Semaphore{value: a.u32(off), waiters: a.u32(off + 4), bound: a.u32(off + 8)}
}

func (s Semaphore) init(value, bound uint32) {
	atomic.StoreUint32(s.value, value)
	atomic.StoreUint32(s.bound, bound)
}

func (s Semaphore) tryTake() bool {
	v := atomic.LoadUint32(s.value)
	return v > 0 && atomic.CompareAndSwapUint32(s.value, v, v-1)
}

// Acquire takes one unit, blocking while the value is zero. On an error
// the semaphore is unchanged.
func (s Semaphore) Acquire(wt Wait) error {
	if s.tryTake() || spin(s.tryTake) {
		return nil
	}
	atomic.AddUint32(s.waiters, 1)
	defer atomic.AddUint32(s.waiters, ^uint32(0))
	for {
		if s.tryTake() {
			return nil
		}
		if err := wt.sleep(s.value, 0); err != nil {
			return err
		}
	}
}

// Release adds n units and wakes up to n sleepers. A bounded semaphore
// returns ErrOverRelease, unchanged, when that would pass its bound.
func (s Semaphore) Release(n uint32) error {
	for {
		v := atomic.LoadUint32(s.value)
		b := atomic.LoadUint32(s.bound)
		if v+n < v || (b > 0 && v+n > b) {
			return ErrOverRelease
		}
		if atomic.CompareAndSwapUint32(s.value, v, v+n) {
			break
		}
	}
	if atomic.LoadUint32(s.waiters) > 0 {
		futexWake(s.value, int(min(n, 1<<30)))
	}
	return nil
}

// Value returns the current value (a hint: it may change at once).
func (s Semaphore) Value() uint32 { return atomic.LoadUint32(s.value) }

// eventSize is the size of an event: flag, waiters.
const eventSize = 8

// Event is a view of a cross-process event: a flag that Wait blocks on
// until it is set.
type Event struct {
	flag, waiters *uint32
}

func eventAt(a *Arena, off uint64) Event {
	return Event{flag: a.u32(off), waiters: a.u32(off + 4)}
}

// Set sets the flag and wakes every waiter.
func (e Event) Set() {
	atomic.StoreUint32(e.flag, 1)
	if atomic.LoadUint32(e.waiters) > 0 {
		futexWake(e.flag, 1<<30)
	}
}

// Clear clears the flag.
func (e Event) Clear() { atomic.StoreUint32(e.flag, 0) }

// IsSet reports whether the flag is set.
func (e Event) IsSet() bool { return atomic.LoadUint32(e.flag) != 0 }

// Wait blocks until the flag is set.
func (e Event) Wait(wt Wait) error {
	if e.IsSet() || spin(e.IsSet) {
		return nil
	}
	atomic.AddUint32(e.waiters, 1)
	defer atomic.AddUint32(e.waiters, ^uint32(0))
	for !e.IsSet() {
		if err := wt.sleep(e.flag, 0); err != nil {
			return err
		}
	}
	return nil
}
