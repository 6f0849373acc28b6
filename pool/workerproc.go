package pool

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wasmpool/wasmpool/abi"
	"github.com/wasmpool/wasmpool/internal/shm"
	"github.com/wasmpool/wasmpool/internal/wire"
	"github.com/wasmpool/wasmpool/internal/worker"
)

// StartError reports a worker process that could not be started or did not
// complete its handshake, or (Worker -1) a module whose start-up code did
// not finish within Config.StartTimeout when the parent checked it.
type StartError struct {
	Worker int
	Err    error
	// Stderr is the end of the worker's standard error.
	Stderr string
}

func (e *StartError) Error() string {
	s := fmt.Sprintf("pool: starting worker %d: %v", e.Worker, e.Err)
	if e.Worker < 0 {
		s = fmt.Sprintf("pool: starting: %v", e.Err)
	}
	if e.Stderr != "" {
		s += "\nworker stderr:\n" + e.Stderr
	}
	return s
}

func (e *StartError) Unwrap() error { return e.Err }

// deathGrace is how long readLoop waits, after a worker's results stream
// ends, for the worker's death to be noticed before it ends the worker as
// one that closed or broke the stream itself.
const deathGrace = time.Second

// streamRing is the ring size of each stream between the parent and a
// worker; see RATIONALE.md, "Why do calls and results travel through
// shared memory?".
const streamRing = 256 << 10

// newStreams makes the three streams of one worker process in a small
// sealed memfd of their own (an shm arena with no objects), passed to that
// worker only: calls (Call and Cancel frames) to it, results (Result, Log
// and Request frames) from it, and replies to its requests. Another
// worker cannot reach them, whatever it does to the arena all workers
// share.
func (p *Pool) newStreams() (a *shm.Arena, calls, results, replies shm.Region, err error) {
	if a, err = shm.Create(int(2*shm.StreamSize(streamRing)+shm.StreamSize(replyRing))+64<<10, 1); err != nil {
		return nil, calls, results, replies, err
	}
	d := shm.NewDirectory(a)
	if calls, err = d.Reserve(streamRing); err == nil {
		if results, err = d.Reserve(streamRing); err == nil {
			replies, err = d.Reserve(replyRing)
		}
	}
	if err != nil {
		a.Close()
		return nil, calls, results, replies, err
	}
	return a, calls, results, replies, nil
}

// replyRing is the ring of a worker's replies stream: a piece (a quarter)
// holds the longest reply.
const replyRing = 4 << 10

// workerProc is the parent's side of one worker process, from start to
// death. A dead workerProc is never reused: the slot gets a new one.
type workerProc struct {
	p     *Pool
	slot  int
	part  uint32       // participant number in the shared arena
	procs atomic.Int32 // processes sent and not finished
	pid   int
	cmd   *exec.Cmd
	conn  net.Conn
	fds   *os.File // sends segment descriptors; the results reader's
	// streams holds the three streams of this process (see newStreams);
	// calls, results and replies are their regions, callsTo, resultsFrom
	// and repliesTo the parent's ends, and w writes frames to callsTo.
	// repliesTo is the results reader's (see answer).
	streams                         *shm.Arena
	calls, results, replies         shm.Region
	callsTo, resultsFrom, repliesTo *shm.Stream
	// streamMu orders stop's Close of callsTo before waitExit's end of
	// the streams: once exiting is closed, waitExit unmaps them and
	// nothing may touch them.
	streamMu sync.Mutex
	w        *wire.Writer
	// read is closed when readLoop has read the last frame the process
	// wrote; exiting is closed, under streamMu, when waitExit ends the
	// streams.
	read    chan struct{}
	exiting chan struct{}
	stderr  *tailBuffer
	slots   chan struct{} // room for task calls: Concurrency + prefetchFast
	freed   chan struct{} // signalled when a task call leaves slots
	gone    chan struct{} // closed when the worker is found dead
	exited  chan struct{} // closed when its calls have been settled
	// retired is closed when the worker has run Config.MaxTasksPerWorker
	// task calls: it takes no more, and ends once it holds none.
	retired    chan struct{}
	retireOnce sync.Once
	finished   int  // task calls answered, under mu
	retiring   bool // under mu: send refuses calls once set

	mu       sync.Mutex
	dead     bool
	inflight map[uint64]*task
	sends    uint64 // calls sent, numbering them in task.sent
	// cancelled holds the calls cancelled while queued in the worker,
	// until it answers them, and whether a timer watches each (see
	// checkCancelled).
	cancelled map[*task]bool
	// service is the recent task calls' service time, lastDone when the
	// last one ended (see timeCall); fast says service < fastCall.
	service  time.Duration
	lastDone time.Time
	fast     atomic.Bool
	// itemService is the recent calls' service time per item they
	// carried (merged calls carry several), under mu; mergeBy is how
	// many one-item calls merge puts in one call for it.
	itemService time.Duration
	mergeBy     atomic.Int32
	killReason  string // why the pool ended it, if it did
	// deliberate: the pool ended it on purpose (Kill, a cancelled call);
	// the calls it held that were not the target are not at fault.
	deliberate bool
}

