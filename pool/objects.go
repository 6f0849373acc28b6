package pool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/wasmpool/wasmpool/abi"
	"github.com/wasmpool/wasmpool/internal/shm"
)

// Errors of the shared objects (queues, pipes, locks and the rest).
// Blocking methods take a context: when it is done they return its error
// (context.DeadlineExceeded at its deadline) and leave the object as it
// was.
var (
	// ErrFull is returned by TryPut on a full queue.
	ErrFull = errors.New("pool: queue full")
	// ErrEmpty is returned by TryGet on an empty queue.
	ErrEmpty = errors.New("pool: queue empty")
	// ErrWouldBlock is returned by the Try methods of locks and
	// semaphores that would have to wait.
	ErrWouldBlock = errors.New("pool: would block")
	// ErrQueueClosed is returned by Put on a closed queue, and by Get once
	// a closed queue is empty.
	ErrQueueClosed = errors.New("pool: queue closed")
	// ErrPipeClosed is returned by Send when either end of the pipe is
	// closed. Recv returns io.EOF once the other end is closed and
	// everything it sent was received.
	ErrPipeClosed = errors.New("pool: pipe closed")
	// ErrOwnerDied is returned by Acquire with the lock acquired when its
	// previous owner — a guest instance or process, or a worker —
	// ended while holding it: what it protects may be half updated.
	ErrOwnerDied = errors.New("pool: lock acquired; its previous owner died holding it")
	// ErrNotOwner is returned when releasing (or waiting on) a lock the
	// caller does not hold.
	ErrNotOwner = errors.New("pool: lock not held by the caller")
	// ErrOverRelease is returned by a BoundedSemaphore released above its
	// bound, and by TaskDone called more often than Put.
	ErrOverRelease = errors.New("pool: released more times than acquired")
	// ErrBrokenBarrier is returned by Barrier.Wait on a broken barrier.
	ErrBrokenBarrier = errors.New("pool: barrier broken")
	// ErrMessageTooLarge is returned for a message larger than the
	// queue's or pipe's largest message.
	ErrMessageTooLarge = errors.New("pool: message too large")
	// ErrTooManyWaiters is returned by a Condition or Barrier that already
	// has 64 (Condition) or 128 (Barrier) waiters.
	ErrTooManyWaiters = errors.New("pool: too many waiters")
	// ErrExists is returned when creating an object under a name in use.
	ErrExists = errors.New("pool: an object of that name exists")
	// ErrNotFound is returned when opening a name no object has, or one of
	// another kind.
	ErrNotFound = errors.New("pool: no such object")
	// ErrNoSpace is returned when the arena or its table is full (see
	// Config.ArenaSize and Config.MaxObjects).
	ErrNoSpace = errors.New("pool: no room for another shared object")
	// ErrCorrupt is returned when an object's shared state is
	// inconsistent: a process wrote over it.
	ErrCorrupt = errors.New("pool: shared object state is inconsistent")
)

// objErr converts the errors of package shm for a caller that waited
// under ctx, with eof the error for a closed queue or pipe: the one place
// that does.
func objErr(ctx context.Context, err error, closed error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, shm.ErrTimeout):
		return context.DeadlineExceeded
	case errors.Is(err, shm.ErrStopped):
		return ErrClosed
	case errors.Is(err, shm.ErrCanceled):
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return context.Canceled
	case errors.Is(err, shm.ErrWouldBlock):
		return ErrWouldBlock
	case errors.Is(err, shm.ErrClosed):
		return closed
	case errors.Is(err, shm.ErrOwnerDied):
		return ErrOwnerDied
	case errors.Is(err, shm.ErrNotOwner):
		return ErrNotOwner
	case errors.Is(err, shm.ErrOverRelease):
		return ErrOverRelease
	case errors.Is(err, shm.ErrBroken):
		return ErrBrokenBarrier
	case errors.Is(err, shm.ErrTooLarge):
		return ErrMessageTooLarge
	case errors.Is(err, shm.ErrTooMany):
		return ErrTooManyWaiters
	case errors.Is(err, shm.ErrExists):
		return ErrExists
	case errors.Is(err, shm.ErrNotFound), errors.Is(err, shm.ErrBadHandle):
		return ErrNotFound
	case errors.Is(err, shm.ErrNoSpace):
		return ErrNoSpace
	case errors.Is(err, shm.ErrCorrupt):
		return ErrCorrupt
	}
	return err
}

