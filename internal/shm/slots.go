package shm

import "sync/atomic"

// Waiter slots: a Condition or Barrier records each sleeper in a slot of
// its own, so that a notify wakes exactly the sleepers it chose, a timed
// out sleeper can tell whether it was chosen, and recovery can find the
// sleepers of a dead participant. A slot is claimed and its outcome set
// under the object's lock; the sleeper frees it.
const (
	slotSize = 16 // state, token, ticket, spare

	slotFree    = 0
	slotWaiting = 1
	slotPassed  = 2 // notified, or the barrier was passed
	slotBroken  = 3
)

type slots struct {
	a    *Arena
	off  uint64
	n    int
	tick *uint32 // ticket counter, for FIFO order
}

func (s slots) state(i int) *uint32 { return s.a.u32(s.off + uint64(i)*slotSize) }
func (s slots) token(i int) *uint32 { return s.a.u32(s.off + uint64(i)*slotSize + 4) }
func (s slots) ticket(i int) *uint32 {
	return s.a.u32(s.off + uint64(i)*slotSize + 8)
}

// claim records tok as waiting in a free slot; the caller holds the lock.
func (s slots) claim(tok Token) (int, error) {
	for i := range s.n {
		if atomic.LoadUint32(s.state(i)) == slotFree {
			atomic.StoreUint32(s.token(i), uint32(tok))
			atomic.StoreUint32(s.ticket(i), atomic.AddUint32(s.tick, 1))
			atomic.StoreUint32(s.state(i), slotWaiting)
			return i, nil
		}
	}
	return 0, ErrTooMany
}

// sleep waits until slot i is no longer waiting and returns its state, or
// the Wait's error.
func (s slots) sleep(i int, wt *Wait) (uint32, error) {
	st := s.state(i)
	done := func() bool { return atomic.LoadUint32(st) != slotWaiting }
	if done() || spin(done) {
		return atomic.LoadUint32(st), nil
	}
	for !done() {
		if err := wt.sleep(st, slotWaiting); err != nil {
			return slotWaiting, err
		}
	}
	return atomic.LoadUint32(st), nil
}

// finish sets a waiting slot's outcome and wakes its sleeper; the caller
// holds the lock.
func (s slots) finish(i int, outcome uint32) {
	if atomic.CompareAndSwapUint32(s.state(i), slotWaiting, outcome) {
		futexWake(s.state(i), 1)
	}
}

// oldest returns the waiting slot with the smallest ticket, or -1.
func (s slots) oldest() int {
	best, bestAge := -1, uint32(0)
	now := atomic.LoadUint32(s.tick)
	for i := range s.n {
		if atomic.LoadUint32(s.state(i)) != slotWaiting {
			continue
		}
		// Ages, not tickets, compare correctly across wrap-around.
		if age := now - atomic.LoadUint32(s.ticket(i)); best < 0 || age > bestAge {
			best, bestAge = i, age
		}
	}
	return best
}

// free releases slot i.
func (s slots) free(i int) { atomic.StoreUint32(s.state(i), slotFree) }

// recoverFrom frees every slot held by a dead token and reports whether one
// of them was still waiting.
func (s slots) recoverFrom(dead Dead) (wasWaiting bool) {
	for i := range s.n {
		st := atomic.LoadUint32(s.state(i))
		if st == slotFree || !dead(Token(atomic.LoadUint32(s.token(i)))) {
			continue
		}
		wasWaiting = wasWaiting || st == slotWaiting
		s.free(i)
		futexWake(s.state(i), 1)
	}
	return wasWaiting
}

// Condition layout: its recursive lock, the ticket counter, the slots.
const (
	condSlots = 64
	condSize  = 32 + condSlots*slotSize
)

// Condition is a view of a cross-process condition variable with its own
// recursive lock (Python's default Condition()). At most 64 sleepers wait
// at once; one more gets ErrTooMany.
type Condition struct {
	Lock
	slots slots
}

func condAt(a *Arena, off uint64) Condition {
	return Condition{Lock: lockAt(a, off, true), slots: slots{a: a, off: off + 32, n: condSlots, tick: a.u32(off + 16)}}
}

// Wait releases the lock held by tok (at every recursion level), sleeps
// until notified or the Wait ends, and takes the lock back at the same
// level before it returns, even on a timeout. It returns nil when
// notified, ErrTimeout (or ErrWouldBlock, or ErrCanceled — then without
// the lock) otherwise, ErrNotOwner when tok does not hold the lock, and
// ErrOwnerDied when the lock was taken back from an owner that died.
func (c Condition) Wait(tok Token, wt Wait) error {
	if c.Owner() != tok {
		return ErrNotOwner
	}
	i, err := c.slots.claim(tok)
	if err != nil {
		return err
	}
	depth := atomic.LoadUint32(c.count)
	atomic.StoreUint32(c.count, 1)
	c.Release(tok)
	st, werr := c.slots.sleep(i, &wt)
	if err := c.Lock.Acquire(tok, Wait{Ctx: wt.Ctx, Stop: wt.Stop, Timeout: -1}); err != nil && err != ErrOwnerDied {
		// Canceled: give up the slot without the lock. A notify that
		// chose it is lost with the canceled caller.
		c.slots.free(i)
		return err
	} else if err == ErrOwnerDied {
		werr = err
	}
	atomic.StoreUint32(c.count, depth)
	st = atomic.LoadUint32(c.slots.state(i))
	c.slots.free(i)
	if st == slotPassed && werr != ErrOwnerDied {
		return nil
	}
	return werr
}

