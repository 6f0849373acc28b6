package pool

import (
	"sync"
	"time"

	"github.com/wasmpool/wasmpool/abi"
)

type taskState uint8

const (
	stateQueued taskState = iota // in the pool's queue
	stateSent                    // sent to a worker, not answered
	stateDone                    // finished; its callback has run
)

// task is one guest call on its way through the pool: a Submit, a Map
// chunk or a Process.
type task struct {
	id       uint64
	kind     abi.CallKind
	fn       string
	input    []byte // an abi.List
	deadline time.Time
	retries  int
	pool     *Pool
	proc     *Process // for a process call: where its output goes
	// done receives the call's raw output (an abi.Results) or error, and
	// the worker that ran it, exactly once.
	done    func(out []byte, err error, w *workerProc)
	stopCtx func() bool // unregisters the context's AfterFunc

	mu       sync.Mutex
	state    taskState
	w        *workerProc // the worker holding it, while sent
	ran      *workerProc // the last worker it was sent to
	attempts int
}

// claim moves a queued task to worker w.
func (t *task) claim(w *workerProc) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.state != stateQueued {
		return false
	}
	t.state, t.w, t.ran = stateSent, w, w
	t.attempts++
	return true
}

// holder returns the worker holding the task, or nil.
func (t *task) holder() *workerProc {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.state != stateSent {
		return nil
	}
	return t.w
}

// requeue takes the task back from its worker; it reports false if the task
// finished meanwhile. forgive undoes the attempt, for a call that never
// started.
func (t *task) requeue(forgive bool) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.state != stateSent {
		return false
	}
	t.state, t.w = stateQueued, nil
	if forgive {
		t.attempts--
	}
	return true
}

// finish completes the task once; later calls report false and do nothing.
func (t *task) finish(out []byte, err error) bool {
	t.mu.Lock()
	if t.state == stateDone {
		t.mu.Unlock()
		return false
	}
	t.state, t.w = stateDone, nil
	ran := t.ran
	t.mu.Unlock()
	if t.stopCtx != nil {
		t.stopCtx()
	}
	t.done(out, err, ran)
	return true
}

func (t *task) attemptCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.attempts
}

// taskQueue is the pool's FIFO of calls waiting for a worker. Workers pull
// from it when they have room, which balances load without a scheduler.
type taskQueue struct {
	mu    sync.Mutex
	items []*task
	head  int
	wake  chan struct{} // closed by the next push; nil when nobody waits
}

func (q *taskQueue) init() {}

func (q *taskQueue) push(ts ...*task) {
	q.mu.Lock()
	q.items = append(q.items, ts...)
	q.signal()
	q.mu.Unlock()
}

// pushFront queues t ahead of the others: a retried call goes first.
func (q *taskQueue) pushFront(t *task) {
	q.mu.Lock()
	if q.head > 0 {
		q.head--
		q.items[q.head] = t
	} else {
		q.items = append([]*task{t}, q.items...)
	}
	q.signal()
	q.mu.Unlock()
}

func (q *taskQueue) signal() {
	if q.wake != nil {
		close(q.wake)
		q.wake = nil
	}
}

// pop returns the next task once the queue holds at least minLen() of
// them (minLen is re-read whenever stop's siblings wake it), waiting for a
// push, for recheck, or for stop (then it returns nil).
func (q *taskQueue) pop(stop, recheck <-chan struct{}, minLen func() int) *task {
	for {
		q.mu.Lock()
		if n := len(q.items) - q.head; n > 0 && n >= minLen() {
			t := q.items[q.head]
			q.items[q.head] = nil
			q.head++
			if q.head == len(q.items) {
				q.items, q.head = q.items[:0], 0
			} else if q.head > 1024 && q.head > len(q.items)/2 {
				n := copy(q.items, q.items[q.head:])
				clear(q.items[n:])
				q.items, q.head = q.items[:n], 0
			}
			q.mu.Unlock()
			return t
		}
		if q.wake == nil {
			q.wake = make(chan struct{})
		}
		wake := q.wake
		q.mu.Unlock()
		select {
		case <-wake:
		case <-recheck:
		case <-stop:
			return nil
		}
	}
}

// drain empties the queue and returns what it held.
func (q *taskQueue) drain() []*task {
	q.mu.Lock()
	defer q.mu.Unlock()
	ts := append([]*task(nil), q.items[q.head:]...)
	clear(q.items)
	q.items, q.head = q.items[:0], 0
	return ts
}
