package shm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/wasmpool/wasmpool/abi"
)

func newDir(t testing.TB) *Directory {
	t.Helper()
	a, err := Create(8<<20, 256)
	require.NoError(t, err)
	t.Cleanup(func() { a.Close() })
	return NewDirectory(a)
}

func create(t testing.TB, d *Directory, s Spec) Object {
	t.Helper()
	o, err := d.Create(s)
	require.NoError(t, err)
	return o
}

var (
	tokA = MakeToken(2, 1)
	tokB = MakeToken(3, 1)
	tokC = MakeToken(3, 2)
)

func within(d time.Duration) Wait { return Wait{Timeout: d} }

func TestTable(t *testing.T) {
	d := newDir(t)
	q := create(t, d, Spec{Kind: abi.KindQueue, Name: "jobs", Ring: 1000})
	got, err := d.a.Lookup("jobs")
	require.NoError(t, err)
	require.Equal(t, q.Handle, got.Handle)
	require.Equal(t, abi.KindQueue, got.Kind)
	o, err := d.a.Open(q.Handle)
	require.NoError(t, err)
	require.Equal(t, "jobs", o.Name)

	_, err = d.Create(Spec{Kind: abi.KindLock, Name: "jobs"})
	require.ErrorIs(t, err, ErrExists)
	_, err = d.a.Lookup("nope")
	require.ErrorIs(t, err, ErrNotFound)
	for _, h := range []Handle{0, q.Handle + 1<<16, 255, 1 << 15} {
		_, err = d.a.Open(h)
		require.ErrorIs(t, err, ErrBadHandle, "handle %#x", h)
	}
	for _, s := range []Spec{
		{Kind: 99},
		{Kind: abi.KindBarrier, Parties: 0},
		{Kind: abi.KindBarrier, Parties: MaxParties + 1},
		{Kind: abi.KindSemaphore, Flags: FlagBounded, Value: 3, Bound: 2},
		{Kind: abi.KindQueue, Ring: 64, MaxMessage: 100},
		{Kind: abi.KindLock, Name: string(make([]byte, MaxName+1))},
	} {
		_, err := d.Create(s)
		require.Error(t, err, "%+v", s)
	}
}

func TestTable_full(t *testing.T) {
	a, err := Create(1<<20, 4)
	require.NoError(t, err)
	defer a.Close()
	d := NewDirectory(a)
	for range 4 {
		_, err := d.Create(Spec{Kind: abi.KindLock})
		require.NoError(t, err)
	}
	_, err = d.Create(Spec{Kind: abi.KindLock})
	require.ErrorIs(t, err, ErrNoSpace)
	_, err = NewDirectory(a).Create(Spec{Kind: abi.KindQueue, Ring: 4 << 20})
	require.ErrorIs(t, err, ErrNoSpace)
}

func TestLock(t *testing.T) {
	d := newDir(t)
	l := create(t, d, Spec{Kind: abi.KindLock}).Lock()
	require.NoError(t, l.Acquire(tokA, Forever))
	require.Equal(t, tokA, l.Owner())
	require.ErrorIs(t, l.Acquire(tokB, NoWait), ErrWouldBlock)
	require.ErrorIs(t, l.Acquire(tokB, within(5*time.Millisecond)), ErrTimeout)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	err := l.Acquire(tokB, Wait{Ctx: ctx, Timeout: -1})
	require.ErrorIs(t, err, ErrCanceled)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorIs(t, l.Release(tokB), ErrNotOwner)
	require.NoError(t, l.Release(tokA))
	require.ErrorIs(t, l.Release(tokA), ErrNotOwner)
	require.Zero(t, l.Owner())
}

func TestRLock(t *testing.T) {
	d := newDir(t)
	l := create(t, d, Spec{Kind: abi.KindRLock}).Lock()
	for range 3 {
		require.NoError(t, l.Acquire(tokA, Forever))
	}
	require.ErrorIs(t, l.Acquire(tokB, NoWait), ErrWouldBlock)
	for range 3 {
		require.Equal(t, tokA, l.Owner())
		require.NoError(t, l.Release(tokA))
	}
	require.Zero(t, l.Owner())
	require.NoError(t, l.Acquire(tokB, NoWait))
}