// waitFor turns ctx into a shm.Wait: its deadline is the timeout, its end
// or the pool's Close stops the wait.
func (o object) waitFor(ctx context.Context) shm.Wait {
	wt := shm.Wait{Ctx: ctx, Stop: o.p.done, Timeout: -1}
	if dl, ok := ctx.Deadline(); ok {
		wt.Timeout = max(time.Until(dl), 1)
	}
	return wt
}

// gate admits parent-side calls on objects until the pool closes. Close
// shuts it, which waits for the calls under way (a blocked one wakes
// within 20 ms of Close: its Wait stops on the pool's done channel), and
// only then unmaps the arena: a handle used after Close gets ErrClosed
// instead of touching unmapped memory.
type gate struct {
	mu     sync.RWMutex
	closed bool
}

func (g *gate) enter() bool {
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return false
	}
	return true
}

func (g *gate) leave() { g.mu.RUnlock() }

func (g *gate) shut() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

// enter admits a call on o's arena, or reports false once the pool has
// closed; leave ends the call.
func (o object) enter() bool { return o.p.objGate.enter() }
func (o object) leave()      { o.p.objGate.leave() }

// object is what every parent-side handle holds: the object and the token
// this handle acts as. Tokens belong to handle values, not goroutines (Go
// has none): two goroutines that share a Lock handle share its ownership.
type object struct {
	p   *Pool
	obj shm.Object
	tok shm.Token
}

func (p *Pool) create(s shm.Spec) (object, error) {
	if p.isClosed() {
		return object{}, ErrClosed
	}
	o, err := p.objects.Create(s)
	if err != nil {
		if errors.Is(err, shm.ErrExists) || errors.Is(err, shm.ErrNoSpace) {
			return object{}, objErr(nil, err, nil)
		}
		return object{}, fmt.Errorf("pool: %s: %w", s.Kind, err)
	}
	return object{p: p, obj: o, tok: p.newLocal()}, nil
}

// createForGuest creates an object a guest asked for (object_create),
// with the defaults the parent's constructors apply. Pipes are refused:
// their ends are handed out by the parent (NewPipe). Spec errors wrap
// shm.ErrInvalid, which the guest sees as EINVAL.
func (p *Pool) createForGuest(s shm.Spec) (shm.Handle, error) {
	if p.isClosed() {
		return 0, shm.ErrClosed
	}
	allowed := uint32(0)
	switch s.Kind {
	case abi.KindQueue:
		allowed = shm.FlagJoinable
		if s.Ring == 0 {
			s.Ring = 1 << 20
		}
	case abi.KindSemaphore:
		allowed = shm.FlagBounded
		if s.Flags&shm.FlagBounded != 0 && s.Bound == 0 {
			s.Bound = s.Value
		}
	case abi.KindLock, abi.KindRLock, abi.KindEvent, abi.KindCondition, abi.KindBarrier:
	default:
		return 0, fmt.Errorf("%w: a guest cannot create a %s", shm.ErrInvalid, s.Kind)
	}
	if s.Flags&^allowed != 0 {
		return 0, fmt.Errorf("%w: flags %#x for a %s", shm.ErrInvalid, s.Flags, s.Kind)
	}
	if s.Kind == abi.KindSemaphore && (s.Value > 1<<31 || s.Flags&shm.FlagBounded != 0 && (s.Bound < 1 || s.Value > s.Bound)) {
		return 0, fmt.Errorf("%w: semaphore value %d, bound %d", shm.ErrInvalid, s.Value, s.Bound)
	}
	size, err := s.Size()
	if err != nil {
		return 0, fmt.Errorf("%w: %w", shm.ErrInvalid, err)
	}
	size += 64 // the most alignment an object costs
	// The quota is held while the object is made, so that concurrent
	// creates cannot pass it together.
	p.guestMu.Lock()
	defer p.guestMu.Unlock()
	if p.guestObjects >= p.cfg.MaxGuestObjects || size > uint64(p.cfg.MaxGuestObjectBytes)-min(p.guestBytes, uint64(p.cfg.MaxGuestObjectBytes)) {
		return 0, fmt.Errorf("%w: guests have created %d objects of %d bytes (Config.MaxGuestObjects %d, MaxGuestObjectBytes %d)",
			shm.ErrNoSpace, p.guestObjects, p.guestBytes, p.cfg.MaxGuestObjects, p.cfg.MaxGuestObjectBytes)
	}
	o, err := p.objects.Create(s)
	if err != nil && !errors.Is(err, shm.ErrExists) && !errors.Is(err, shm.ErrNoSpace) {
		err = fmt.Errorf("%w: %w", shm.ErrInvalid, err)
	}
	if err == nil {
		p.guestObjects++
		p.guestBytes += size
	}
	return o.Handle, err
}