// startWorker starts the worker process for slot and completes the
// handshake, bounded by ctx and Config.StartTimeout.
func (p *Pool) startWorker(ctx context.Context, slot int) (*workerProc, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.StartTimeout)
	defer cancel()
	exe, err := os.Executable()
	if err != nil {
		return nil, &StartError{Worker: slot, Err: err}
	}
	parentEnd, childEnd, err := socketpair()
	if err != nil {
		return nil, &StartError{Worker: slot, Err: err}
	}
	defer childEnd.Close()
	var c [16]byte
	rand.Read(c[:])
	cookie := hex.EncodeToString(c[:])
	w := &workerProc{
		p:         p,
		slot:      slot,
		stderr:    &tailBuffer{max: 4096},
		slots:     make(chan struct{}, p.cfg.Concurrency+p.prefetchFast),
		freed:     make(chan struct{}, 1),
		gone:      make(chan struct{}),
		retired:   make(chan struct{}),
		exited:    make(chan struct{}),
		read:      make(chan struct{}),
		exiting:   make(chan struct{}),
		inflight:  map[uint64]*task{},
		cancelled: map[*task]bool{},
	}
	if w.streams, w.calls, w.results, w.replies, err = p.newStreams(); err == nil {
		if w.callsTo, err = shm.StreamAt(w.streams, w.calls, p.newLocal()); err == nil {
			if w.resultsFrom, err = shm.StreamAt(w.streams, w.results, p.newLocal()); err == nil {
				w.repliesTo, err = shm.StreamAt(w.streams, w.replies, p.newLocal())
			}
		}
		if err != nil {
			w.streams.Close()
		}
	}
	if err != nil {
		parentEnd.Close()
		return nil, &StartError{Worker: slot, Err: err}
	}
	started := false
	defer func() {
		if !started {
			w.streams.Close()
		}
	}()
	w.cmd = exec.Command(exe)
	w.cmd.Env = append(os.Environ(), worker.EnvCookie+"="+strconv.Itoa(os.Getpid())+":"+cookie, worker.EnvInherited+"="+leaky())
	part, err := p.parts.take()
	if err != nil {
		parentEnd.Close()
		return nil, &StartError{Worker: slot, Err: err}
	}
	w.part = part
	segParent, segChild, err := shm.DescriptorPair()
	if err != nil {
		parentEnd.Close()
		p.parts.give(part)
		return nil, &StartError{Worker: slot, Err: err}
	}
	defer segChild.Close()
	// fd 3 = worker.ControlFD, fd 4 = worker.ArenaFD, fd 5 =
	// worker.SegmentsFD, fd 6 = worker.StreamsFD, fd 7 = worker.CodeFD
	w.cmd.ExtraFiles = []*os.File{childEnd, p.arena.File(), segChild, w.streams.File(), p.code}
	w.cmd.Stderr = w.stderr
	w.cmd.WaitDelay = time.Second
	if err := p.spawn.start(w.cmd); err != nil {
		parentEnd.Close()
		segParent.Close()
		p.parts.give(part)
		return nil, &StartError{Worker: slot, Err: err}
	}
	w.pid = w.cmd.Process.Pid
	conn, err := net.FileConn(parentEnd)
	parentEnd.Close()
	if err != nil {
		segParent.Close()
		w.cmd.Process.Kill()
		w.cmd.Wait()
		p.retire(part)
		return nil, &StartError{Worker: slot, Err: err}
	}
	w.conn = conn
	if err := w.handshake(ctx, cookie); err != nil {
		conn.Close()
		segParent.Close()
		w.cmd.Process.Kill()
		w.cmd.Wait()
		p.retire(part)
		return nil, &StartError{Worker: slot, Err: err, Stderr: w.stderr.String()}
	}
	// The socket, idle after the handshake, is the streams' bell.
	w.callsTo.SetBell(conn, false)
	w.resultsFrom.SetBell(conn, true)
	w.w = wire.NewWriter(w.callsTo)
	w.resultsFrom.Spin = w.expectsAnswer
	w.fds = segParent
	p.wg.Add(3)
	go w.waitExit()
	go w.readLoop(wire.NewReader(w.resultsFrom, p.cfg.MaxMessageSize+wire.Overhead))
	go w.feed()
	started = true
	return w, nil
}

