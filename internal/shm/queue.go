package shm

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"sync/atomic"
	"time"
)

// Queue layout. Producer and consumer words sit on separate cache lines.
//
// The ring's state is two 64-bit words, each committed by one store:
// prod = bytes written (low 32) | messages put (high 32), and cons the same
// for reading. Producers serialize on the put lock and consumers on the
// get lock, so a producer and a consumer never contend: each side writes
// only its own word and reads the other's, and any value it reads is a
// valid, if stale, bound. A process killed anywhere leaves the committed
// state, so a message is wholly in the queue or not at all. Counts are
// derived from these monotonic counters; JoinableQueue's unfinished count
// is puts minus task-done calls.
//
// Each side has two lines: one the other side reads (its state word, and
// the futex word and waiters count of waitSeq), and one nobody else
// touches (its lock, and its last look at the other side's word). A
// consumer watching prod then takes that line from the producer once per
// put, at the commit, and never while the producer takes or releases its
// lock: with the lock on the same line, BenchmarkQueue_oneway/shm took
// 106 ns a message instead of 74 (RATIONALE.md, "Why two queue locks and
// cached state words?").
const (
	qClosed     = 16
	qCapMsgs    = 24
	qMaxMsg     = 28
	qProd       = 64  // u64, the producers' line that consumers read
	qPutSeq     = 72  // futex word of sleeping consumers (waitSeq)
	qGetWaiters = 76  // consumers (and pollers) spinning or asleep on it
	qPollers    = 80  // of those, WaitReadable's, which take no message
	qCons       = 128 // u64, the consumers' line that producers read
	qGetSeq     = 136 // futex word of sleeping producers (waitSeq)
	qPutWaiters = 140 // producers spinning or asleep on it
	qDone       = 192 // task_done calls; futex word of Join
	qJoinWaiter = 196
	// qBellSleeper is 1 while a Stream's reader sleeps on its Bell.
	qBellSleeper = 200
	qPutLock     = 256 // lockSize bytes, the producers' own line
	qSeenCons    = 272 // u64: the producers' last look at qCons
	qGetLock     = 320 // lockSize bytes, the consumers' own line
	qSeenProd    = 336 // u64: the consumers' last look at qProd
	qHeader      = 384

	// MinRing and MaxRing bound a queue's ring in bytes.
	MinRing = 64
	MaxRing = 1 << 30
)

// QueueSize returns the arena bytes a queue with a ring of at least ring
// bytes needs, and the real ring size (the next power of two).
func QueueSize(ring int) (size uint64, realRing int) {
	ring = max(ring, MinRing)
	realRing = 1 << bits.Len(uint(ring-1))
	return qHeader + uint64(realRing), realRing
}

// Queue is a view of a bounded multi-producer, multi-consumer queue of
// byte messages in the arena. Its methods are safe for concurrent use by
// any number of goroutines and processes, each with a token of its own;
// copies of a view are views of the same queue, and the zero Queue is
// not one (views come from Object.Queue). Two short internal locks, one
// for producers and one for consumers, guard the ring; waits for room or
// messages spin, then sleep on a sequence word. Each message costs 4
// bytes of ring besides its bytes.
type Queue struct {
	putLock, getLock Lock
	a                *Arena
	off              uint64
	ring             []byte
	mask             uint32
}

func queueAt(a *Arena, off, size uint64) (Queue, error) {
	n := size - qHeader
	if size < qHeader+MinRing || n > MaxRing || n&(n-1) != 0 {
		return Queue{}, ErrCorrupt
	}
	return Queue{
		putLock: lockAt(a, off+qPutLock, false), getLock: lockAt(a, off+qGetLock, false), a: a, off: off,
		ring: a.mem[off+qHeader : off+size : off+size], mask: uint32(n - 1),
	}, nil
}

func (q *Queue) init(capMsgs, maxMsg uint32) {
	atomic.StoreUint32(q.a.u32(q.off+qCapMsgs), capMsgs)
	atomic.StoreUint32(q.a.u32(q.off+qMaxMsg), maxMsg)
}

func (q *Queue) w32(field uint64) *uint32 { return q.a.u32(q.off + field) }
func (q *Queue) w64(field uint64) *uint64 { return q.a.u64(q.off + field) }