func TestLock_ownerDied(t *testing.T) {
	d := newDir(t)
	o := create(t, d, Spec{Kind: abi.KindLock})
	l := o.Lock()
	require.NoError(t, l.Acquire(tokA, Forever))
	got := make(chan error)
	go func() { got <- l.Acquire(tokB, within(10*time.Second)) }()
	time.Sleep(10 * time.Millisecond)
	d.a.Recover(func(t Token) bool { return t.Participant() == tokA.Participant() }, MakeToken(ParentParticipant, 0))
	require.ErrorIs(t, <-got, ErrOwnerDied)
	require.Equal(t, tokB, l.Owner())
	require.NoError(t, l.Release(tokB))
	require.NoError(t, l.Acquire(tokA, NoWait), "the mark is reported once")
}

// TestLock_hammer: a counter kept under the lock by many goroutines with
// tokens of their own ends exact.
func TestLock_hammer(t *testing.T) {
	d := newDir(t)
	o := create(t, d, Spec{Kind: abi.KindLock})
	l := o.Lock()
	const workers, each = 8, 5000
	// The counter lives in the arena, in the lock's spare word, where
	// only the lock orders accesses (the race detector does not see
	// synchronization through shared memory).
	counter := d.a.u32(o.off + 12)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			tok := MakeToken(2, uint32(w+1))
			for range each {
				if err := l.Acquire(tok, Forever); err != nil {
					t.Error(err)
					return
				}
				*counter++
				l.Release(tok)
			}
		})
	}
	wg.Wait()
	require.Equal(t, uint32(workers*each), *counter)
}

func TestSemaphore(t *testing.T) {
	d := newDir(t)
	s := create(t, d, Spec{Kind: abi.KindSemaphore, Value: 2}).Semaphore()
	require.NoError(t, s.Acquire(NoWait))
	require.NoError(t, s.Acquire(NoWait))
	require.ErrorIs(t, s.Acquire(NoWait), ErrWouldBlock)
	require.ErrorIs(t, s.Acquire(within(5*time.Millisecond)), ErrTimeout)
	got := make(chan error)
	go func() { got <- s.Acquire(within(10 * time.Second)) }()
	time.Sleep(5 * time.Millisecond)
	require.NoError(t, s.Release(1))
	require.NoError(t, <-got)
	require.Zero(t, s.Value())

	b := create(t, d, Spec{Kind: abi.KindSemaphore, Flags: FlagBounded, Value: 1, Bound: 1}).Semaphore()
	require.ErrorIs(t, b.Release(1), ErrOverRelease)
	require.NoError(t, b.Acquire(NoWait))
	require.NoError(t, b.Release(1))
	require.Equal(t, uint32(1), b.Value())
}

func TestEvent(t *testing.T) {
	d := newDir(t)
	e := create(t, d, Spec{Kind: abi.KindEvent}).Event()
	require.ErrorIs(t, e.Wait(within(2*time.Millisecond)), ErrTimeout)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { require.NoError(t, e.Wait(within(10*time.Second))) })
	}
	time.Sleep(5 * time.Millisecond)
	e.Set()
	wg.Wait()
	require.True(t, e.IsSet())
	e.Clear()
	require.False(t, e.IsSet())
}