func (w *workerProc) handshake(ctx context.Context, cookie string) error {
	cfg := w.p.cfg
	frame, err := wire.AppendCBOR(nil, wire.TypeInit, &wire.Init{
		Cookie:           cookie,
		WorkerID:         w.slot,
		Wasm:             w.p.codeMain,
		CacheDir:         cfg.CacheDir,
		MemoryLimitPages: cfg.MemoryLimitPages,
		MaxMessageSize:   cfg.MaxMessageSize,
		Interruptible:    cfg.Interruptible,
		Unhardened:       cfg.Unhardened,
		Capabilities:     cfg.Capabilities,
		Modules:          w.p.codeMods,
		Concurrency:      cfg.Concurrency,
		Participant:      w.part,
		Calls:            w.calls,
		Results:          w.results,
		Replies:          w.replies,
		Threads:          w.p.workerThreads(),
	})
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { w.conn.SetDeadline(time.Now()) })
	defer stop()
	if _, err := w.conn.Write(frame); err != nil {
		return fmt.Errorf("sending Init: %w", err)
	}
	t, body, err := wire.NewReader(w.conn, 1<<20).Next()
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("no handshake within %v: %w", w.p.cfg.StartTimeout, ctx.Err())
		}
		return fmt.Errorf("reading Hello: %w", err)
	}
	var hello wire.Hello
	if t != wire.TypeHello {
		return fmt.Errorf("first frame has type %d, want Hello", t)
	}
	if err := wire.ParseCBOR(body, &hello); err != nil {
		return err
	}
	if hello.Err != nil {
		return errors.New(hello.Err.Message)
	}
	// The socket becomes the streams' bell: no deadline may be left on
	// it, so StartTimeout's callback must not run after this.
	if !stop() {
		return fmt.Errorf("no handshake within %v: %w", w.p.cfg.StartTimeout, context.DeadlineExceeded)
	}
	w.conn.SetDeadline(time.Time{})
	return nil
}

// workerThreads is the GOMAXPROCS a worker runs with; see
// Config.WorkerThreads.
func (p *Pool) workerThreads() int {
	if p.cfg.WorkerThreads > 0 {
		return p.cfg.WorkerThreads
	}
	// The runtime's default, as the parent has it: a worker cannot read
	// the cgroup files (in /proc) that size it in a container with a CPU
	// limit.
	all := runtime.GOMAXPROCS(0)
	if p.cfg.Interruptible {
		return all
	}
	for _, f := range p.fnList {
		if f.Kind == abi.FuncProcess {
			return all
		}
	}
	return p.cfg.Concurrency
}

// expectsAnswer says whether the results reader should spin: while the
// worker holds no more task calls than it has instances for (none
// included: a caller that just had its answer often sends the next call
// at once), a caller is likely waiting and the answer comes within
// microseconds; with calls prefetched, sleeping leaves the CPU to the
// workers.
func (w *workerProc) expectsAnswer() bool {
	w.mu.Lock()
	n := len(w.inflight) - int(w.procs.Load())
	w.mu.Unlock()
	return n <= w.p.cfg.Concurrency
}

// answer serves a request from the worker (a segment, or an object its
// guest creates): the descriptor of a segment it grants goes first, on
// the descriptor socket, then the reply, on the replies stream. It is the
// results reader's: requests are few and quick, and answering them in
// line costs no hand-off. An error is a malformed request.
func (w *workerProc) answer(req []byte) error {
	sv := shm.Services{Segments: w.p.segs, Objects: w.p.createForGuest}
	// The worker takes each descriptor before it asks again, so the
	// socket has room; one that does not is broken, and the send fails.
	reply, err := sv.Handle(req, func(f *os.File) error { return shm.SendFile(w.fds, f) })
	if err != nil {
		return err
	}
	// The worker reads each reply before it asks again, so the ring has
	// room; a failed write is the worker's end, which readLoop sees next.
	w.repliesTo.Write(reply)
	w.p.segs.Prepare() // the next segment's memfd, while the worker maps this one
	return nil
}

// isExiting reports whether waitExit has begun to end the streams.
func (w *workerProc) isExiting() bool {
	select {
	case <-w.exiting:
		return true
	default:
		return false
	}
}

func (w *workerProc) isDead() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.dead
}

// feed sends queued task calls to the worker while it has room.
func (w *workerProc) feed() {
	defer w.p.wg.Done()
	stop := mergeDone(w.gone, w.retired)
	for {
		select {
		case w.slots <- struct{}{}:
		case <-stop:
			return
		}
		t := w.p.queue.pop(stop, w.freed, w.minQueue, w.accepts)
		if t == nil {
			return
		}
		t = w.merge(t)
		// A process holds no slot: it may run for as long as it likes.
		if !w.send(t) || t.kind == abi.CallProcess {
			<-w.slots
		}
	}
}

// accepts reports whether this worker should take t now: a process goes to
// a worker running the fewest processes, so that processes spread over
// the cores as multiprocessing.Process spreads over them.
func (w *workerProc) accepts(t *task) bool {
	if t.kind != abi.CallProcess {
		return true
	}
	mine := w.procs.Load()
	live := w.p.live.Load()
	if live == nil {
		return true
	}
	// Refuse only in favour of a worker with room to take it now, so
	// that a process never waits for a worker that is full.
	for _, o := range *live {
		if o != nil && o != w && !o.isDead() && !o.isRetiring() && o.procs.Load() < mine && len(o.slots) < cap(o.slots) {
			return false
		}
	}
	return true
}