func (p *Pool) open(name string, kind abi.ObjectKind) (object, error) {
	if p.isClosed() {
		return object{}, ErrClosed
	}
	o, err := p.arena.Lookup(name)
	if err != nil || o.Kind != kind {
		return object{}, fmt.Errorf("%w: %s %q", ErrNotFound, kind, name)
	}
	return object{p: p, obj: o, tok: p.newLocal()}, nil
}

// Name returns the object's name, "" for an anonymous one.
func (o object) Name() string { return o.obj.Name }

// Ref returns a reference to the object to pass to a guest as a process
// argument or inside a task input; the guest opens it with the SDK's
// QueueArg, LockArg and friends.
func (o object) Ref() []byte {
	return abi.AppendRef(nil, abi.Ref{Kind: o.obj.Kind, Handle: uint32(o.obj.Handle)})
}

// QueueConfig configures a queue. The zero value is a queue of 1 MiB
// holding up to 1 MiB messages, with no limit on their number but the
// bytes.
type QueueConfig struct {
	// MaxMessages bounds the number of messages; 0 means only bytes
	// bound it.
	MaxMessages int
	// MaxBytes bounds the bytes held, each message counting 4 bytes more
	// than its length; rounded up to a power of two. 0 means 1 MiB.
	MaxBytes int
	// MaxMessageSize bounds one message; 0 means MaxBytes - 4.
	MaxMessageSize int
	// Joinable adds TaskDone and Join (Python's JoinableQueue).
	Joinable bool
}

// Queue is a bounded queue of byte messages shared by the parent and every
// guest of the pool, across worker processes: many producers, many
// consumers, FIFO. Its methods are safe for concurrent use. A message is
// wholly in the queue or not, whoever dies when.
type Queue struct {
	object
	q shm.Queue // the view of the queue in the arena
}

// NewQueue creates a queue; name may be "" for an anonymous queue, which
// guests reach through Ref. The queue lives as long as the pool.
func (p *Pool) NewQueue(name string, cfg QueueConfig) (*Queue, error) {
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = 1 << 20
	}
	var flags uint32
	if cfg.Joinable {
		flags = shm.FlagJoinable
	}
	o, err := p.create(shm.Spec{Kind: abi.KindQueue, Name: name, Flags: flags,
		MaxMessages: cfg.MaxMessages, Ring: cfg.MaxBytes, MaxMessage: cfg.MaxMessageSize})
	if err != nil {
		return nil, err
	}
	return queueOf(o), nil
}