func TestCondition(t *testing.T) {
	d := newDir(t)
	c := create(t, d, Spec{Kind: abi.KindCondition}).Condition()
	require.ErrorIs(t, c.Wait(tokA, Forever), ErrNotOwner)
	require.ErrorIs(t, c.Notify(tokA, 1), ErrNotOwner)

	// A timed-out wait returns with the lock held at the same depth.
	require.NoError(t, c.Acquire(tokA, Forever))
	require.NoError(t, c.Acquire(tokA, Forever))
	require.ErrorIs(t, c.Wait(tokA, within(2*time.Millisecond)), ErrTimeout)
	require.NoError(t, c.Release(tokA))
	require.Equal(t, tokA, c.Owner())
	require.NoError(t, c.Release(tokA))

	// Notify(1) wakes exactly one of three sleepers, NotifyAll the rest.
	var woken atomic.Int32
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			tok := MakeToken(4, uint32(i+1))
			require.NoError(t, c.Acquire(tok, Forever))
			if err := c.Wait(tok, within(10*time.Second)); err != nil {
				t.Error(err)
			}
			woken.Add(1)
			c.Release(tok)
		})
	}
	waitFor(t, func() bool { return sleepers(c.slots) == 3 })
	require.NoError(t, c.Acquire(tokA, Forever))
	require.NoError(t, c.Notify(tokA, 1))
	require.NoError(t, c.Release(tokA))
	waitFor(t, func() bool { return woken.Load() == 1 })
	time.Sleep(10 * time.Millisecond)
	require.Equal(t, int32(1), woken.Load())
	require.NoError(t, c.Acquire(tokA, Forever))
	require.NoError(t, c.Notify(tokA, 1<<30))
	require.NoError(t, c.Release(tokA))
	wg.Wait()
	require.Equal(t, int32(3), woken.Load())
}