// publishWorkers copies p.workers for accepts; the caller holds p.mu.
func (p *Pool) publishWorkers() {
	ws := append([]*workerProc(nil), p.workers...)
	p.live.Store(&ws)
}

// minQueue is how many calls must be queued before this worker takes one.
// A call it cannot start at once (a prefetch) is only taken while the queue
// holds one for every worker: at the tail of a Map, the last calls go to
// whichever worker frees up first instead of waiting behind a busy one.
// Prefetches beyond prefetchSlow are taken only while the worker's calls
// are short (fast): for calls of a few microseconds, four prefetches
// instead of two took item-at-a-time Map from 210–290 to 280–360 k
// items/s, and for calls of milliseconds they cost the primes speedup
// 1.9× → 1.7× (a call waits behind a long one while the other worker
// idles).
func (w *workerProc) minQueue() int {
	held := len(w.slots)
	switch {
	case held > w.p.cfg.Concurrency+w.p.prefetchSlow && !w.fast.Load():
		return math.MaxInt
	case held > w.p.cfg.Concurrency:
		return w.p.cfg.Workers
	}
	return 1
}

// fastCall is the service time under which a worker's calls are short
// enough for the deeper prefetch (minQueue).
const fastCall = 100 * time.Microsecond

// timeCall updates the worker's service time from task call t, answered
// now: a call starts when it is sent or when the one before it ends,
// whichever is later (exact for Concurrency 1, a fair guess above).
// The caller holds w.mu.
func (w *workerProc) timeCall(t *task, now time.Time) {
	start := t.sentAt
	if w.lastDone.After(start) {
		start = w.lastDone
	}
	w.lastDone = now
	took := now.Sub(start)
	w.service += (took - w.service) / 8 // the recent calls weigh most
	w.fast.Store(w.service < fastCall)
	perItem := took / time.Duration(max(len(t.items), 1))
	if w.itemService == 0 {
		w.itemService = perItem
	}
	w.itemService += (perItem - w.itemService) / 8
	w.mergeBy.Store(int32(min(mergeMax, w.p.mergeWithin/max(w.itemService, 1))))
}

// mergeMax is the most one-item calls merge puts in one call, and
// mergeBytes the most input bytes (or Config.MaxMessageSize, if less, as
// for any call).
const (
	mergeMax   = 16
	mergeBytes = DefaultChunkBytes
)

// merge returns t, or a call that carries t and the calls of the same
// Map queued right behind it, leaving a call queued for every worker: as
// many as this worker's recent calls took per item in fastCall
// (p.mergeWithin), at most mergeMax, so that a merged call is as short
// as a fast one; calls that take fastCall or more go one by one. The
// worker runs a merged call's
// items as the separate guest calls they were (wire.Call.Each), each on
// a list of one item, and answers each with its own Item frame. What the
// items share is one call frame, one place in the worker's queue and one
// slot. See RATIONALE.md, "Why are calls of one item merged on their way
// to a worker?".
func (w *workerProc) merge(t *task) *task {
	by := int(w.mergeBy.Load())
	// With MaxTasksPerWorker, a worker takes calls one by one, so that it
	// retires after that many items, not that many merged calls.
	if t.mergeKey == nil || by < 2 || w.p.cfg.MaxTasksPerWorker > 0 {
		return t
	}
	budget := min(mergeBytes, w.p.cfg.MaxMessageSize) - len(t.input)
	more := w.p.queue.takeMerge(t.mergeKey, by-1, budget, w.p.cfg.Workers)
	if len(more) == 0 {
		return t
	}
	c := &task{kind: abi.CallBatch, fn: t.fn, deadline: t.deadline, retries: t.retries, pool: w.p}
	c.id = w.p.nextID.Add(1)
	c.done = c.spread
	// A member cancelled as soon as it joins cancels c, whose spread
	// reads c.items: settling c waits for c.mu, held until they are
	// all there. (The only place a task's mu is taken under another's.)
	c.mu.Lock()
	defer c.mu.Unlock()
	items := make([][]byte, 0, 1+len(more))
	for _, m := range append([]*task{t}, more...) {
		// A member holds one item (Map sets mergeKey only then); one
		// cancelled or abandoned since it was queued stays out.
		item, err := abi.ParseList(m.input, 1)
		if err != nil || len(item) != 1 {
			m.finish(nil, fmt.Errorf("pool: %s: merging a call of more than one item", m.fn))
			continue
		}
		if !m.join(c, w) {
			continue
		}
		c.items = append(c.items, m)
		items = append(items, item[0])
	}
	if len(c.items) == 0 {
		return t // finished: send drops it
	}
	c.input = abi.AppendList(make([]byte, 0, abi.ListSize(items)), items)
	w.p.merged.Add(1)
	return c
}