// NewSimpleQueue creates an anonymous queue with the default
// configuration (Python's SimpleQueue).
func (p *Pool) NewSimpleQueue() (*Queue, error) { return p.NewQueue("", QueueConfig{}) }

// OpenQueue opens the queue named name.
func (p *Pool) OpenQueue(name string) (*Queue, error) {
	o, err := p.open(name, abi.KindQueue)
	if err != nil {
		return nil, err
	}
	return queueOf(o), nil
}

func queueOf(o object) *Queue {
	v, _ := o.obj.Queue() // validated when created or opened: never fails
	return &Queue{o, v}
}

// view returns the queue in the arena; the caller is inside the gate.
func (q *Queue) view() *shm.Queue { return &q.q }

// Put appends msg (copied), waiting while the queue is full.
func (q *Queue) Put(ctx context.Context, msg []byte) error {
	if !q.enter() {
		return ErrClosed
	}
	defer q.leave()
	_, err := q.view().Put(q.tok, q.waitFor(ctx), msg)
	return objErr(ctx, err, ErrQueueClosed)
}

// TryPut appends msg if there is room now, or returns ErrFull.
func (q *Queue) TryPut(msg []byte) error {
	if !q.enter() {
		return ErrClosed
	}
	defer q.leave()
	_, err := q.view().Put(q.tok, shm.NoWait, msg)
	if errors.Is(err, shm.ErrWouldBlock) {
		return ErrFull
	}
	return objErr(context.Background(), err, ErrQueueClosed)
}

// PutBatch appends msgs in order, taking the queue's lock once for as many
// as fit, and returns how many it put before an error.
func (q *Queue) PutBatch(ctx context.Context, msgs [][]byte) (int, error) {
	if !q.enter() {
		return 0, ErrClosed
	}
	defer q.leave()
	n, err := q.view().Put(q.tok, q.waitFor(ctx), msgs...)
	return n, objErr(ctx, err, ErrQueueClosed)
}

func copySink(out *[][]byte) shm.Sink {
	return func(n int) []byte {
		b := make([]byte, n)
		*out = append(*out, b)
		return b
	}
}

// Get removes the oldest message, waiting while the queue is empty.
func (q *Queue) Get(ctx context.Context) ([]byte, error) {
	if !q.enter() {
		return nil, ErrClosed
	}
	defer q.leave()
	var got [][]byte
	_, err := q.view().Get(q.tok, q.waitFor(ctx), 1, copySink(&got))
	if err != nil {
		return nil, objErr(ctx, err, ErrQueueClosed)
	}
	return got[0], nil
}

// TryGet removes the oldest message if there is one, or returns ErrEmpty.
func (q *Queue) TryGet() ([]byte, error) {
	if !q.enter() {
		return nil, ErrClosed
	}
	defer q.leave()
	var got [][]byte
	_, err := q.view().Get(q.tok, shm.NoWait, 1, copySink(&got))
	if errors.Is(err, shm.ErrWouldBlock) {
		return nil, ErrEmpty
	}
	if err != nil {
		return nil, objErr(context.Background(), err, ErrQueueClosed)
	}
	return got[0], nil
}

// GetBatch removes up to max messages, waiting for the first.
func (q *Queue) GetBatch(ctx context.Context, max int) ([][]byte, error) {
	if !q.enter() {
		return nil, ErrClosed
	}
	defer q.leave()
	var got [][]byte
	_, err := q.view().Get(q.tok, q.waitFor(ctx), max, copySink(&got))
	return got, objErr(ctx, err, ErrQueueClosed)
}

// Len returns the number of messages in the queue (approximate, as
// Python's qsize).
func (q *Queue) Len() int {
	if !q.enter() {
		return 0
	}
	defer q.leave()
	return max(q.view().Len(), 0)
}

// Close closes the queue for everyone: Put fails with ErrQueueClosed, Get
// drains what is left and then fails with ErrQueueClosed, and every
// blocked caller wakes. It is idempotent.
func (q *Queue) Close() error {
	if !q.enter() {
		return nil
	}
	defer q.leave()
	q.view().Close()
	return nil
}

