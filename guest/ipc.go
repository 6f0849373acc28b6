package guest

import (
	"encoding/binary"
	"time"

	"github.com/wasmpool/wasmpool/abi"
)

// Forever, as a timeout, blocks without limit. A timeout of 0 does not
// block: the call fails with ErrWouldBlock instead.
const Forever time.Duration = -1

// The errors of shared-object calls. They are abi.Errno values, so
// errors.Is works with either name.
var (
	ErrWouldBlock  error = abi.EAGAIN     // a zero timeout and the call would block
	ErrTimeout     error = abi.ETIMEDOUT  // the timeout passed
	ErrClosed      error = abi.EPIPE      // the queue or the other pipe end is closed
	ErrOwnerDied   error = abi.EOWNERDEAD // acquired; the previous owner died holding it
	ErrNotOwner    error = abi.EPERM      // released or waited on a lock the caller does not hold
	ErrOverRelease error = abi.EOVERFLOW  // a bounded semaphore or task_done released too often
	ErrBroken      error = abi.EBROKEN    // the barrier is broken
	ErrTooLarge    error = abi.EMSGSIZE   // the message is larger than the queue's maximum
	ErrNotFound    error = abi.ENOENT     // no object of that name
	ErrBadHandle   error = abi.EBADF      // closed, of another kind, or the wrong pipe end
)

// errorOf converts an errno to an error: the one place the SDK does.
func errorOf(e uint32) error {
	if e == 0 {
		return nil
	}
	return abi.Errno(e)
}

func ns(d time.Duration) int64 {
	if d < 0 {
		return -1
	}
	return int64(d)
}

// handle is an instance-local handle of a shared object.
type handle uint32

func open(kind abi.ObjectKind, name string) (handle, error) {
	h, e := objectOpen(kind, []byte(name), false)
	return h, errorOf(e)
}

func openRef(kind abi.ObjectKind, ref []byte) (handle, error) {
	h, e := objectOpen(kind, ref, true)
	return h, errorOf(e)
}

// Queue is a handle to a pool queue: bounded, many producers and many
// consumers across worker processes and the parent. Messages are bytes;
// package guest/typed adds CBOR. A Queue is used by one goroutine at a
// time (an instance runs one call at a time); a blocked call blocks the
// whole instance.
type Queue struct {
	h     handle
	buf   []byte   // receive buffer, grown on demand
	enc   []byte   // PutBatch's encoding, kept between calls
	views [][]byte // GetBatchView's result, kept between calls
}

// OpenQueue opens the queue the pool created with name.
func OpenQueue(name string) (*Queue, error) {
	h, err := open(abi.KindQueue, name)
	return &Queue{h: h}, err
}

// QueueArg opens the queue a parent passed as an argument or input (a
// reference made by the pool's Queue.Ref).
func QueueArg(ref []byte) (*Queue, error) {
	h, err := openRef(abi.KindQueue, ref)
	return &Queue{h: h}, err
}

// Put appends msg, waiting up to timeout while the queue is full.
func (q *Queue) Put(msg []byte, timeout time.Duration) error {
	return errorOf(queuePut(q.h, msg, ns(timeout)))
}

// PutBatch appends msgs in order with one host call, waiting up to timeout
// in all for room. It returns how many it put.
func (q *Queue) PutBatch(msgs [][]byte, timeout time.Duration) (int, error) {
	q.enc = abi.AppendList(q.enc[:0], msgs)
	n, e := queuePutBatch(q.h, q.enc, ns(timeout))
	return int(n), errorOf(e)
}

// Get removes the oldest message, waiting up to timeout while the queue is
// empty, and returns a copy of it. It returns ErrClosed once the queue is
// closed and empty.
func (q *Queue) Get(timeout time.Duration) ([]byte, error) {
	msg, err := q.GetView(timeout)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), msg...), nil
}

// GetView is Get without the copy: the message points into q's buffer
// and stays valid until the next Get method called on q. It allocates
// only to grow that buffer for a larger message than any before.
func (q *Queue) GetView(timeout time.Duration) ([]byte, error) {
	if q.buf == nil {
		q.buf = make([]byte, 4096)
	}
	for {
		n, e := queueGet(q.h, q.buf, ns(timeout))
		if e == uint32(abi.EMSGSIZE) && int(n) > len(q.buf) {
			q.buf = make([]byte, n)
			continue
		}
		if e != 0 {
			return nil, errorOf(e)
		}
		return q.buf[:n], nil
	}
}

// GetBatch removes up to max messages with one host call, waiting up to
// timeout for the first, and returns copies of them.
func (q *Queue) GetBatch(max int, timeout time.Duration) ([][]byte, error) {
	views, err := q.GetBatchView(max, timeout)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(views))
	for i, v := range views {
		out[i] = append([]byte(nil), v...)
	}
	return out, nil
}