// spread is a merged call's done: err goes to each of its calls that
// has no outcome yet. Outcomes come earlier, one Item frame per item
// (readLoop).
func (c *task) spread(_ []byte, err error, _ *workerProc) {
	if err == nil {
		return
	}
	for _, m := range c.items {
		m.finish(nil, err)
	}
}

// callError converts a call's wire error to the pool's.
func callError(t *task, e *wire.Error) error {
	err := fromWire(e)
	var te *TimeoutError
	if errors.As(err, &te) {
		te.Deadline = t.deadline
	}
	return err
}

// send hands t to the worker. It reports false if t was not sent (finished
// meanwhile, or the worker died: then t is back in the queue).
func (w *workerProc) send(t *task) bool {
	if !t.claim(w) {
		return false
	}
	w.mu.Lock()
	if w.dead || w.retiring {
		w.mu.Unlock()
		if t.requeue(true) {
			w.p.queue.pushFront(t)
		}
		return false
	}
	// A task cancelled since the claim is not sent: its cancel found it
	// in no worker's inflight, so nothing would stop it. Checked in the
	// step that puts it there, so a later cancel finds it (task.mu is
	// never held while taking w.mu).
	if t.isDone() {
		w.mu.Unlock()
		return false
	}
	w.sends++
	t.sent, t.sentAt, t.answered = w.sends, time.Now(), 0
	w.inflight[t.id] = t
	w.mu.Unlock()
	if t.kind == abi.CallProcess {
		w.procs.Add(1)
	}
	c := wire.Call{ID: t.id, Kind: uint8(t.kind), Name: t.fn, Input: t.input}
	if len(t.items) > 0 {
		c.Each = make([]uint64, len(t.items))
		for i, m := range t.items {
			c.Each[i] = m.id
		}
	}
	if !t.deadline.IsZero() {
		c.Deadline = t.deadline.UnixNano()
	}
	if err := w.w.Send(wire.AppendCall(make([]byte, 0, 36+len(t.fn)+8*len(c.Each)+len(t.input)), &c)); errors.Is(err, shm.ErrCorrupt) {
		w.kill("broke its calls stream: "+err.Error(), false)
	}
	// A cancel that settled the task between the claim and this send
	// may have sent its Cancel frame ahead of the call: send another
	// after it (the worker ignores a Cancel for a call it has finished).
	if t.isDone() {
		w.cancel(t)
	}
	return true
}

// readLoop handles the worker's frames until its results stream closes
// (waitExit closes it once the process is dead) and it has read every
// frame the process wrote before.
func (w *workerProc) readLoop(r *wire.Reader) {
	defer w.p.wg.Done()
	defer close(w.read)
	defer w.fds.Close()
	for {
		typ, body, err := r.Next()
		if err != nil {
			// The stream ends when waitExit closes it, or when the
			// worker's end of the socket closes, which is how its death
			// usually shows first (then waitExit follows): a worker not
			// dead deathGrace later closed the stream itself. A stream
			// that has not ended was broken by a live worker.
			switch {
			case w.isExiting():
			case w.resultsFrom.Ended():
				select {
				case <-w.exiting:
				case <-time.After(deathGrace):
					w.broke(err.Error())
				}
			default:
				w.broke(err.Error())
			}
			return
		}
		switch typ {
		case wire.TypeResult:
			res, err := wire.ParseResult(body)
			if err != nil {
				w.broke(err.Error())
				return
			}
			w.mu.Lock()
			t := w.inflight[res.ID]
			if t != nil && res.Err == nil && t.answered != len(t.items) {
				// A merged call answered before all its items: the
				// worker's end settles it.
				w.mu.Unlock()
				w.broke(fmt.Sprintf("call %d answered after %d of its %d items", res.ID, t.answered, len(t.items)))
				return
			}
			delete(w.inflight, res.ID)
			if t != nil && t.kind != abi.CallProcess {
				w.finished += max(len(t.items), 1)
				w.timeCall(t, time.Now())
			}
			// A worker hosting a Process is not retired until it hosts
			// none: stopping its tasks could starve a Process that waits
			// for them.
			if max := w.p.cfg.MaxTasksPerWorker; max > 0 && w.finished >= max && !w.hostsProcess() {
				w.retiring = true // in the same step as idle: no call is sent after
			}
			retiring, idle, check := w.retiring, len(w.inflight) == 0, len(w.cancelled) > 0
			w.mu.Unlock()
			if check {
				w.checkCancelled()
			}
			if retiring {
				w.retire(idle)
			}
			if t == nil {
				continue
			}
			if t.kind != abi.CallProcess {
				<-w.slots
				select {
				case w.freed <- struct{}{}:
				default:
				}
			}
			if res.Err != nil {
				err := callError(t, res.Err)
				if err == errCancelled && !t.isDone() {
					// The worker answers so only a call the pool
					// cancelled, which it settled first.
					t.finish(nil, &WorkerExitError{Worker: w.slot, PID: w.pid, ExitCode: -1, Reason: "broke the control protocol: it dropped a call the pool did not cancel"})
					w.broke("it dropped call " + strconv.FormatUint(res.ID, 10) + ", which the pool did not cancel")
					return
				}
				if err != errCancelled {
					t.finish(nil, err)
				}
				continue
			}
			t.finish(res.Output, nil)
		case wire.TypeItem:
			it, err := wire.ParseItem(body)
			if err != nil {
				w.broke(err.Error())
				return
			}
			w.mu.Lock()
			t := w.inflight[it.ID]
			w.mu.Unlock()
			if t == nil {
				continue
			}
			if int(it.Index) != t.answered || t.answered >= len(t.items) {
				w.broke(fmt.Sprintf("item %d of call %d out of turn", it.Index, it.ID))
				return
			}
			m := t.items[it.Index]
			t.answered++
			if it.Err != nil {
				m.finish(nil, callError(m, it.Err))
			} else {
				m.finish(it.Output, nil)
			}
		case wire.TypeRequest:
			if err := w.answer(body); err != nil {
				w.broke(err.Error())
				return
			}
		case wire.TypeLog:
			l, err := wire.ParseLog(body)
			if err != nil {
				w.broke(err.Error())
				return
			}
			w.mu.Lock()
			t := w.inflight[l.ID]
			if t == nil {
				t = w.itemLocked(l.ID)
			}
			w.mu.Unlock()
			o := Output{CallID: l.ID, Stream: int(l.Stream), Data: l.Data}
			if l.Stream >= wire.StreamLog {
				o.Stream, o.Level = Log, abi.LogLevel(l.Stream-wire.StreamLog)
			}
			var proc *Process
			if t != nil {
				o.Function, proc = t.fn, t.proc
			}
			w.p.deliver(o, proc)
		default:
			w.kill(fmt.Sprintf("sent an unexpected frame type %d", typ), false)
			return
		}
	}
}