// Limits returns the capacity in messages, the ring size in bytes and the
// largest message.
func (q *Queue) Limits() (capMsgs, ring, maxMsg int) {
	return int(atomic.LoadUint32(q.w32(qCapMsgs))), len(q.ring), q.maxMsg()
}

func (q *Queue) maxMsg() int {
	return min(int(atomic.LoadUint32(q.w32(qMaxMsg))), len(q.ring)-4)
}

// Len returns the number of messages in the queue (a hint).
func (q *Queue) Len() int {
	p, c := atomic.LoadUint64(q.w64(qProd)), atomic.LoadUint64(q.w64(qCons))
	return int(int32(uint32(p>>32) - uint32(c>>32)))
}

// Closed reports whether Close was called.
func (q *Queue) Closed() bool { return atomic.LoadUint32(q.w32(qClosed)) != 0 }

// Unfinished returns the number of messages put and not yet marked done.
func (q *Queue) Unfinished() int {
	return int(int32(uint32(atomic.LoadUint64(q.w64(qProd))>>32) - atomic.LoadUint32(q.w32(qDone))))
}

// state reads the ring state and validates it. The caller holds one
// side's lock, so its own word is stable; it reads that word first, and
// then the other side's, which can only have moved towards it.
func (q *Queue) state(producer bool) (tail, puts, head, gets uint32, err error) {
	var p, c uint64
	if producer {
		p = atomic.LoadUint64(q.w64(qProd))
		c = atomic.LoadUint64(q.w64(qCons))
	} else {
		c = atomic.LoadUint64(q.w64(qCons))
		p = atomic.LoadUint64(q.w64(qProd))
	}
	return q.check(p, c)
}

// check splits and validates a pair of state words.
func (q *Queue) check(p, c uint64) (tail, puts, head, gets uint32, err error) {
	tail, puts, head, gets = uint32(p), uint32(p>>32), uint32(c), uint32(c>>32)
	used, n := tail-head, puts-gets
	if used > uint32(len(q.ring)) || n > used/4 || (n == 0) != (used == 0) {
		return 0, 0, 0, 0, ErrCorrupt
	}
	return tail, puts, head, gets, nil
}

func (q *Queue) write(pos uint32, b []byte) {
	n := copy(q.ring[pos&q.mask:], b)
	copy(q.ring, b[n:])
}

func (q *Queue) read(pos uint32, b []byte) {
	n := copy(b, q.ring[pos&q.mask:])
	copy(b[n:], q.ring)
}

// putHeader and header write and read a message's length at pos, in
// place unless it wraps: a copy of 4 bytes costs a call to memmove.
func (q *Queue) putHeader(pos, size uint32) {
	if i := pos & q.mask; i <= q.mask-3 {
		binary.LittleEndian.PutUint32(q.ring[i:], size)
		return
	}
	var hdr [4]byte
	binary.LittleEndian.PutUint32(hdr[:], size)
	q.write(pos, hdr[:])
}

func (q *Queue) header(pos uint32) uint32 {
	if i := pos & q.mask; i <= q.mask-3 {
		return binary.LittleEndian.Uint32(q.ring[i:])
	}
	var hdr [4]byte
	q.read(pos, hdr[:])
	return binary.LittleEndian.Uint32(hdr[:])
}

// lock takes one side's internal lock, held for a few copies only. An
// owner that died holding it is recovered by Table.Recover; the committed
// state is consistent whatever it was doing, so ErrOwnerDied changes
// nothing. A lock held far longer than that belongs to a process that
// broke the protocol (one that wrote another's token into it, say): the
// caller's wt bounds the wait for it like any other (a Wait that never
// blocks only spins), and once the queue is closed and one holder has
// kept the lock for lockGiveUp, lock returns ErrClosed, which is how the
// parent stops waiting on a broken worker's streams.
func (q *Queue) lock(l Lock, tok Token, wt *Wait) error {
	// Acquire tries this first too; trying it here keeps wt's clock
	// (time.Now) off the path of a free lock.
	if atomic.CompareAndSwapUint32(l.state, 0, uint32(tok)) {
		l.acquired() // ErrOwnerDied changes nothing, as above
		return nil
	}
	var (
		holder Token
		since  time.Time
	)
	for {
		// Slices of lockSlice at most, within what is left of wt, so that
		// Close is noticed and wt's timeout is kept to.
		slice := Wait{Ctx: wt.Ctx, Stop: wt.Stop, Timeout: lockSlice}
		if wt.Timeout >= 0 {
			left, err := wt.left()
			if err == ErrWouldBlock {
				left = 0 // NoWait: spin, then give up
			} else if err != nil {
				return err
			}
			slice.Timeout = min(left, lockSlice)
		}
		switch err := l.Acquire(tok, slice); {
		case err == nil || errors.Is(err, ErrOwnerDied):
			return nil
		case err != ErrTimeout && err != ErrWouldBlock:
			return err // wt's context or Stop
		}
		if _, err := wt.left(); err != nil {
			return err
		}
		if !q.Closed() {
			continue
		}
		switch owner := l.Owner(); {
		case owner != holder || since.IsZero():
			holder, since = owner, time.Now()
		case time.Since(since) >= lockGiveUp:
			return ErrClosed
		}
	}
}