func sleepers(s slots) int {
	n := 0
	for i := range s.n {
		if atomic.LoadUint32(s.state(i)) == slotWaiting {
			n++
		}
	}
	return n
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestBarrier(t *testing.T) {
	d := newDir(t)
	b := create(t, d, Spec{Kind: abi.KindBarrier, Parties: 3}).Barrier()
	for round := range 3 {
		idx := make(chan int, 3)
		var wg sync.WaitGroup
		for i := range 3 {
			wg.Go(func() {
				n, err := b.Wait(MakeToken(5, uint32(i+1)), within(10*time.Second))
				if err != nil {
					t.Error(round, err)
				}
				idx <- n
			})
		}
		wg.Wait()
		close(idx)
		seen := map[int]bool{}
		for n := range idx {
			seen[n] = true
		}
		require.Equal(t, map[int]bool{0: true, 1: true, 2: true}, seen)
	}

	// A timeout breaks it for the others; Reset repairs it.
	got := make(chan error)
	go func() { _, err := b.Wait(tokB, within(10*time.Second)); got <- err }()
	waitFor(t, func() bool { return b.Waiting() == 1 })
	_, err := b.Wait(tokA, within(5*time.Millisecond))
	require.ErrorIs(t, err, ErrTimeout)
	require.ErrorIs(t, <-got, ErrBroken)
	require.True(t, b.Broken())
	_, err = b.Wait(tokA, NoWait)
	require.ErrorIs(t, err, ErrBroken)
	require.NoError(t, b.Reset(tokA))
	require.False(t, b.Broken())

	// Abort wakes waiters with ErrBroken.
	go func() { _, err := b.Wait(tokB, within(10*time.Second)); got <- err }()
	waitFor(t, func() bool { return b.Waiting() == 1 })
	require.NoError(t, b.Abort(tokA))
	require.ErrorIs(t, <-got, ErrBroken)
}

func TestBarrier_deadParty(t *testing.T) {
	d := newDir(t)
	b := create(t, d, Spec{Kind: abi.KindBarrier, Parties: 3}).Barrier()
	got := make(chan error, 2)
	for _, tok := range []Token{tokA, tokB} {
		go func() { _, err := b.Wait(tok, within(10*time.Second)); got <- err }()
	}
	waitFor(t, func() bool { return b.Waiting() == 2 })
	// tokA "dies" while waiting: the barrier breaks and tokB wakes.
	d.a.Recover(func(t Token) bool { return t == tokA }, MakeToken(ParentParticipant, 0))
	require.ErrorIs(t, <-got, ErrBroken)
	require.ErrorIs(t, <-got, ErrBroken)
	require.True(t, b.Broken())
}

func queue(t testing.TB, d *Directory, s Spec) Queue {
	t.Helper()
	s.Kind = abi.KindQueue
	q, err := create(t, d, s).Queue()
	require.NoError(t, err)
	return q
}

// into returns a Sink that appends each message to *out.
func into(out *[][]byte) Sink {
	return func(n int) []byte {
		b := make([]byte, n)
		*out = append(*out, b)
		return b
	}
}

func TestQueue(t *testing.T) {
	d := newDir(t)
	q := queue(t, d, Spec{Ring: 64, MaxMessages: 3})
	caps, ring, max := q.Limits()
	require.Equal(t, []int{3, 64, 60}, []int{caps, ring, max})

	n, err := q.Put(tokA, NoWait, []byte("a"), []byte(""), []byte("ccc"), []byte("d"))
	require.Equal(t, 3, n, "capacity in messages")
	require.ErrorIs(t, err, ErrWouldBlock)
	require.Equal(t, 3, q.Len())
	_, err = q.Put(tokA, NoWait, make([]byte, 61))
	require.ErrorIs(t, err, ErrTooLarge)

	var got [][]byte
	n, err = q.Get(tokB, NoWait, 2, into(&got))
	require.NoError(t, err)
	require.Equal(t, 2, n)
	// A sink that refuses leaves the message in the queue.
	_, err = q.Get(tokB, NoWait, 1, func(int) []byte { return nil })
	require.ErrorIs(t, err, ErrTooLarge)
	n, err = q.Get(tokB, NoWait, 5, into(&got))
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, [][]byte{[]byte("a"), {}, []byte("ccc")}, got)
	_, err = q.Get(tokB, within(2*time.Millisecond), 1, into(&got))
	require.ErrorIs(t, err, ErrTimeout)

	// Wrap around the ring many times with messages of every size.
	for i := range 500 {
		msg := bytes.Repeat([]byte{byte(i)}, i%61)
		_, err := q.Put(tokA, NoWait, msg)
		require.NoError(t, err)
		got = got[:0]
		_, err = q.Get(tokB, NoWait, 1, into(&got))
		require.NoError(t, err)
		require.Equal(t, msg, got[0])
	}

	q.Put(tokA, NoWait, []byte("last"))
	q.Close()
	_, err = q.Put(tokA, NoWait, []byte("x"))
	require.ErrorIs(t, err, ErrClosed)
	got = got[:0]
	_, err = q.Get(tokB, Forever, 1, into(&got))
	require.NoError(t, err, "a closed queue drains")
	_, err = q.Get(tokB, Forever, 1, into(&got))
	require.ErrorIs(t, err, ErrClosed)
}

func TestQueue_blocking(t *testing.T) {
	d := newDir(t)
	q := queue(t, d, Spec{Ring: 64, MaxMessages: 1})
	done := make(chan error)
	go func() {
		_, err := q.Put(tokA, within(10*time.Second), []byte("1"), []byte("2"), []byte("3"))
		done <- err
	}()
	var got [][]byte
	for len(got) < 3 {
		_, err := q.Get(tokB, within(10*time.Second), 1, into(&got))
		require.NoError(t, err)
	}
	require.NoError(t, <-done)
	require.Equal(t, "123", string(bytes.Join(got, nil)))

	// Close wakes a blocked Get.
	go func() { _, err := q.Get(tokB, within(10*time.Second), 1, into(&got)); done <- err }()
	time.Sleep(5 * time.Millisecond)
	q.Close()
	require.ErrorIs(t, <-done, ErrClosed)
}