// itemLocked returns the item with call ID id of a merged call w holds,
// or nil; the caller holds w.mu.
func (w *workerProc) itemLocked(id uint64) *task {
	for _, t := range w.inflight {
		for _, m := range t.items {
			if m.id == id {
				return m
			}
		}
	}
	return nil
}

// hostsProcess reports whether a Process call is in flight on w; the
// caller holds w.mu.
func (w *workerProc) hostsProcess() bool {
	for _, t := range w.inflight {
		if t.kind == abi.CallProcess {
			return true
		}
	}
	return false
}

// isRetiring reports whether w takes no more calls (MaxTasksPerWorker).
func (w *workerProc) isRetiring() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.retiring
}

// retire stops feeding the worker, which has run its share of task calls,
// and ends it once it holds no call (idle): its slot gets a fresh worker,
// as multiprocessing's maxtasksperchild does.
func (w *workerProc) retire(idle bool) {
	w.retireOnce.Do(func() { close(w.retired) })
	if idle {
		w.mu.Lock()
		if w.killReason == "" {
			w.killReason = fmt.Sprintf("retired after %d task calls (Config.MaxTasksPerWorker)", w.finished)
			w.deliberate = true
		}
		w.mu.Unlock()
		go w.stop(time.Second)
	}
}

// mergeDone returns a channel closed when either a or b is.
func mergeDone(a, b <-chan struct{}) <-chan struct{} {
	c := make(chan struct{})
	go func() {
		select {
		case <-a:
		case <-b:
		}
		close(c)
	}()
	return c
}

// stopCall stops the work of t, which has finished already (cancelled).
// A worker is not asked to stop a call it runs: a running guest cannot be
// preempted, and the worker's reader has no P of its own while guests
// compute (Init.Threads). So a call the worker runs ends the worker at
// once. A call it holds queued gets a Cancel frame, which the worker reads
// before it starts another call (worker's next) and drops the call by; in
// case it started it all the same, readLoop looks again whenever an
// answer lets the worker start one (checkCancelled). An interruptible
// worker reads every Cancel at once and stops the call itself, within
// cancelGrace. The calls a killed worker held besides t are not at fault
// and go back to the queue.
func (w *workerProc) stopCall(t *task) {
	if w.p.cfg.Interruptible {
		w.cancel(t)
		time.AfterFunc(cancelGrace, func() { w.enforceCancel(t) })
		return
	}
	// Deciding and registering in one step: an answer read between the
	// two would find nothing to look at, and t, started, would run on.
	w.mu.Lock()
	if w.runsLocked(t) {
		w.mu.Unlock()
		w.kill("it was running the cancelled call of "+t.fn, true)
		return
	}
	if w.inflight[t.id] == t {
		w.cancelled[t] = false
	}
	w.mu.Unlock()
	w.cancel(t)
}

