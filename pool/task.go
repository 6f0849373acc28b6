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
	done func(out []byte, err error, w *workerProc)
	// mergeKey, when not nil, marks a call of one item that may be sent
	// to a worker together with the queued calls of the same key, one
	// guest call each (see workerProc.merge): the one-item calls of one
	// Map or MapUnordered.
	mergeKey any
	// A merged call carries items. answered counts those the worker
	// holding it has answered so far; only that worker's readLoop
	// touches it after send. carrier is, for a call that was merged, the
	// merged call carrying it (under mu).
	items    []*task
	answered int
	carrier  *task

	mu       sync.Mutex
	stopCtx  func() bool // unregisters the context's AfterFunc; see watch
	state    taskState
	w        *workerProc // the worker holding it, while sent
	ran      *workerProc // the last worker it was sent to
	attempts int
	// sent orders the task among the calls its holder was sent, and
	// sentAt is when; under the holder's mu.
	sent   uint64
	sentAt time.Time
}

// claim moves a queued task to worker w.
func (t *task) claim(w *workerProc) bool { return t.take(w, nil) }

// join moves a queued task into merged call c, to be sent by w.
func (t *task) join(c *task, w *workerProc) bool { return t.take(w, c) }

// take moves a queued task to worker w, held by w itself or, when carrier
// is not nil, carried by that merged call.
func (t *task) take(w *workerProc, carrier *task) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.state != stateQueued {
		return false
	}
	t.state, t.ran = stateSent, w
	if carrier == nil {
		t.w = w
	} else {
		t.carrier = carrier
	}
	t.attempts++
	return true
}

// unmerge takes t back from the merged call carrying it, whose worker
// died, and queues it to be sent alone (so an item that kills workers is
// found and fails alone); it reports false if t finished meanwhile.
// forgive undoes the attempt, for a call that never started.
func (t *task) unmerge(forgive bool) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.state != stateSent {
		return false
	}
	t.state, t.carrier, t.mergeKey = stateQueued, nil, nil
	if forgive {
		t.attempts--
	}
	return true
}

// carriedBy returns the merged call carrying t, or nil.
func (t *task) carriedBy() *task {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.carrier
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

// watch sets the function that stops watching the caller's context. The
// context may already be done, and the task finished (by that context, or
// by a Map abandoning it) before watch runs: then it stops watching at once.
func (t *task) watch(stop func() bool) {
	t.mu.Lock()
	if t.state == stateDone {
		t.mu.Unlock()
		stop()
		return
	}
	t.stopCtx = stop
	t.mu.Unlock()
}

// finish completes the task once; later calls report false and do nothing.
func (t *task) finish(out []byte, err error) bool {
	ok, _ := t.settle(out, err)
	return ok
}

// settle is finish that also returns the worker holding the task at that
// moment, read in the same step: a worker that claims the task later
// finds it done and never sends it.
func (t *task) settle(out []byte, err error) (bool, *workerProc) {
	t.mu.Lock()
	if t.state == stateDone {
		t.mu.Unlock()
		return false, nil
	}
	held := t.w
	t.state, t.w = stateDone, nil
	ran, stop := t.ran, t.stopCtx
	t.mu.Unlock()
	if stop != nil {
		stop()
	}
	t.done(out, err, ran)
	return true, held
}

func (t *task) isDone() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.state == stateDone
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

// takeMerge takes, from the front of the queue, up to most tasks with
// mergeKey key and inputs of at most budget bytes in all, leaving at
// least leave tasks queued.
func (q *taskQueue) takeMerge(key any, most, budget, leave int) []*task {
	q.mu.Lock()
	defer q.mu.Unlock()
	var ts []*task
	for len(ts) < most && len(q.items)-q.head > leave && q.items[q.head].mergeKey == key {
		if budget -= len(q.items[q.head].input); budget < 0 {
			break
		}
		ts = append(ts, q.items[q.head])
		q.items[q.head] = nil
		q.head++
	}
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	}
	return ts
}

// pop returns the next task once the queue holds at least minLen() of
// them (minLen is re-read whenever stop's siblings wake it), waiting for a
// push, for recheck, or for stop (then it returns nil).
func (q *taskQueue) pop(stop, recheck <-chan struct{}, minLen func() int, accept func(*task) bool) *task {
	for {
		q.mu.Lock()
		if n := len(q.items) - q.head; n > 0 && n >= minLen() && accept(q.items[q.head]) {
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
		refused := len(q.items)-q.head > 0 && !accept(q.items[q.head])
		if q.wake == nil {
			q.wake = make(chan struct{})
		}
		wake := q.wake
		q.mu.Unlock()
		// A call refused in favour of another worker is looked at again
		// soon, in case that worker took something else meanwhile.
		var retry <-chan time.Time
		if refused {
			retry = time.After(5 * time.Millisecond)
		}
		select {
		case <-wake:
		case <-recheck:
		case <-retry:
		case <-stop:
			return nil
		}
	}
}

// poke wakes every pop to look at the queue again: a worker's load
// changed, so a call it refused may now be its.
func (q *taskQueue) poke() {
	q.mu.Lock()
	q.signal()
	q.mu.Unlock()
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