// Sides that never spin sleep on every wait, so each put or get must
// wake the peer asleep on the other side (waitSeq and wakeSleepers); a
// lost wake-up leaves the peer to sleep out its timeout, and the test
// fails.
func TestQueue_sleepersWake(t *testing.T) {
	d := newDir(t)
	q := queue(t, d, Spec{Ring: 64, MaxMessages: 1})
	wait := Wait{Timeout: 5 * time.Second, SpinWhile: func() bool { return false }}
	const n = 20000
	done := make(chan error, 1)
	go func() {
		for i := range n {
			if _, err := q.Put(tokA, wait, []byte{byte(i)}); err != nil {
				done <- fmt.Errorf("put %d: %w", i, err)
				return
			}
		}
		done <- nil
	}()
	buf := make([]byte, 1)
	for i := range n {
		_, err := q.Get(tokB, wait, 1, func(int) []byte { return buf })
		require.NoError(t, err, "get %d", i)
		require.Equal(t, byte(i), buf[0])
	}
	require.NoError(t, <-done)
}

// A poller asleep on a queue (WaitReadable: Pipe.Poll) takes no message,
// so a put that wakes it must also wake the consumer asleep behind it,
// which otherwise sleeps out its timeout beside a message.
func TestQueue_pollerTakesNoWake(t *testing.T) {
	d := newDir(t)
	// A lost wake-up sleeps out the minute; a woken consumer takes far
	// less than the 20 s allowed, however loaded the machine.
	wait := Wait{Timeout: time.Minute, SpinWhile: func() bool { return false }}
	buf := make([]byte, 8)
	for range 10 {
		q := queue(t, d, Spec{Ring: 256})
		polled, got := make(chan error, 1), make(chan time.Time, 1)
		go func() { polled <- q.WaitReadable(wait) }()
		waitFor(t, func() bool { return atomic.LoadUint32(q.w32(qGetWaiters)) == 1 })
		time.Sleep(5 * time.Millisecond) // asleep first: woken first
		go func() {
			if _, err := q.Get(tokB, wait, 1, func(int) []byte { return buf }); err != nil {
				t.Error(err)
			}
			got <- time.Now()
		}()
		waitFor(t, func() bool { return atomic.LoadUint32(q.w32(qGetWaiters)) == 2 })
		time.Sleep(5 * time.Millisecond)
		put := time.Now()
		_, err := q.Put(tokA, wait, []byte("x"))
		require.NoError(t, err)
		require.Less(t, (<-got).Sub(put), 20*time.Second, "the consumer woke for the message")
		// The poller may have found the queue readable, or empty again
		// after the consumer: Close ends its wait either way.
		q.Close()
		if err := <-polled; err != nil {
			require.ErrorIs(t, err, ErrClosed)
		}
	}
}

// A queue whose lock a broken process holds forever (its token written
// into the lock word, never released) blocks that side only until the
// queue is closed and lockGiveUp has passed: Close is how the parent
// stops waiting on a broken worker's streams. (The message already put
// stays where only the broken process's lock lets anyone reach it.)
func TestQueue_lockHeldForever(t *testing.T) {
	d := newDir(t)
	q := queue(t, d, Spec{Ring: 1024})
	_, err := q.Put(tokA, NoWait, []byte("x"))
	require.NoError(t, err)
	const rogue = Token(0x7777)
	atomic.StoreUint32(q.putLock.state, uint32(rogue))
	atomic.StoreUint32(q.getLock.state, uint32(rogue))
	done := make(chan error, 2)
	go func() { _, err := q.Put(tokA, Forever, []byte("y")); done <- err }()
	go func() { _, err := q.Get(tokB, Forever, 1, func(n int) []byte { return make([]byte, n) }); done <- err }()
	select {
	case err := <-done:
		t.Fatalf("returned while the lock is held: %v", err)
	case <-time.After(2 * lockSlice):
	}
	q.Close()
	closed := time.Now()
	for range 2 {
		select {
		case err := <-done:
			require.ErrorIs(t, err, ErrClosed)
			require.GreaterOrEqual(t, time.Since(closed), lockGiveUp, "not before the holder had lockGiveUp")
		case <-time.After(10 * time.Second):
			t.Fatal("still waiting on the lock after Close")
		}
	}
}