// runs reports whether w holds t and runs it now, or will as soon as it
// reads it: processes start at once, and task calls in the order they
// were sent (send runs on feed alone, so that order is their numbering),
// Concurrency at a time.
func (w *workerProc) runs(t *task) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.runsLocked(t)
}

func (w *workerProc) runsLocked(t *task) bool {
	if w.inflight[t.id] != t {
		return false
	}
	if t.kind == abi.CallProcess {
		return true
	}
	ahead := 0
	for _, o := range w.inflight {
		if o.kind != abi.CallProcess && o.sent < t.sent {
			ahead++
		}
	}
	return ahead < w.p.cfg.Concurrency
}

// checkCancelled looks at the calls cancelled while queued in the worker
// (see stopCall); readLoop calls it after each answer. One that is now
// next in line is about to be dropped, its answer right behind the one
// just read, or was started all the same: if the worker still holds it
// cancelGrace later, it ends the worker.
func (w *workerProc) checkCancelled() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for t, watched := range w.cancelled {
		switch {
		case w.inflight[t.id] != t:
			delete(w.cancelled, t)
		case !watched && w.runsLocked(t):
			w.cancelled[t] = true
			time.AfterFunc(cancelGrace, func() {
				if w.runs(t) {
					w.kill(fmt.Sprintf("it did not drop the cancelled call of %s within %v", t.fn, cancelGrace), true)
				}
			})
		}
	}
}

// cancel asks the worker to drop or stop t, which has finished already.
func (w *workerProc) cancel(t *task) {
	w.w.Send(wire.AppendCancel(nil, t.id))
}

// enforceCancel ends an interruptible worker that still holds cancelled
// call t cancelGrace after its Cancel: it did not answer (see cancelGrace).
func (w *workerProc) enforceCancel(t *task) {
	w.mu.Lock()
	_, held := w.inflight[t.id]
	w.mu.Unlock()
	if held {
		w.kill(fmt.Sprintf("it did not stop the cancelled call of %s within %v", t.fn, cancelGrace), true)
	}
}

// broke kills the worker for breaking the control protocol, as reason
// says.
func (w *workerProc) broke(reason string) { w.kill("broke the control protocol: "+reason, false) }

// kill ends the worker process with SIGKILL, recording why and whether the
// pool meant to (deliberate) or the worker misbehaved.
func (w *workerProc) kill(reason string, deliberate bool) {
	w.mu.Lock()
	if w.killReason == "" {
		w.killReason, w.deliberate = reason, deliberate
	}
	w.mu.Unlock()
	w.cmd.Process.Kill()
}

// stop ends the worker for Close: EOF on its control channel asks it to
// exit; after grace it is killed. It returns once its calls are settled.
func (w *workerProc) stop(grace time.Duration) {
	w.mu.Lock()
	if w.killReason == "" {
		w.killReason = "the pool was closed"
	}
	w.mu.Unlock()
	// The stream first: a sender blocked on a full calls ring (a worker
	// that stopped reading) holds the writer's lock until the ring is
	// closed, and w.w.Close waits for that lock.
	w.streamMu.Lock()
	if !w.isExiting() {
		w.callsTo.Close()
	}
	w.streamMu.Unlock()
	w.w.Close()
	w.conn.(*net.UnixConn).CloseWrite()
	select {
	case <-w.exited:
		return
	case <-time.After(grace):
	}
	w.cmd.Process.Kill()
	<-w.exited
}

// waitExit waits for the process to end and settles every call it held:
// a process call fails, a task call is retried or fails.
func (w *workerProc) waitExit() {
	defer w.p.wg.Done()
	waitErr := w.cmd.Wait()
	// The process is gone: repair what it left in shared objects before
	// anyone can reuse its participant number.
	w.p.retire(w.part)
	w.conn.Close()
	// Closing the streams wakes a sender blocked on a full calls ring and
	// ends readLoop once it has read what the process wrote: results
	// that made it out before the process died count.
	w.streamMu.Lock()
	close(w.exiting)
	w.streamMu.Unlock()
	w.callsTo.Close()
	w.resultsFrom.Close()
	w.repliesTo.Close() // wakes answer if a broken worker left it no room
	<-w.read
	w.w.Close()
	// Nothing reads or writes the streams any more: stop leaves them
	// alone once exiting is closed, and every sender goes through w.w.
	w.streams.Close()
	w.mu.Lock()
	w.dead = true
	held := w.inflight
	w.inflight = nil
	reason, deliberate := w.killReason, w.deliberate
	w.mu.Unlock()
	close(w.gone)

	exitErr := &WorkerExitError{Worker: w.slot, PID: w.pid, ExitCode: -1, Reason: reason, Stderr: w.stderr.String()}
	var ee *exec.ExitError
	if errors.As(waitErr, &ee) {
		exitErr.ExitCode = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			exitErr.Signal = ws.Signal().String()
		}
	} else if waitErr == nil {
		exitErr.ExitCode = 0
	}
	// The worker ended itself to stop a call the pool cancelled: the
	// other calls it held are not at fault.
	if exitErr.ExitCode == worker.ExitCancelled {
		deliberate = true
		if exitErr.Reason == "" {
			exitErr.Reason = "stopped by the pool to end a cancelled call"
		}
	}
	closed := w.p.isClosed()
	running := startedCalls(held, w.p.cfg.Concurrency)
	for _, t := range held {
		switch {
		case closed:
			t.finish(nil, ErrClosed)
		case t.kind == abi.CallProcess:
			t.finish(nil, exitErr)
		case len(t.items) > 0:
			w.p.split(t, deliberate, running[t], exitErr)
		case deliberate || !running[t] || t.attemptCount() <= t.retries:
			// A call that had not started is not at fault either.
			if t.requeue(deliberate || !running[t]) {
				w.p.queue.pushFront(t)
			}
		default:
			e := *exitErr
			e.Attempts = t.attemptCount()
			t.finish(nil, &e)
		}
	}
	close(w.exited)
}