// TaskDone marks one message as processed (Joinable queues).
func (q *Queue) TaskDone() error {
	if !q.enter() {
		return ErrClosed
	}
	defer q.leave()
	return objErr(context.Background(), q.view().TaskDone(), ErrQueueClosed)
}

// Join waits until every message put has been marked done.
func (q *Queue) Join(ctx context.Context) error {
	if !q.enter() {
		return ErrClosed
	}
	defer q.leave()
	return objErr(ctx, q.view().Join(q.waitFor(ctx)), ErrQueueClosed)
}

// PutValue puts v encoded as CBOR; guests read it with typed.Get (package guest/typed).
func PutValue[T any](ctx context.Context, q *Queue, v T) error {
	b, err := cbor.Marshal(v)
	if err != nil {
		return err
	}
	return q.Put(ctx, b)
}

// GetValue gets a message and decodes it from CBOR.
func GetValue[T any](ctx context.Context, q *Queue) (T, error) {
	var v T
	b, err := q.Get(ctx)
	if err != nil {
		return v, err
	}
	return v, cbor.Unmarshal(b, &v)
}

// Conn is one end of a Pipe, like Python's Connection. Its methods are
// safe for concurrent use.
type Conn struct {
	object
	end  int
	pipe shm.Pipe // the view of the pipe in the arena
}

// NewPipe returns the two ends of a new pipe whose directions each hold
// up to maxBytes (0 means 1 MiB). A duplex pipe sends both ways; with
// duplex false, the first end only receives and the second only sends,
// as Python's Pipe(duplex=False). Pass an end to a guest with Ref;
// closing an end — or the end of the guest that opened it — gives the
// other end io.EOF after what was sent. A guest that dies before it opens
// its end never owned it: the end stays open, so a parent waiting on the
// other end should also watch the Process (Done).
func (p *Pool) NewPipe(duplex bool, maxBytes int) (*Conn, *Conn, error) {
	if maxBytes == 0 {
		maxBytes = 1 << 20
	}
	var flags uint32
	if duplex {
		flags = shm.FlagDuplex
	}
	o, err := p.create(shm.Spec{Kind: abi.KindPipe, Flags: flags, Ring: maxBytes})
	if err != nil {
		return nil, nil, err
	}
	pv, _ := o.obj.Pipe() // just created: never fails
	pv.Own(0, o.tok)
	o1 := o
	o1.tok = p.newLocal()
	pv.Own(1, o1.tok)
	return &Conn{o, 0, pv}, &Conn{o1, 1, pv}, nil
}

// view returns the pipe in the arena; the caller is inside the gate.
func (c *Conn) view() *shm.Pipe { return &c.pipe }

// Ref returns a reference to this end, for a guest's ConnArg. The guest
// that opens it owns the end from then on.
func (c *Conn) Ref() []byte {
	return abi.AppendRef(nil, abi.Ref{Kind: abi.KindPipe, Handle: uint32(c.obj.Handle), End: uint32(c.end)})
}

// Send sends msg (copied), waiting while the pipe is full.
func (c *Conn) Send(ctx context.Context, msg []byte) error {
	if !c.enter() {
		return ErrClosed
	}
	defer c.leave()
	err := c.view().Send(c.end, c.tok, c.waitFor(ctx), msg)
	if errors.Is(err, shm.ErrNotSupported) {
		return errors.New("pool: this end of a one-way pipe only receives")
	}
	return objErr(ctx, err, ErrPipeClosed)
}

// Recv receives one message, waiting for it; io.EOF once the other end is
// closed and everything it sent was received.
func (c *Conn) Recv(ctx context.Context) ([]byte, error) {
	if !c.enter() {
		return nil, ErrClosed
	}
	defer c.leave()
	var got [][]byte
	_, err := c.view().Recv(c.end, c.tok, c.waitFor(ctx), copySink(&got))
	if errors.Is(err, shm.ErrNotSupported) {
		return nil, errors.New("pool: this end of a one-way pipe only sends")
	}
	if err != nil {
		return nil, objErr(ctx, err, io.EOF)
	}
	return got[0], nil
}