// A caller kept from a queue's lock by a broken process gets its own
// Wait's error when that Wait ends, as it would waiting for room or a
// message: a timeout, a cancelled context, a closed Stop, or
// ErrWouldBlock for a Wait that never blocks. The lock's slices are made
// a minute long, so a wait that ran to the end of one instead (as it did)
// fails the test rather than passing late.
func TestQueue_lockHeldWaitEnds(t *testing.T) {
	slice := lockSlice
	lockSlice = time.Minute
	t.Cleanup(func() { lockSlice = slice })
	d := newDir(t)
	q := queue(t, d, Spec{Ring: 1024})
	const rogue = Token(0x7777)
	atomic.StoreUint32(q.putLock.state, uint32(rogue))
	atomic.StoreUint32(q.getLock.state, uint32(rogue))
	ctx, cancel := context.WithCancel(context.Background())
	stop := make(chan struct{})
	const timeout = 100 * time.Millisecond
	for _, c := range []struct {
		name  string
		wait  Wait
		end   func()
		want  error
		least time.Duration
	}{
		{"timeout", Wait{Timeout: timeout}, func() {}, ErrTimeout, timeout},
		{"context", Wait{Ctx: ctx, Timeout: -1}, cancel, ErrCanceled, 0},
		{"stop", Wait{Stop: stop, Timeout: -1}, func() { close(stop) }, ErrStopped, 0},
		{"no wait", NoWait, func() {}, ErrWouldBlock, 0},
	} {
		type result struct {
			err  error
			took time.Duration
		}
		done := make(chan result, 2)
		start := time.Now()
		go func() { _, err := q.Put(tokA, c.wait, []byte("y")); done <- result{err, time.Since(start)} }()
		go func() {
			_, err := q.Get(tokB, c.wait, 1, func(n int) []byte { return make([]byte, n) })
			done <- result{err, time.Since(start)}
		}()
		time.Sleep(10 * time.Millisecond)
		c.end()
		// Both calls end before anything is checked: one left running
		// would go on using the arena after the test.
		var rs []result
		for range 2 {
			select {
			case r := <-done:
				rs = append(rs, r)
			case <-time.After(20 * time.Second):
				t.Fatalf("%s: still waiting on the lock", c.name)
			}
		}
		for _, r := range rs {
			require.ErrorIs(t, r.err, c.want, c.name)
			require.GreaterOrEqual(t, r.took, c.least, c.name)
		}
	}
}

func TestQueue_joinable(t *testing.T) {
	d := newDir(t)
	q := queue(t, d, Spec{Ring: 1024, Flags: FlagJoinable})
	require.NoError(t, q.Join(NoWait))
	q.Put(tokA, NoWait, []byte("a"), []byte("b"))
	require.Equal(t, 2, q.Unfinished())
	require.ErrorIs(t, q.Join(within(2*time.Millisecond)), ErrTimeout)
	joined := make(chan error)
	go func() { joined <- q.Join(within(10 * time.Second)) }()
	require.NoError(t, q.TaskDone())
	require.NoError(t, q.TaskDone())
	require.NoError(t, <-joined)
	require.ErrorIs(t, q.TaskDone(), ErrOverRelease)
}