// lockSlice is how often lock looks whether the queue was closed (a
// variable for tests), and lockGiveUp how long one holder may then keep
// the lock.
var lockSlice = 50 * time.Millisecond

const lockGiveUp = time.Second

// Put appends msgs in order, blocking while the queue is full. wt bounds
// the whole call, the wait for the producers' lock included. It returns
// how many were put: all of them, or fewer with the error that stopped it
// (wt's: ErrWouldBlock, ErrTimeout, ErrCanceled, ErrStopped; ErrClosed,
// ErrTooLarge for a message longer than the maximum, ErrCorrupt).
// ErrClosed also ends a Put kept from the queue's lock, after Close, by a
// broken process that holds it (see lock).
func (q *Queue) Put(tok Token, wt Wait, msgs ...[]byte) (int, error) {
	max := q.maxMsg()
	for _, m := range msgs {
		if len(m) > max {
			return 0, ErrTooLarge
		}
	}
	// A first try before reading the consumers' sequence word, as Get
	// does: a producer with room leaves the consumers' line alone.
	done, err := q.tryPut(tok, &wt, msgs)
	if err != nil || done == len(msgs) {
		return done, err
	}
	for {
		gets := q.getCount()
		n, err := q.tryPut(tok, &wt, msgs[done:])
		done += n
		if err != nil || done == len(msgs) {
			return done, err
		}
		if n > 0 {
			continue
		}
		if err := q.waitRoom(&wt, gets); err != nil {
			return done, err
		}
	}
}

// tryPut puts as many of msgs as fit now, under the lock.
func (q *Queue) tryPut(tok Token, wt *Wait, msgs [][]byte) (int, error) {
	if err := q.lock(q.putLock, tok, wt); err != nil {
		return 0, err
	}
	if q.Closed() {
		q.putLock.Release(tok)
		return 0, ErrClosed
	}
	// Producers first trust their last look at the consumers' word,
	// kept on their own cache line, and read the real one only when that
	// shows too little room: the consumers' line is then not pulled over
	// on every put.
	p := atomic.LoadUint64(q.w64(qProd))
	seen := false
	tail, puts, head, gets, err := q.check(p, atomic.LoadUint64(q.w64(qSeenCons)))
	if err != nil {
		seen = true
		tail, puts, head, gets, err = q.state(true)
	}
	if err != nil {
		q.putLock.Release(tok)
		return 0, err
	}
	capMsgs := atomic.LoadUint32(q.w32(qCapMsgs))
	n := 0
	for _, m := range msgs {
		need := uint32(4 + len(m))
		if puts-gets >= capMsgs || uint32(len(q.ring))-(tail-head) < need {
			if seen {
				break
			}
			seen = true
			c := atomic.LoadUint64(q.w64(qCons))
			if _, _, head, gets, err = q.check(uint64(puts)<<32|uint64(tail), c); err != nil {
				break
			}
			atomic.StoreUint64(q.w64(qSeenCons), c)
			if puts-gets >= capMsgs || uint32(len(q.ring))-(tail-head) < need {
				break
			}
		}
		q.putHeader(tail, uint32(len(m)))
		q.write(tail+4, m)
		tail += need
		puts++
		n++
	}
	if n > 0 {
		atomic.StoreUint64(q.w64(qProd), uint64(puts)<<32|uint64(tail))
	}
	q.putLock.Release(tok)
	if n > 0 {
		// A poller woken takes no message: wake one more for each, so
		// that n consumers wake whichever sleepers the kernel picks.
		q.wakeSleepers(qPutSeq, qGetWaiters, n+int(atomic.LoadUint32(q.w32(qPollers))))
	}
	return n, err
}