// Poll reports whether Recv would return at once (a message, or io.EOF),
// waiting up to timeout; 0 does not wait.
func (c *Conn) Poll(timeout time.Duration) bool {
	if !c.enter() {
		return false
	}
	defer c.leave()
	err := c.view().Poll(c.end, shm.Wait{Stop: c.p.done, Timeout: max(timeout, 0)})
	return err == nil || errors.Is(err, shm.ErrClosed)
}

// Close closes this end. It is idempotent.
func (c *Conn) Close() error {
	if !c.enter() {
		return nil
	}
	defer c.leave()
	c.view().CloseEnd(c.end)
	return nil
}

// Lock is a lock shared by the parent and every guest of the pool
// (Python's Lock; NewRLock makes the reentrant kind). Ownership belongs to
// the Lock value: Go has no goroutine identity, so goroutines sharing one
// value share ownership; open the lock again (OpenLock) for a separate
// owner.
type Lock struct{ object }

// NewLock creates a lock; name may be "".
func (p *Pool) NewLock(name string) (*Lock, error) { return p.newLock(name, abi.KindLock) }

// NewRLock creates a reentrant lock: its owner may acquire it again and
// must release it as many times.
func (p *Pool) NewRLock(name string) (*Lock, error) { return p.newLock(name, abi.KindRLock) }

func (p *Pool) newLock(name string, kind abi.ObjectKind) (*Lock, error) {
	o, err := p.create(shm.Spec{Kind: kind, Name: name})
	if err != nil {
		return nil, err
	}
	return &Lock{o}, nil
}

// OpenLock opens the Lock or RLock named name as a new owner.
func (p *Pool) OpenLock(name string) (*Lock, error) {
	o, err := p.open(name, abi.KindLock)
	if errors.Is(err, ErrNotFound) {
		o, err = p.open(name, abi.KindRLock)
	}
	if err != nil {
		return nil, err
	}
	return &Lock{o}, nil
}

// Acquire takes the lock, waiting for it. ErrOwnerDied means the lock is
// taken but its previous owner died holding it. On a context error the
// lock is not taken.
func (l *Lock) Acquire(ctx context.Context) error {
	if !l.enter() {
		return ErrClosed
	}
	defer l.leave()
	return objErr(ctx, l.obj.Lock().Acquire(l.tok, l.waitFor(ctx)), nil)
}

// TryAcquire takes the lock if it is free, or returns ErrWouldBlock.
func (l *Lock) TryAcquire() error {
	if !l.enter() {
		return ErrClosed
	}
	defer l.leave()
	return objErr(context.Background(), l.obj.Lock().Acquire(l.tok, shm.NoWait), nil)
}

// Release releases the lock, or returns ErrNotOwner.
func (l *Lock) Release() error {
	if !l.enter() {
		return ErrClosed
	}
	defer l.leave()
	return objErr(context.Background(), l.obj.Lock().Release(l.tok), nil)
}

// Semaphore is a counting semaphore shared by the parent and every guest
// (Python's Semaphore and BoundedSemaphore). It does not record holders:
// units held by a guest that dies are not given back.
type Semaphore struct{ object }

// NewSemaphore creates a semaphore with value units; name may be "".
func (p *Pool) NewSemaphore(name string, value int) (*Semaphore, error) {
	if value < 0 || value > 1<<31 {
		return nil, fmt.Errorf("pool: semaphore value %d out of range", value)
	}
	o, err := p.create(shm.Spec{Kind: abi.KindSemaphore, Name: name, Value: uint32(value)})
	if err != nil {
		return nil, err
	}
	return &Semaphore{o}, nil
}