// GetBatchView is GetBatch without the copies: the slice and the messages
// point into q's buffers and stay valid until the next Get method called
// on q. In a loop it does not allocate once its buffers have grown.
func (q *Queue) GetBatchView(max int, timeout time.Duration) ([][]byte, error) {
	if len(q.buf) < 64<<10 {
		q.buf = make([]byte, 64<<10)
	}
	for {
		n, e := queueGetBatch(q.h, q.buf, max, ns(timeout))
		if e == uint32(abi.EMSGSIZE) {
			q.buf = make([]byte, 2*len(q.buf))
			continue
		}
		if e != 0 {
			return nil, errorOf(e)
		}
		return q.splitBatch(int(n))
	}
}

// splitBatch walks the n messages the host wrote to q.buf as a List
// (which fills only the front of the buffer), checking every length.
func (q *Queue) splitBatch(n int) ([][]byte, error) {
	if uint64(n) != uint64(binary.LittleEndian.Uint32(q.buf)) {
		return nil, abi.EIO
	}
	views, at := q.views[:0], 4
	for range n {
		if at+4 > len(q.buf) {
			return nil, abi.EIO
		}
		size := int(binary.LittleEndian.Uint32(q.buf[at:]))
		at += 4
		if size > len(q.buf)-at {
			return nil, abi.EIO
		}
		views = append(views, q.buf[at:at+size:at+size])
		at += size
	}
	q.views = views
	return views, nil
}

// Info returns the queue's length, limits, closed state and unfinished
// count (JoinableQueue).
func (q *Queue) Info() (abi.QueueInfo, error) {
	var b [abi.QueueInfoSize]byte
	if e := queueInfo(q.h, b[:]); e != 0 {
		return abi.QueueInfo{}, errorOf(e)
	}
	u := func(i int) uint32 { return binary.LittleEndian.Uint32(b[4*i:]) }
	return abi.QueueInfo{Len: u(0), MaxMessages: u(1), Ring: u(2), MaxMessage: u(3), Closed: u(4), Unfinished: u(5)}, nil
}

// Close closes the queue for everyone: puts fail, gets drain and then fail
// with ErrClosed.
func (q *Queue) Close() error { return errorOf(queueClose(q.h)) }

// TaskDone marks one message got from a joinable queue as processed.
func (q *Queue) TaskDone() error { return errorOf(queueTaskDone(q.h)) }

// Join waits up to timeout until every message put was marked done.
func (q *Queue) Join(timeout time.Duration) error { return errorOf(queueJoin(q.h, ns(timeout))) }

// Release closes this handle (not the queue).
func (q *Queue) Release() error { return errorOf(objectClose(q.h)) }

// Conn is one end of a pool pipe, like Python's Connection. Closing it
// — or the end of the instance that opened it — gives the other end EOF
// (ErrClosed) once it has read what was sent. A Conn is used by one
// goroutine at a time (an instance runs one call at a time): Recv and
// RecvView share one buffer, and a blocked call blocks the whole
// instance.
type Conn struct {
	h   handle
	buf []byte
}

// ConnArg opens the pipe end a parent passed as an argument.
func ConnArg(ref []byte) (*Conn, error) {
	h, err := openRef(abi.KindPipe, ref)
	return &Conn{h: h}, err
}

// Send sends msg, waiting up to timeout for room.
func (c *Conn) Send(msg []byte, timeout time.Duration) error {
	return errorOf(pipeSend(c.h, msg, ns(timeout)))
}

// Recv receives one message, waiting up to timeout, and returns a copy of
// it; ErrClosed once the other end is closed and everything it sent was
// received.
func (c *Conn) Recv(timeout time.Duration) ([]byte, error) {
	msg, err := c.RecvView(timeout)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), msg...), nil
}

// RecvView is Recv without the copy: the message points into c's buffer
// and stays valid until the next Recv or RecvView on c. It allocates only
// to grow that buffer for a larger message than any before.
func (c *Conn) RecvView(timeout time.Duration) ([]byte, error) {
	if c.buf == nil {
		c.buf = make([]byte, 4096)
	}
	for {
		n, e := pipeRecv(c.h, c.buf, ns(timeout))
		if e == uint32(abi.EMSGSIZE) && int(n) > len(c.buf) {
			c.buf = make([]byte, n)
			continue
		}
		if e != 0 {
			return nil, errorOf(e)
		}
		return c.buf[:n], nil
	}
}

// Poll waits up to timeout for a message to receive (or EOF) and reports
// whether Recv would return at once.
func (c *Conn) Poll(timeout time.Duration) (bool, error) {
	switch err := errorOf(pipePoll(c.h, ns(timeout))); err {
	case nil, ErrClosed:
		return true, nil
	case ErrTimeout, ErrWouldBlock:
		return false, nil
	default:
		return false, err
	}
}

// Close closes this end.
func (c *Conn) Close() error { return errorOf(objectClose(c.h)) }

// Lock is a handle to a pool Lock (or RLock, which the same owner may
// acquire again). Ownership belongs to the instance.
type Lock struct{ h handle }

// OpenLock opens the Lock or RLock named name.
func OpenLock(name string, reentrant bool) (*Lock, error) {
	h, err := open(lockKind(reentrant), name)
	return &Lock{h}, err
}