// Notify wakes up to n sleepers, oldest first; tok must hold the lock.
func (c Condition) Notify(tok Token, n int) error {
	if c.Owner() != tok {
		return ErrNotOwner
	}
	for ; n > 0; n-- {
		i := c.slots.oldest()
		if i < 0 {
			break
		}
		c.slots.finish(i, slotPassed)
	}
	return nil
}

func (c Condition) recoverFrom(dead Dead) {
	c.recoverLock(dead)
	c.slots.recoverFrom(dead)
}

func (c Condition) recoverLock(dead Dead) { c.Lock.recoverFrom(dead, true) }

// Barrier layout: its internal lock, parties, count, broken, the slots.
const (
	// MaxParties bounds a Barrier's parties.
	MaxParties   = 64
	barrierSlots = 2 * MaxParties
	barrierSize  = 32 + barrierSlots*slotSize
)

// Barrier is a view of a cross-process barrier for a fixed number of
// parties.
type Barrier struct {
	lock                   Lock
	parties, count, broken *uint32
	slots                  slots
}

func barrierAt(a *Arena, off uint64) Barrier {
	return Barrier{
		lock:    lockAt(a, off, false),
		parties: a.u32(off + 16), count: a.u32(off + 20), broken: a.u32(off + 24),
		slots: slots{a: a, off: off + 32, n: barrierSlots, tick: a.u32(off + 28)},
	}
}

// Parties returns the number of parties.
func (b Barrier) Parties() int { return int(atomic.LoadUint32(b.parties)) }

// Broken reports whether the barrier is broken.
func (b Barrier) Broken() bool { return atomic.LoadUint32(b.broken) != 0 }

// Waiting returns the number of parties waiting now.
func (b Barrier) Waiting() int { return int(atomic.LoadUint32(b.count)) }

func (b Barrier) lockFor(tok Token, wt Wait) error {
	if err := b.lock.Acquire(tok, Wait{Ctx: wt.Ctx, Stop: wt.Stop, Timeout: -1}); err != nil && err != ErrOwnerDied {
		return err
	}
	return nil
}

// Wait waits until Parties callers wait, and returns this caller's arrival
// index, 0 for the first. It returns ErrBroken if the barrier is or
// becomes broken (by Abort, Reset, a party's timeout or death), and the
// Wait's error when it ends first — which breaks the barrier for the
// others, as in Python.
func (b Barrier) Wait(tok Token, wt Wait) (int, error) {
	if err := b.lockFor(tok, wt); err != nil {
		return 0, err
	}
	if b.Broken() {
		b.lock.Release(tok)
		return 0, ErrBroken
	}
	parties := atomic.LoadUint32(b.parties)
	idx := atomic.LoadUint32(b.count)
	if parties == 0 || parties > MaxParties || idx >= parties {
		b.breakLocked()
		b.lock.Release(tok)
		return 0, ErrCorrupt
	}
	if idx+1 == parties {
		for i := range b.slots.n {
			b.slots.finish(i, slotPassed)
		}
		atomic.StoreUint32(b.count, 0)
		b.lock.Release(tok)
		return int(idx), nil
	}
	i, err := b.slots.claim(tok)
	if err != nil {
		b.lock.Release(tok)
		return 0, err
	}
	atomic.StoreUint32(b.count, idx+1)
	b.lock.Release(tok)
	st, werr := b.slots.sleep(i, &wt)
	if werr != nil {
		if err := b.lockFor(tok, Wait{Timeout: -1}); err == nil {
			if st = atomic.LoadUint32(b.slots.state(i)); st == slotWaiting {
				b.breakLocked()
			}
			b.lock.Release(tok)
		}
	}
	st = atomic.LoadUint32(b.slots.state(i))
	b.slots.free(i)
	switch {
	case st == slotPassed:
		return int(idx), nil
	case werr != nil:
		return 0, werr
	default:
		return 0, ErrBroken
	}
}

// breakLocked breaks the barrier: every waiter gets ErrBroken.
func (b Barrier) breakLocked() {
	atomic.StoreUint32(b.broken, 1)
	atomic.StoreUint32(b.count, 0)
	for i := range b.slots.n {
		b.slots.finish(i, slotBroken)
	}
}

// Abort breaks the barrier: current and future waiters get ErrBroken until
// Reset.
func (b Barrier) Abort(tok Token) error {
	if err := b.lockFor(tok, Forever); err != nil {
		return err
	}
	b.breakLocked()
	return b.lock.Release(tok)
}

// Reset returns the barrier to its empty, unbroken state; current waiters
// get ErrBroken.
func (b Barrier) Reset(tok Token) error {
	if err := b.lockFor(tok, Forever); err != nil {
		return err
	}
	b.breakLocked()
	atomic.StoreUint32(b.broken, 0)
	return b.lock.Release(tok)
}

// recoverFrom breaks the barrier if a dead token was waiting in it.
func (b Barrier) recoverFrom(dead Dead, self Token) {
	b.lock.recoverFrom(dead, false)
	if !b.slots.recoverFrom(dead) {
		return
	}
	if b.lockFor(self, Forever) == nil {
		b.breakLocked()
		b.lock.Release(self)
	}
}