// NewBoundedSemaphore creates a semaphore that refuses, with
// ErrOverRelease, to be released above its initial value.
func (p *Pool) NewBoundedSemaphore(name string, value int) (*Semaphore, error) {
	if value < 1 || value > 1<<31 {
		return nil, fmt.Errorf("pool: bounded semaphore value %d out of range", value)
	}
	o, err := p.create(shm.Spec{Kind: abi.KindSemaphore, Name: name, Flags: shm.FlagBounded, Value: uint32(value), Bound: uint32(value)})
	if err != nil {
		return nil, err
	}
	return &Semaphore{o}, nil
}

// OpenSemaphore opens the semaphore named name.
func (p *Pool) OpenSemaphore(name string) (*Semaphore, error) {
	o, err := p.open(name, abi.KindSemaphore)
	if err != nil {
		return nil, err
	}
	return &Semaphore{o}, nil
}

// Acquire takes one unit, waiting while there is none.
func (s *Semaphore) Acquire(ctx context.Context) error {
	if !s.enter() {
		return ErrClosed
	}
	defer s.leave()
	return objErr(ctx, s.obj.Semaphore().Acquire(s.waitFor(ctx)), nil)
}

// TryAcquire takes one unit if there is one, or returns ErrWouldBlock.
func (s *Semaphore) TryAcquire() error {
	if !s.enter() {
		return ErrClosed
	}
	defer s.leave()
	return objErr(context.Background(), s.obj.Semaphore().Acquire(shm.NoWait), nil)
}

// Release gives back n units (n ≥ 1).
func (s *Semaphore) Release(n int) error {
	if !s.enter() {
		return ErrClosed
	}
	defer s.leave()
	if n < 1 || n > 1<<30 {
		return fmt.Errorf("pool: semaphore release of %d", n)
	}
	return objErr(context.Background(), s.obj.Semaphore().Release(uint32(n)), nil)
}

// Value returns the number of units available now.
func (s *Semaphore) Value() int {
	if !s.enter() {
		return 0
	}
	defer s.leave()
	return int(s.obj.Semaphore().Value())
}

// Event is a flag shared by the parent and every guest (Python's Event).
type Event struct{ object }

// NewEvent creates an event, clear; name may be "".
func (p *Pool) NewEvent(name string) (*Event, error) {
	o, err := p.create(shm.Spec{Kind: abi.KindEvent, Name: name})
	if err != nil {
		return nil, err
	}
	return &Event{o}, nil
}

// OpenEvent opens the event named name.
func (p *Pool) OpenEvent(name string) (*Event, error) {
	o, err := p.open(name, abi.KindEvent)
	if err != nil {
		return nil, err
	}
	return &Event{o}, nil
}

// Set sets the flag and wakes every waiter.
func (e *Event) Set() {
	if !e.enter() {
		return
	}
	defer e.leave()
	e.obj.Event().Set()
}

// Clear clears the flag.
func (e *Event) Clear() {
	if !e.enter() {
		return
	}
	defer e.leave()
	e.obj.Event().Clear()
}

// IsSet reports whether the flag is set.
func (e *Event) IsSet() bool {
	if !e.enter() {
		return false
	}
	defer e.leave()
	return e.obj.Event().IsSet()
}

// Wait waits until the flag is set.
func (e *Event) Wait(ctx context.Context) error {
	if !e.enter() {
		return ErrClosed
	}
	defer e.leave()
	return objErr(ctx, e.obj.Event().Wait(e.waitFor(ctx)), nil)
}

// Condition is a condition variable with its own reentrant lock, shared by
// the parent and every guest (Python's Condition()). Ownership of its lock
// belongs to the Condition value, as with Lock. At most 64 callers wait at
// once.
type Condition struct{ object }

// NewCondition creates a condition; name may be "".
func (p *Pool) NewCondition(name string) (*Condition, error) {
	o, err := p.create(shm.Spec{Kind: abi.KindCondition, Name: name})
	if err != nil {
		return nil, err
	}
	return &Condition{o}, nil
}