// putCount and getCount return how many messages were ever put and got:
// what blocked producers and consumers watch for (waitSeq).
func (q *Queue) putCount() uint32 { return uint32(atomic.LoadUint64(q.w64(qProd)) >> 32) }
func (q *Queue) getCount() uint32 { return uint32(atomic.LoadUint64(q.w64(qCons)) >> 32) }

// waitRoom waits until a get happened since gets was read or the queue is
// closed.
func (q *Queue) waitRoom(wt *Wait, gets uint32) error {
	return q.waitSeq(wt, qCons, qGetSeq, qPutWaiters, gets)
}

// waitMessage waits until a put happened since puts was read or the
// queue is closed.
func (q *Queue) waitMessage(wt *Wait, puts uint32) error {
	return q.waitSeq(wt, qProd, qPutSeq, qGetWaiters, puts)
}

// waitSeq spins, then sleeps, until the message count in the state word
// at state (qProd or qCons) moved on from seen or the queue is closed.
// While it sleeps, on the futex word at seq, it is counted in the waiters
// word, and the other side bumps seq and wakes it (wakeSleepers) once it
// has committed: the sleeper counts itself and then looks at the count,
// the other side commits and then looks at the waiters, so one of them
// sees the other. A side that finds nobody asleep leaves seq alone, which
// spares each put and get a locked instruction.
func (q *Queue) waitSeq(wt *Wait, state, seq, waiters uint64, seen uint32) error {
	// The spin calls moved thousands of times: its words are looked up once.
	count, closed := q.w64(state), q.w32(qClosed)
	moved := func() bool { return uint32(atomic.LoadUint64(count)>>32) != seen || atomic.LoadUint32(closed) != 0 }
	if wt.Timeout == 0 {
		return ErrWouldBlock // NoWait: not even a spin
	}
	if spinWhile(moved, wt.SpinWhile, wt.SpinWhile != nil) {
		return nil
	}
	w := q.w32(seq)
	atomic.AddUint32(q.w32(waiters), 1)
	defer atomic.AddUint32(q.w32(waiters), ^uint32(0))
	for {
		v := atomic.LoadUint32(w)
		if moved() {
			return nil
		}
		if err := wt.sleep(w, v); err != nil {
			return err
		}
	}
}

// wakeSleepers wakes up to n sleepers of waitSeq on the futex word seq,
// if the waiters word says there are any; the caller has committed.
func (q *Queue) wakeSleepers(seq, waiters uint64, n int) {
	if atomic.LoadUint32(q.w32(waiters)) > 0 {
		atomic.AddUint32(q.w32(seq), 1)
		futexWake(q.w32(seq), n)
	}
}

// Sink receives messages from Get: it returns the buffer of length n to
// copy a message of n bytes into, or nil to leave the message in the
// queue (Get then returns ErrTooLarge). It runs under the queue's lock and
// must not block.
type Sink func(n int) []byte

// Get removes up to max messages (at least one), blocking while the queue
// is empty, and copies each into the buffer sink gives. wt bounds the
// whole call, the wait for the consumers' lock included. It returns how
// many it removed, and an error when none: the Wait's error, ErrClosed
// once the queue is closed and empty (or, after Close, kept from the
// queue's lock by a broken process that holds it: see lock), ErrTooLarge
// when sink refused the first message (left in the queue), ErrCorrupt.
func (q *Queue) Get(tok Token, wt Wait, max int, sink Sink) (int, error) {
	// A first try before reading the producers' sequence word: a consumer
	// that is behind then leaves the producers' line alone.
	if n, err := q.tryGet(tok, &wt, max, sink); n > 0 || err != ErrWouldBlock {
		return n, err
	}
	for {
		puts := q.putCount()
		n, err := q.tryGet(tok, &wt, max, sink)
		if n > 0 || err != ErrWouldBlock {
			return n, err
		}
		if q.Closed() {
			return 0, ErrClosed
		}
		if err := q.waitMessage(&wt, puts); err != nil {
			return 0, err
		}
	}
}