// TestQueue_hammer: 4 producers and 4 consumers move 40000 messages through
// a small ring; every message arrives exactly once and in its producer's
// order.
func TestQueue_hammer(t *testing.T) {
	d := newDir(t)
	q := queue(t, d, Spec{Ring: 256})
	const producers, each = 4, 10000
	var wg sync.WaitGroup
	for p := range producers {
		wg.Go(func() {
			tok := MakeToken(6, uint32(p+1))
			for i := range each {
				msg := fmt.Appendf(nil, "%d:%d", p, i)
				if _, err := q.Put(tok, within(10*time.Second), msg); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	var mu sync.Mutex
	seen := map[string]bool{}
	var cwg sync.WaitGroup
	for c := range 4 {
		cwg.Go(func() {
			tok := MakeToken(7, uint32(c+1))
			last := map[int]int{}
			var got [][]byte
			for {
				got = got[:0]
				if _, err := q.Get(tok, within(10*time.Second), 8, into(&got)); err != nil {
					if !errors.Is(err, ErrClosed) {
						t.Error(err)
					}
					return
				}
				mu.Lock()
				for _, m := range got {
					var p, i int
					fmt.Sscanf(string(m), "%d:%d", &p, &i)
					if prev, ok := last[p]; ok && i <= prev {
						t.Errorf("consumer %d, producer %d: %d after %d", c, p, i, prev)
					}
					last[p] = i
					if seen[string(m)] {
						t.Errorf("%s twice", m)
					}
					seen[string(m)] = true
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	q.Close()
	cwg.Wait()
	require.Len(t, seen, producers*each)
}

// TestQueue_scribbled: random writes over a queue's memory never make an
// operation panic or touch memory outside it.
func TestQueue_scribbled(t *testing.T) {
	d := newDir(t)
	o := create(t, d, Spec{Kind: abi.KindQueue, Ring: 256})
	guard := create(t, d, Spec{Kind: abi.KindLock}).Lock()
	q, _ := o.Queue()
	r := rand.New(rand.NewPCG(1, 2))
	mem := d.a.mem[o.off : o.off+o.size]
	for range 2000 {
		for range 4 {
			i := r.IntN(qHeader + 16)
			mem[i] = byte(r.Uint32())
		}
		// The queue's own lock words may be scribbled into "held";
		// only the operations' memory safety is under test here.
		atomic.StoreUint32(q.putLock.state, 0)
		atomic.StoreUint32(q.getLock.state, 0)
		var got [][]byte
		q.Put(tokA, NoWait, []byte("hello"))
		q.Get(tokB, NoWait, 4, into(&got))
		q.TaskDone()
		q.Len()
	}
	require.Zero(t, guard.Owner(), "the next object is untouched")
}

func TestPipe(t *testing.T) {
	d := newDir(t)
	o := create(t, d, Spec{Kind: abi.KindPipe, Ring: 256, Flags: FlagDuplex})
	p, err := o.Pipe()
	require.NoError(t, err)
	require.NoError(t, p.Send(0, tokA, NoWait, []byte("ping")))
	require.NoError(t, p.Poll(1, NoWait))
	require.ErrorIs(t, p.Poll(0, NoWait), ErrWouldBlock)
	var got [][]byte
	_, err = p.Recv(1, tokB, NoWait, into(&got))
	require.NoError(t, err)
	require.NoError(t, p.Send(1, tokB, NoWait, []byte("pong")))
	_, err = p.Recv(0, tokA, NoWait, into(&got))
	require.NoError(t, err)
	require.Equal(t, "pingpong", string(bytes.Join(got, nil)))

	// The death of end 1's owner closes it: end 0 drains, then EOF.
	p.Own(1, tokB)
	p.Send(1, tokB, NoWait, []byte("bye"))
	d.a.Recover(func(t Token) bool { return t == tokB }, MakeToken(ParentParticipant, 0))
	require.True(t, p.EndClosed(1))
	_, err = p.Recv(0, tokA, Forever, into(&got))
	require.NoError(t, err)
	_, err = p.Recv(0, tokA, Forever, into(&got))
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, p.Send(0, tokA, Forever, []byte("x")), ErrClosed)

	one, err := create(t, d, Spec{Kind: abi.KindPipe, Ring: 256}).Pipe()
	require.NoError(t, err)
	require.ErrorIs(t, one.Send(0, tokA, NoWait, nil), ErrNotSupported)
	require.NoError(t, one.Send(1, tokA, NoWait, []byte("x")))
	_, err = one.Recv(1, tokA, NoWait, into(&got))
	require.ErrorIs(t, err, ErrNotSupported)
	_, err = one.Recv(0, tokA, NoWait, into(&got))
	require.NoError(t, err)
}