// startedCalls returns the task calls of held that a worker had started,
// as far as the parent knows: it starts them in the order they were sent,
// concurrency at a time (as runs reckons).
func startedCalls(held map[uint64]*task, concurrency int) map[*task]bool {
	calls := make([]*task, 0, len(held))
	for _, t := range held {
		if t.kind != abi.CallProcess {
			calls = append(calls, t)
		}
	}
	slices.SortFunc(calls, func(a, b *task) int { return cmp.Compare(a.sent, b.sent) })
	started := map[*task]bool{}
	for _, t := range calls[:min(len(calls), concurrency)] {
		started[t] = true
	}
	return started
}

// split settles merged call c, held by a worker that died: the items
// the worker answered keep their outcome; the others go back to the
// queue one call each, or fail with exitErr once out of retries. The
// pool cannot tell which of them was running (answers are sent in
// batches), so, as for the items of a chunk, each is charged the attempt
// if c had started (started, and not deliberate). Sent alone from then
// on, an item that kills its worker is found and fails by itself, while
// the others succeed on their retry.
func (p *Pool) split(c *task, deliberate, started bool, exitErr *WorkerExitError) {
	// Settled first, quietly (spread ignores a nil error): a member's
	// cancel that reaches c from now on finds it done and cannot finish
	// members already requeued and perhaps running elsewhere.
	c.finish(nil, nil)
	charged := started && !deliberate
	for i := len(c.items) - 1; i >= c.answered; i-- {
		m := c.items[i]
		if !charged || m.attemptCount() <= m.retries {
			if m.unmerge(!charged) {
				p.queue.pushFront(m)
			}
			continue
		}
		e := *exitErr
		e.Attempts = m.attemptCount()
		m.finish(nil, &e)
	}
}

// supervise replaces the slot's worker whenever it dies, until Close.
func (p *Pool) supervise(slot int, w *workerProc) {
	defer p.wg.Done()
	backoff := 10 * time.Millisecond
	for {
		started := time.Now()
		select {
		case <-w.exited:
		case <-p.done:
			return
		}
		if time.Since(started) > 10*time.Second {
			backoff = 10 * time.Millisecond
		}
		for {
			nw, err := p.startWorker(context.Background(), slot)
			if err == nil {
				p.mu.Lock()
				if p.closed {
					p.mu.Unlock()
					nw.stop(0)
					return
				}
				p.workers[slot] = nw
				p.publishWorkers()
				p.mu.Unlock()
				w = nw
				break
			}
			select {
			case <-time.After(backoff):
			case <-p.done:
				return
			}
			backoff = min(2*backoff, 5*time.Second)
		}
	}
}

// memoryCheck is how often watchMemory looks at the workers.
const memoryCheck = 50 * time.Millisecond

// watchMemory kills any worker whose resident memory passes
// Config.WorkerMemoryLimit, until Close.
func (p *Pool) watchMemory() {
	defer p.wg.Done()
	tick := time.NewTicker(memoryCheck)
	defer tick.Stop()
	limit := p.cfg.WorkerMemoryLimit
	for {
		select {
		case <-p.done:
			return
		case <-tick.C:
		}
		live := p.live.Load()
		if live == nil {
			continue
		}
		for _, w := range *live {
			if w == nil || w.isDead() {
				continue
			}
			if rss, err := residentBytes(w.pid); err == nil && rss > limit {
				w.kill(fmt.Sprintf("its anonymous resident memory, %d MiB, passed Config.WorkerMemoryLimit, %d MiB", rss>>20, limit>>20), false)
			}
		}
	}
}

// residentBytes reads a process's anonymous resident memory (RssAnon)
// from /proc: its own heap and guests' linear memory, not the arena and
// segments it shares with every other worker.
func residentBytes(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "RssAnon:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("pool: no RssAnon in /proc/%d/status", pid)
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