// tryGet takes up to max messages now; ErrWouldBlock when empty.
func (q *Queue) tryGet(tok Token, wt *Wait, max int, sink Sink) (int, error) {
	if err := q.lock(q.getLock, tok, wt); err != nil {
		return 0, err
	}
	// Consumers first trust their last look at the producers' word, kept
	// on their own line, and read the real one only when that shows the
	// queue empty: as for producers and qSeenCons.
	c := atomic.LoadUint64(q.w64(qCons))
	tail, puts, head, gets, err := q.check(atomic.LoadUint64(q.w64(qSeenProd)), c)
	if err != nil || puts == gets {
		p := atomic.LoadUint64(q.w64(qProd))
		if tail, puts, head, gets, err = q.check(p, c); err == nil {
			atomic.StoreUint64(q.w64(qSeenProd), p)
		}
	}
	if err != nil {
		q.getLock.Release(tok)
		return 0, err
	}
	n := 0
	for n < max && puts != gets {
		size := q.header(head)
		if uint64(size)+4 > uint64(tail-head) {
			err = ErrCorrupt
			break
		}
		dst := sink(int(size))
		if dst == nil {
			if n == 0 {
				err = ErrTooLarge
			}
			break
		}
		q.read(head+4, dst[:size])
		head += 4 + size
		gets++
		n++
	}
	if n > 0 {
		atomic.StoreUint64(q.w64(qCons), uint64(gets)<<32|uint64(head))
	}
	q.getLock.Release(tok)
	if n > 0 {
		q.wakeSleepers(qGetSeq, qPutWaiters, n)
		return n, nil
	}
	if err == nil {
		err = ErrWouldBlock
	}
	return 0, err
}

// WaitReadable blocks until the queue holds a message or is closed, and
// reports which: nil, or ErrClosed when closed and empty; or wt's error
// when it ends first. A message it saw may be taken by a consumer before
// the caller comes to get it.
func (q *Queue) WaitReadable(wt Wait) error {
	atomic.AddUint32(q.w32(qPollers), 1)
	defer atomic.AddUint32(q.w32(qPollers), ^uint32(0))
	for {
		puts := q.putCount()
		if q.Len() > 0 {
			return nil
		}
		if q.Closed() {
			return ErrClosed
		}
		if err := q.waitMessage(&wt, puts); err != nil {
			return err
		}
	}
}

// Close closes the queue: Put fails with ErrClosed, Get drains what is
// left and then fails with ErrClosed, and every sleeper wakes.
func (q *Queue) Close() {
	atomic.StoreUint32(q.w32(qClosed), 1)
	for _, w := range []uint64{qPutSeq, qGetSeq, qDone} {
		atomic.AddUint32(q.w32(w), 1)
		futexWake(q.w32(w), 1<<30)
	}
}

// TaskDone marks one message as processed (JoinableQueue). It returns
// ErrOverRelease when every message put is already marked.
func (q *Queue) TaskDone() error {
	w := q.w32(qDone)
	for {
		d := atomic.LoadUint32(w)
		puts := uint32(atomic.LoadUint64(q.w64(qProd)) >> 32)
		if d == puts {
			return ErrOverRelease
		}
		if atomic.CompareAndSwapUint32(w, d, d+1) {
			if d+1 == puts && atomic.LoadUint32(q.w32(qJoinWaiter)) > 0 {
				futexWake(w, 1<<30)
			}
			return nil
		}
	}
}

// Join blocks until every message put has been marked done.
func (q *Queue) Join(wt Wait) error {
	w := q.w32(qDone)
	idle := func() bool { return q.Unfinished() <= 0 }
	if idle() || spin(idle) {
		return nil
	}
	atomic.AddUint32(q.w32(qJoinWaiter), 1)
	defer atomic.AddUint32(q.w32(qJoinWaiter), ^uint32(0))
	for {
		d := atomic.LoadUint32(w)
		if idle() {
			return nil
		}
		if err := wt.sleep(w, d); err != nil {
			return err
		}
	}
}

// recoverFrom releases the internal locks a dead token held.
func (q *Queue) recoverFrom(dead Dead) {
	q.putLock.recoverFrom(dead, false)
	q.getLock.recoverFrom(dead, false)
}