// LockArg opens a Lock or RLock passed as an argument.
func LockArg(ref []byte, reentrant bool) (*Lock, error) {
	h, err := openRef(lockKind(reentrant), ref)
	return &Lock{h}, err
}

func lockKind(reentrant bool) abi.ObjectKind {
	if reentrant {
		return abi.KindRLock
	}
	return abi.KindLock
}

// Acquire takes the lock, waiting up to timeout. ErrOwnerDied means it is
// taken but its previous owner died holding it.
func (l *Lock) Acquire(timeout time.Duration) error {
	return errorOf(lockAcquire(l.h, ns(timeout)))
}

// Release releases the lock; ErrNotOwner if the caller does not hold it.
func (l *Lock) Release() error { return errorOf(lockRelease(l.h)) }

// Semaphore is a handle to a pool Semaphore or BoundedSemaphore.
type Semaphore struct{ h handle }

// OpenSemaphore opens the semaphore named name.
func OpenSemaphore(name string) (*Semaphore, error) {
	h, err := open(abi.KindSemaphore, name)
	return &Semaphore{h}, err
}

// SemaphoreArg opens a semaphore passed as an argument.
func SemaphoreArg(ref []byte) (*Semaphore, error) {
	h, err := openRef(abi.KindSemaphore, ref)
	return &Semaphore{h}, err
}

// Acquire takes one unit, waiting up to timeout.
func (s *Semaphore) Acquire(timeout time.Duration) error {
	return errorOf(semAcquire(s.h, ns(timeout)))
}

// Release gives back n units; ErrOverRelease past a bounded semaphore's
// bound.
func (s *Semaphore) Release(n int) error { return errorOf(semRelease(s.h, uint32(n))) }

// Value returns the current value.
func (s *Semaphore) Value() (int, error) {
	v, e := semValue(s.h)
	return int(v), errorOf(e)
}

// Event is a handle to a pool Event.
type Event struct{ h handle }

// OpenEvent opens the event named name.
func OpenEvent(name string) (*Event, error) {
	h, err := open(abi.KindEvent, name)
	return &Event{h}, err
}

// EventArg opens an event passed as an argument.
func EventArg(ref []byte) (*Event, error) {
	h, err := openRef(abi.KindEvent, ref)
	return &Event{h}, err
}

// Set sets the flag and wakes every waiter.
func (e *Event) Set() error { return errorOf(eventSet(e.h)) }

// Clear clears the flag.
func (e *Event) Clear() error { return errorOf(eventClear(e.h)) }

// IsSet reports whether the flag is set.
func (e *Event) IsSet() (bool, error) {
	v, errno := eventIsSet(e.h)
	return v != 0, errorOf(errno)
}

// Wait waits up to timeout for the flag to be set.
func (e *Event) Wait(timeout time.Duration) error { return errorOf(eventWait(e.h, ns(timeout))) }

// Condition is a handle to a pool Condition, with its own reentrant lock.
type Condition struct{ h handle }

// OpenCondition opens the condition named name.
func OpenCondition(name string) (*Condition, error) {
	h, err := open(abi.KindCondition, name)
	return &Condition{h}, err
}

// ConditionArg opens a condition passed as an argument.
func ConditionArg(ref []byte) (*Condition, error) {
	h, err := openRef(abi.KindCondition, ref)
	return &Condition{h}, err
}

// Acquire takes the condition's lock.
func (c *Condition) Acquire(timeout time.Duration) error {
	return errorOf(lockAcquire(c.h, ns(timeout)))
}

// Release releases the condition's lock.
func (c *Condition) Release() error { return errorOf(lockRelease(c.h)) }

// Wait releases the lock, waits up to timeout for a notification and takes
// the lock back; ErrTimeout when none came.
func (c *Condition) Wait(timeout time.Duration) error { return errorOf(condWait(c.h, ns(timeout))) }

// Notify wakes up to n waiters; the caller holds the lock.
func (c *Condition) Notify(n int) error { return errorOf(condNotify(c.h, int32(n))) }

// NotifyAll wakes every waiter; the caller holds the lock.
func (c *Condition) NotifyAll() error { return errorOf(condNotify(c.h, -1)) }

// Barrier is a handle to a pool Barrier.
type Barrier struct{ h handle }

// OpenBarrier opens the barrier named name.
func OpenBarrier(name string) (*Barrier, error) {
	h, err := open(abi.KindBarrier, name)
	return &Barrier{h}, err
}

// BarrierArg opens a barrier passed as an argument.
func BarrierArg(ref []byte) (*Barrier, error) {
	h, err := openRef(abi.KindBarrier, ref)
	return &Barrier{h}, err
}

// Wait waits up to timeout for every party and returns this caller's
// arrival index; ErrBroken if the barrier breaks.
func (b *Barrier) Wait(timeout time.Duration) (int, error) {
	i, e := barrierWait(b.h, ns(timeout))
	return int(i), errorOf(e)
}

// Abort breaks the barrier.
func (b *Barrier) Abort() error { return errorOf(barrierAbort(b.h)) }

// Reset returns the barrier to its empty state.
func (b *Barrier) Reset() error { return errorOf(barrierReset(b.h)) }