// OpenCondition opens the condition named name as a new owner.
func (p *Pool) OpenCondition(name string) (*Condition, error) {
	o, err := p.open(name, abi.KindCondition)
	if err != nil {
		return nil, err
	}
	return &Condition{o}, nil
}

// Acquire takes the condition's lock.
func (c *Condition) Acquire(ctx context.Context) error {
	if !c.enter() {
		return ErrClosed
	}
	defer c.leave()
	return objErr(ctx, c.obj.Condition().Acquire(c.tok, c.waitFor(ctx)), nil)
}

// Release releases the condition's lock.
func (c *Condition) Release() error {
	if !c.enter() {
		return ErrClosed
	}
	defer c.leave()
	return objErr(context.Background(), c.obj.Condition().Release(c.tok), nil)
}

// Wait releases the lock, waits for a notification and takes the lock
// back before it returns — also when ctx's deadline passes first, which it
// reports as context.DeadlineExceeded. A canceled ctx returns without the
// lock.
func (c *Condition) Wait(ctx context.Context) error {
	if !c.enter() {
		return ErrClosed
	}
	defer c.leave()
	return objErr(ctx, c.obj.Condition().Wait(c.tok, c.waitFor(ctx)), nil)
}

// Notify wakes up to n waiters, oldest first; the caller holds the lock.
func (c *Condition) Notify(n int) error {
	if !c.enter() {
		return ErrClosed
	}
	defer c.leave()
	return objErr(context.Background(), c.obj.Condition().Notify(c.tok, n), nil)
}

// NotifyAll wakes every waiter; the caller holds the lock.
func (c *Condition) NotifyAll() error { return c.Notify(1 << 30) }

// Barrier makes a fixed number of parties wait for each other, across the
// parent and guests (Python's Barrier).
type Barrier struct{ object }

// NewBarrier creates a barrier for parties (1..64) parties; name may be "".
func (p *Pool) NewBarrier(name string, parties int) (*Barrier, error) {
	o, err := p.create(shm.Spec{Kind: abi.KindBarrier, Name: name, Parties: parties})
	if err != nil {
		return nil, err
	}
	return &Barrier{o}, nil
}

// OpenBarrier opens the barrier named name.
func (p *Pool) OpenBarrier(name string) (*Barrier, error) {
	o, err := p.open(name, abi.KindBarrier)
	if err != nil {
		return nil, err
	}
	return &Barrier{o}, nil
}

// Wait waits until every party waits and returns this caller's arrival
// index (0 for the first). ErrBrokenBarrier if the barrier is or becomes
// broken — by Abort, Reset, a waiter's deadline or the death of a waiting
// guest. A deadline reached here breaks the barrier for the others too.
func (b *Barrier) Wait(ctx context.Context) (int, error) {
	if !b.enter() {
		return 0, ErrClosed
	}
	defer b.leave()
	i, err := b.obj.Barrier().Wait(b.tok, b.waitFor(ctx))
	return i, objErr(ctx, err, nil)
}

// Abort breaks the barrier.
func (b *Barrier) Abort() error {
	if !b.enter() {
		return ErrClosed
	}
	defer b.leave()
	return objErr(context.Background(), b.obj.Barrier().Abort(b.tok), nil)
}

// Reset returns the barrier to its empty state; current waiters get
// ErrBrokenBarrier.
func (b *Barrier) Reset() error {
	if !b.enter() {
		return ErrClosed
	}
	defer b.leave()
	return objErr(context.Background(), b.obj.Barrier().Reset(b.tok), nil)
}

// Parties returns the number of parties.
func (b *Barrier) Parties() int {
	if !b.enter() {
		return 0
	}
	defer b.leave()
	return b.obj.Barrier().Parties()
}

// Broken reports whether the barrier is broken.
func (b *Barrier) Broken() bool {
	if !b.enter() {
		return false
	}
	defer b.leave()
	return b.obj.Barrier().Broken()
}
