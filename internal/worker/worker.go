// Package worker is the main program of a wasmpool worker process: it reads
// its configuration from the control channel, compiles the module (from the
// cache the parent filled), and runs the calls the parent sends, reporting
// results and guest output back. Package pool starts workers by re-executing
// the current binary with EnvCookie set; the program's init hands control to
// Main before anything else runs.
package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmpool/wasmpool/abi"
	"github.com/wasmpool/wasmpool/host"
	"github.com/wasmpool/wasmpool/internal/harden"
	"github.com/wasmpool/wasmpool/internal/shm"
	"github.com/wasmpool/wasmpool/internal/wire"
)

// EnvCookie names the environment variable that marks a worker process. Its
// value is "PARENT_PID:COOKIE"; the same cookie arrives in the Init frame.
const EnvCookie = "WASMPOOL_WORKER"

// ControlFD is the worker's end of the control socket.
const ControlFD = 3

// ArenaFD is the shared arena's memfd, when Init names a participant.
const ArenaFD = 4

// AfterHarden, if set, runs in the worker once it is hardened, before it
// answers Hello. Tests set it (from an init function that runs before the
// worker starts) to try, from host-side code, what the hardening forbids.
var AfterHarden func()

// AfterHello, if set, runs in the worker once it has answered Hello, with
// the stream its frames to the parent go through. Tests set it (as they
// set AfterHarden) to play a worker whose host side breaks the protocol.
var AfterHello func(results io.Writer)

// BeforeItems, if set, gets each batch of Item frames (and the Result
// that ends a merged call) before the worker sends them, and returns what
// it sends instead. Tests set it (as they set AfterHarden) to play a
// worker that answers merged calls out of turn.
var BeforeItems func(frames []byte) []byte

// SegmentsFD is the worker's end of the socket on which the parent sends
// the descriptors of segments (see shm.DescriptorPair).
const SegmentsFD = 5

// StreamsFD is the sealed memfd of this worker's three streams (Init's
// Calls, Results and Replies regions are in it), which no other worker
// has.
const StreamsFD = 6

// CodeFD is the sealed memfd holding the modules (shm.NewSealedFile); Init
// names each one's region in it.
const CodeFD = 7

// Exit codes of a worker process.
const (
	ExitOK        = 0  // the parent closed the control channel
	ExitUsage     = 2  // started by hand, or with a bad handshake
	ExitStart     = 3  // the module could not be compiled or run
	ExitProtocol  = 4  // the parent broke the protocol
	ExitCancelled = 75 // exited to stop a running call the parent cancelled
)

// EnvInherited names the descriptors, comma-separated, that the parent
// could not keep from the worker (its own without close-on-exec; see
// harden.Leaky), for the worker to close first thing. The worker cannot
// list its descriptors itself: Landlock keeps it out of /proc.
const EnvInherited = "WASMPOOL_INHERITED"

// inherited parses EnvInherited.
func inherited() []int {
	var fds []int
	for _, f := range strings.Split(os.Getenv(EnvInherited), ",") {
		if fd, err := strconv.Atoi(f); err == nil {
			fds = append(fds, fd)
		}
	}
	return fds
}

// IsWorker reports whether this process was started as a worker.
func IsWorker() bool { return os.Getenv(EnvCookie) != "" }

// handshakeTimeout bounds the wait for the Init frame.
const handshakeTimeout = 10 * time.Second

// Main runs the worker and returns its exit code.
func Main() int {
	env := os.Getenv(EnvCookie)
	os.Unsetenv(EnvCookie)
	fds := inherited()
	os.Unsetenv(EnvInherited)
	ppid, cookie, ok := strings.Cut(env, ":")
	// The parent sets PR_SET_PDEATHSIG before exec; comparing the parent
	// pid after exec also catches a parent that died before that.
	if !ok || ppid != strconv.Itoa(os.Getppid()) {
		fmt.Fprintf(os.Stderr, "wasmpool: this process was started as a wasmpool worker (%s is set), but not by a wasmpool pool.\n"+
			"Workers are started by pool.New in the parent program; run the program itself instead.\n", EnvCookie)
		return ExitUsage
	}
	// Before any descriptor of ours is opened or duplicated: close what
	// the parent leaked to us by accident (a descriptor without
	// close-on-exec).
	harden.CloseInherited(fds, ControlFD, ArenaFD, SegmentsFD, StreamsFD, CodeFD)
	f := os.NewFile(ControlFD, "wasmpool-control")
	conn, err := net.FileConn(f)
	f.Close()
	if err != nil {
		fmt.Fprintf(os.Stderr, "wasmpool worker: no control channel on fd %d: %v\n", ControlFD, err)
		return ExitUsage
	}
	// Main runs from a package init, where the runtime keeps the main
	// goroutine locked to the main thread: every time a locked goroutine
	// blocks, its thread hands its P to another and sleeps, and waking it
	// takes both back. Serving from a goroutine of its own keeps those
	// hand-offs off every call; the locked one sleeps once, here.
	code := make(chan int)
	go func() { code <- serve(conn, cookie) }()
	return <-code
}

// server is one worker's state.
type server struct {
	w      *wire.Writer
	mods   map[string]*host.Module // "" is the main module
	intr   bool
	queue  chan *wire.Call
	mu     sync.Mutex
	cancel map[uint64]context.CancelFunc // calls running now
	queued map[uint64]bool               // calls waiting for an executor

	// The reader bumps drained each time it has read every frame there
	// was (readerIdle), and raises idle until it stops waiting (Awake); an
	// executor about to start a call while frames are unread waits on
	// drainCond for drained to move (see next).
	calls        *shm.Stream
	drained      atomic.Uint64
	idle         atomic.Bool
	drainWaiters atomic.Int32
	drainMu      sync.Mutex
	drainCond    *sync.Cond
}

func serve(conn net.Conn, cookie string) int {
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(handshakeTimeout))
	r := wire.NewReader(conn, maxInit)
	t, body, err := r.Next()
	if err != nil || t != wire.TypeInit {
		fmt.Fprintf(os.Stderr, "wasmpool worker: no Init frame: %v\n", err)
		return ExitUsage
	}
	var init wire.Init
	if err := wire.ParseCBOR(body, &init); err != nil || init.Cookie != cookie {
		fmt.Fprintf(os.Stderr, "wasmpool worker: bad Init frame (err %v)\n", err)
		return ExitUsage
	}
	conn.SetReadDeadline(time.Time{})
	w := wire.NewWriter(conn) // for Hello; every later frame goes over the streams
	defer w.Close()

	ctx := context.Background()
	cfg := host.Config{
		CacheDir:         init.CacheDir,
		MemoryLimitPages: init.MemoryLimitPages,
		MaxMessageSize:   init.MaxMessageSize,
		Interruptible:    init.Interruptible,
		Participant:      init.Participant,
		Capabilities:     init.Capabilities,
	}
	var calls, results, replies *shm.Stream
	if init.Participant == 0 {
		err = errors.New("Init names no participant: a worker needs the shared arena")
	}
	if err == nil {
		if cfg.Arena, err = shm.Map(os.NewFile(ArenaFD, "wasmpool-arena")); err == nil {
			defer cfg.Arena.Close()
		}
	}
	if err == nil {
		// Local id 0 is never an instance's (host.Runtime skips it).
		tok := shm.MakeToken(init.Participant, 0)
		var streams *shm.Arena
		// Never unmapped: executors may still write results while serve
		// returns, and the mapping ends with the process.
		if streams, err = shm.Map(os.NewFile(StreamsFD, "wasmpool-streams")); err == nil {
			if calls, err = shm.StreamAt(streams, init.Calls, tok); err == nil {
				if results, err = shm.StreamAt(streams, init.Results, tok); err == nil {
					replies, err = shm.StreamAt(streams, init.Replies, tok)
				}
			}
		}
	}
	var rw *wire.Writer // every frame after Hello
	if err == nil {
		rw = wire.NewWriter(results)
		defer rw.Close()
		reqs := &requests{w: rw, replies: replies}
		var segs *shm.Client
		if segs, err = segmentClient(reqs.exchange); err == nil {
			defer segs.Close()
			cfg.Segments, cfg.Objects = segs, segs
		}
	}
	var code []byte
	if err == nil {
		// Never unmapped: wazero may keep slices of the module it compiled.
		f := os.NewFile(CodeFD, "wasmpool-code")
		code, _, err = shm.MapSealed(f)
		f.Close() // the mapping outlives the descriptor
	}
	var rt *host.Runtime
	// Loading a module from the cache allocates a few times its size, a
	// heap that lasts: collecting on the way (from the 4 MiB a process
	// starts with) frees little and costs about 5 of the 40 ms a pool of
	// two takes to start here. The collector waits until the module is
	// loaded, or until the heap reaches loadHeapLimit.
	gc := debug.SetGCPercent(-1)
	limit := debug.SetMemoryLimit(-1) // reads the limit: GOMEMLIMIT, if set, stays the lower bound
	debug.SetMemoryLimit(min(limit, loadHeapLimit))
	var mods map[string]*host.Module
	if err == nil {
		rt, mods, err = load(ctx, cfg, code, init)
		if err != nil && cfg.CacheDir != "" {
			// The cache is read-only to a worker (Landlock), and wazero
			// fails a compile it cannot add to it: a worker that misses
			// the cache (its files deleted since the parent filled it)
			// compiles without it.
			cfg.CacheDir = ""
			rt, mods, err = load(ctx, cfg, code, init)
		}
	}
	debug.SetGCPercent(gc)
	debug.SetMemoryLimit(limit)
	if err != nil {
		frame, _ := wire.AppendCBOR(nil, wire.TypeHello, &wire.Hello{PID: os.Getpid(), Err: &wire.Error{Kind: wire.KindCompile, Message: err.Error()}})
		w.Send(frame)
		return ExitStart
	}
	defer rt.Close(ctx)
	// The runtime is ready and the module compiled: from here on the
	// worker needs no new process, program or socket.
	if !init.Unhardened {
		err := harden.Apply()
		if err == nil {
			err = harden.Landlock(landlockPaths(init.Capabilities.Dirs)...)
		}
		// Best effort where the platform or binary cannot: not available
		// is not a failure; a failure to apply what is available is.
		if err != nil && !errors.Is(err, harden.ErrNotSupported) && !errors.Is(err, harden.ErrNoLandlock) {
			frame, _ := wire.AppendCBOR(nil, wire.TypeHello, &wire.Hello{PID: os.Getpid(), Err: &wire.Error{Message: err.Error()}})
			w.Send(frame)
			return ExitStart
		}
	}
	if AfterHarden != nil {
		AfterHarden()
	}
	// Before any guest runs: changing GOMAXPROCS stops the world, which
	// waits for every guest to leave wasm. Setting it, even to what it
	// is, also keeps the runtime from changing it later on its own (as it
	// does when the CPUs it may use change).
	threads := init.Threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	runtime.GOMAXPROCS(threads)
	frame, err := wire.AppendCBOR(nil, wire.TypeHello, &wire.Hello{PID: os.Getpid()})
	if err != nil || w.Send(frame) != nil {
		return ExitProtocol
	}

	// The socket carries no more frames: it is the streams' bell, and its
	// end (the parent is gone) ends the calls stream as the parent's Close
	// of it does.
	calls.SetBell(conn, true)
	results.SetBell(conn, false)
	if AfterHello != nil {
		AfterHello(results)
	}
	r = wire.NewReader(calls, init.MaxMessageSize+wire.Overhead)
	s := &server{
		w:      rw,
		mods:   mods,
		intr:   init.Interruptible,
		queue:  make(chan *wire.Call, 1<<16),
		cancel: map[uint64]context.CancelFunc{},
		queued: map[uint64]bool{},
	}
	s.calls = calls
	s.drainCond = sync.NewCond(&s.drainMu)
	calls.Spin = s.readerIdle
	calls.Awake = func() { s.idle.Store(false) }
	for range max(init.Concurrency, 1) {
		go s.executor()
	}
	for {
		t, body, err := r.Next()
		if err != nil {
			if errors.Is(err, wire.ErrFrame) || errors.Is(err, shm.ErrCorrupt) {
				fmt.Fprintf(os.Stderr, "wasmpool worker: %v\n", err)
				return ExitProtocol
			}
			return ExitOK // the parent is gone or closed the channel
		}
		switch t {
		case wire.TypeCall, wire.TypeEach:
			c, err := wire.ParseCall(body, t == wire.TypeEach)
			if err == nil && len(c.Each) > 0 {
				err = checkEach(&c)
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "wasmpool worker: %v\n", err)
				return ExitProtocol
			}
			if abi.CallKind(c.Kind) == abi.CallProcess {
				s.mu.Lock()
				s.queued[c.ID] = true
				s.mu.Unlock()
				go s.run(&c)
				continue
			}
			s.mu.Lock()
			s.queued[c.ID] = true
			s.mu.Unlock()
			select {
			case s.queue <- &c:
			default:
				// Full (of calls cancelled while queued, which stay until
				// an executor drops them): executors waiting in next for
				// this reader must take from it for the reader to go on.
				s.drain()
				s.queue <- &c
				s.idle.Store(false)
			}
		case wire.TypeCancel:
			id, err := wire.ParseCancel(body)
			if err != nil {
				return ExitProtocol
			}
			if code := s.cancelCall(id); code != 0 {
				return code
			}
		default:
			fmt.Fprintf(os.Stderr, "wasmpool worker: unexpected frame type %d\n", t)
			return ExitProtocol
		}
	}
}

// checkEach checks a call with Each: a task call whose input holds one
// item per ID.
func checkEach(c *wire.Call) error {
	if abi.CallKind(c.Kind) != abi.CallBatch {
		return fmt.Errorf("%w: each call of kind %d", wire.ErrFrame, c.Kind)
	}
	items, err := abi.ParseList(c.Input, len(c.Each))
	if err != nil {
		return fmt.Errorf("%w: each call: %v", wire.ErrFrame, err)
	}
	if len(items) != len(c.Each) {
		return fmt.Errorf("%w: each call of %d items for %d IDs", wire.ErrFrame, len(items), len(c.Each))
	}
	return nil
}

// readerIdle is the calls stream's Spin hook: the reader has read every
// frame there was and starts waiting for more.
func (s *server) readerIdle() bool {
	if !s.idle.Load() { // asked again at every yield of the same wait
		s.drain()
	}
	return true // go on spinning
}

// drain marks the reader idle and lets the executors waiting in next go.
func (s *server) drain() {
	s.idle.Store(true)
	s.drained.Add(1)
	if s.drainWaiters.Load() > 0 {
		s.drainMu.Lock()
		s.drainCond.Broadcast()
		s.drainMu.Unlock()
	}
}

// next returns the next task call for an executor, waiting for one. While
// the parent has written frames the reader has not read, it first waits
// until the reader has read them: a worker has no P to spare for its
// reader while guests compute (Init.Threads), so the reader runs when
// executors wait, and a Cancel for the call behind the one that just
// ended must be seen before that call starts.
func (s *server) next() *wire.Call {
	// Pending before idle: the reader clears idle (Awake) before it takes
	// bytes, so bytes gone from the stream show as a reader not idle.
	g := s.drained.Load()
	if s.calls.Pending() || !s.idle.Load() {
		s.drainMu.Lock()
		s.drainWaiters.Add(1)
		for s.drained.Load() == g {
			s.drainCond.Wait()
		}
		s.drainWaiters.Add(-1)
		s.drainMu.Unlock()
	}
	return <-s.queue
}

// cancelCall stops call id: a queued call is dropped, an interruptible one
// is interrupted, and a running one that cannot be interrupted is stopped
// the only way there is, by ending this process (the returned exit code).
func (s *server) cancelCall(id uint64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.queued[id] {
		// Answer at once: the executor may be busy with a long call, and
		// a parent that hears nothing ends the worker (pool's cancelGrace).
		// The executor drops the call when it reaches it.
		s.queued[id] = false
		s.reply(&wire.Result{ID: id, Err: &wire.Error{Kind: wire.KindCancelled}})
		return 0
	}
	stop, running := s.cancel[id]
	if !running {
		return 0 // finished already
	}
	if s.intr {
		stop()
		return 0
	}
	// Flush finished results, then exit at once: unwinding would close
	// the runtime under the guest that is still running.
	s.w.Close()
	os.Exit(ExitCancelled)
	return ExitCancelled
}

// executor runs task calls one at a time on one reusable instance per
// module, replaced when a call breaks it.
func (s *server) executor() {
	ex := &runner{s: s, insts: map[*host.Module]*host.Instance{}, out: &output{s: s}}
	for {
		c := s.next()
		ctx, stop, ok := s.start(c)
		if !ok {
			continue
		}
		mod, fn := s.module(c.Name)
		if len(c.Each) > 0 {
			ex.each(ctx, mod, fn, c)
			s.retire(c.ID, stop)
			continue
		}
		inst, err := ex.instance(mod)
		if err != nil {
			s.retire(c.ID, stop)
			s.finish(c, nil, err)
			continue
		}
		ex.out.id = c.ID
		res, err := s.call(ctx, stop, inst, c)
		s.finish(c, res, err)
		ex.check(mod, inst)
	}
}

// runner is what one executor goroutine keeps between calls.
type runner struct {
	s     *server
	insts map[*host.Module]*host.Instance
	out   *output
	one   []byte   // the one-item list of each's call
	items [][]byte // the items of each's call
}

// instance returns the executor's instance of mod, making it if need be.
func (ex *runner) instance(mod *host.Module) (*host.Instance, error) {
	if inst := ex.insts[mod]; inst != nil {
		return inst, nil
	}
	inst, err := mod.NewInstance(context.Background(), host.InstanceConfig{
		Stdout: ex.out.stream(wire.StreamStdout), Stderr: ex.out.stream(wire.StreamStderr), Log: ex.out.log,
	})
	if err != nil {
		return nil, err
	}
	ex.insts[mod] = inst
	return inst, nil
}

// check discards inst if the call it ran broke it (a trap, an exit).
func (ex *runner) check(mod *host.Module, inst *host.Instance) {
	if inst.Broken() != nil {
		inst.Close(context.Background())
		delete(ex.insts, mod)
	}
}

// each runs a call with Each: function fn once per item, each on a list
// of that item, as separate calls would run (an item that breaks the
// instance leaves the next a fresh one; an item not started by the call's
// deadline gets KindDeadline). It answers each item with an Item frame
// and then the call with an empty Result, sending the frames gathered
// every eachFlush bytes or eachDelay, whichever comes first, and at the
// end: the answers of items that finished before a long one wait for it.
// Once ctx ends (an interruptible worker's deadline or cancel), the items
// not started get the error of the one it stopped.
func (ex *runner) each(ctx context.Context, mod *host.Module, fn string, c *wire.Call) {
	ex.items, _ = abi.AppendItems(ex.items[:0], c.Input, len(c.Each)) // checked by checkEach
	var (
		frames  []byte
		stopped *wire.Error
		sent    = time.Now()
	)
	for i, item := range ex.items {
		it := wire.Item{ID: c.ID, Index: uint32(i), Err: stopped}
		if it.Err == nil && ctx.Err() != nil {
			stopped = toWire(c.Name, ctx.Err())
			it.Err = stopped
		}
		if it.Err == nil && c.Deadline != 0 && time.Now().UnixNano() > c.Deadline {
			it.Err = &wire.Error{Kind: wire.KindDeadline, Function: c.Name}
		}
		ex.out.id = c.Each[i]
		var inst *host.Instance
		var err error
		if it.Err == nil {
			if inst, err = ex.instance(mod); err != nil {
				it.Err = toWire(c.Name, err)
			}
		}
		if it.Err == nil {
			ex.one = abi.AppendList(ex.one[:0], [][]byte{item})
			if it.Output, err = inst.Call(ctx, abi.CallBatch, fn, ex.one); err != nil {
				it.Err = toWire(c.Name, err)
				if ctx.Err() != nil {
					stopped = it.Err
				}
			}
			ex.check(mod, inst)
		}
		frames = wire.AppendItem(frames, &it)
		if len(frames) >= eachFlush || time.Since(sent) >= eachDelay {
			ex.send(frames)
			frames, sent = frames[:0], time.Now()
		}
	}
	ex.send(wire.AppendResult(frames, &wire.Result{ID: c.ID, Output: []byte{}}))
}

// send sends frames of each's.
func (ex *runner) send(frames []byte) {
	if BeforeItems != nil {
		frames = BeforeItems(frames)
	}
	ex.s.w.Send(frames)
}

// eachDelay bounds how long each holds the Item frames of finished items
// while it starts others.
const eachDelay = 100 * time.Microsecond

// eachFlush is how many bytes of Item frames each gathers before it sends
// them: sent together, they cost one write to the results stream.
const eachFlush = 16 << 10

// module returns the module a call names and the function's name in it:
// "name/fn" for a module of Init.Modules, a plain name for the main one.
func (s *server) module(qualified string) (*host.Module, string) {
	if name, fn, ok := strings.Cut(qualified, "/"); ok {
		if m := s.mods[name]; m != nil && name != "" {
			return m, fn
		}
	}
	return s.mods[""], qualified
}

// run runs a process call on a fresh instance of its own.
func (s *server) run(c *wire.Call) {
	ctx, stop, ok := s.start(c)
	if !ok {
		return
	}
	out := &output{s: s, id: c.ID}
	mod, _ := s.module(c.Name)
	inst, err := mod.NewInstance(context.Background(), host.InstanceConfig{
		Stdout: out.stream(wire.StreamStdout), Stderr: out.stream(wire.StreamStderr), Log: out.log,
	})
	if err != nil {
		s.retire(c.ID, stop)
		s.finish(c, nil, err)
		return
	}
	res, err := s.call(ctx, stop, inst, c)
	inst.Close(context.Background())
	s.finish(c, res, err)
}

// start moves c from queued to running in one step under the lock, so a
// Cancel always finds the call in one of the two maps. A call cancelled
// while it waited is dropped (cancelCall answered it); one whose deadline
// passed while it waited is answered here.
// It returns the context to run c under and its cancel function.
func (s *server) start(c *wire.Call) (context.Context, context.CancelFunc, bool) {
	ctx, stop := context.Background(), context.CancelFunc(func() {})
	if s.intr && c.Deadline != 0 {
		ctx, stop = context.WithDeadline(ctx, time.Unix(0, c.Deadline))
	} else if s.intr {
		ctx, stop = context.WithCancel(ctx)
	}
	s.mu.Lock()
	live := s.queued[c.ID]
	delete(s.queued, c.ID)
	expired := c.Deadline != 0 && time.Now().UnixNano() > c.Deadline
	if live && !expired {
		s.cancel[c.ID] = stop
	}
	s.mu.Unlock()
	switch {
	case !live:
		stop() // cancelled while queued: cancelCall answered it
		return nil, nil, false
	case expired:
		stop()
		s.reply(&wire.Result{ID: c.ID, Err: &wire.Error{Kind: wire.KindDeadline, Function: c.Name}})
		return nil, nil, false
	}
	return ctx, stop, true
}

// call runs c, which start admitted, and retires it from the running map.
func (s *server) call(ctx context.Context, stop context.CancelFunc, inst *host.Instance, c *wire.Call) ([]byte, error) {
	defer stop()
	_, fn := s.module(c.Name)
	out, err := inst.Call(ctx, abi.CallKind(c.Kind), fn, c.Input)
	s.mu.Lock()
	delete(s.cancel, c.ID)
	s.mu.Unlock()
	return out, err
}

// retire forgets a running call that ends without reaching the guest.
func (s *server) retire(id uint64, stop context.CancelFunc) {
	stop()
	s.mu.Lock()
	delete(s.cancel, id)
	s.mu.Unlock()
}

func (s *server) finish(c *wire.Call, out []byte, err error) {
	if err != nil {
		s.reply(&wire.Result{ID: c.ID, Err: toWire(c.Name, err)})
		return
	}
	s.reply(&wire.Result{ID: c.ID, Output: out})
}

func (s *server) reply(r *wire.Result) {
	s.w.Send(wire.AppendResult(nil, r))
}

// toWire converts a host error to its wire form: the one place worker
// errors are mapped.
func toWire(fn string, err error) *wire.Error {
	var (
		trap *host.TrapError
		exit *host.GuestExitError
		call *host.CallError
	)
	switch {
	case errors.As(err, &trap):
		return &wire.Error{Kind: wire.KindTrap, Function: fn, Message: trap.Message, Stack: trap.Stack, Stderr: trap.Stderr}
	case errors.As(err, &exit):
		return &wire.Error{Kind: wire.KindGuestExit, Function: fn, Code: exit.Code, Stderr: exit.Stderr}
	case errors.As(err, &call):
		return &wire.Error{Kind: wire.KindCall, Function: fn, Code: uint32(call.Errno)}
	case errors.Is(err, host.ErrTooLarge):
		return &wire.Error{Kind: wire.KindTooLarge, Function: fn}
	case errors.Is(err, context.DeadlineExceeded):
		return &wire.Error{Kind: wire.KindDeadline, Function: fn, Message: err.Error()}
	case errors.Is(err, context.Canceled):
		return &wire.Error{Kind: wire.KindInterrupt, Function: fn, Message: err.Error()}
	}
	return &wire.Error{Kind: wire.KindInternal, Function: fn, Message: err.Error()}
}

// output routes an instance's stdout, stderr and log records to the parent
// as Log frames tagged with the call running now.
type output struct {
	s  *server
	id uint64
}

type streamWriter struct {
	o      *output
	stream uint8
}

func (o *output) stream(st uint8) *streamWriter { return &streamWriter{o: o, stream: st} }

func (sw *streamWriter) Write(p []byte) (int, error) {
	sw.o.s.w.Send(wire.AppendLog(nil, &wire.Log{ID: sw.o.id, Stream: sw.stream, Data: p}))
	return len(p), nil
}

func (o *output) log(level abi.LogLevel, msg []byte) {
	o.s.w.Send(wire.AppendLog(nil, &wire.Log{ID: o.id, Stream: wire.StreamLog + uint8(level), Data: msg}))
}

// requests carries the worker's requests to the parent (shm.Client's)
// with its results; the sender then reads the reply from the replies
// stream itself, spinning first: the parent answers within microseconds.
// The client lets one request out at a time, so each reply is the
// sender's.
type requests struct {
	w       *wire.Writer
	replies *shm.Stream
	buf     [shm.MaxRequest]byte
}

func (r *requests) exchange(req []byte) ([]byte, error) {
	if err := r.w.Send(wire.AppendRaw(nil, wire.TypeRequest, req)); err != nil {
		return nil, err
	}
	n, err := r.replies.Read(r.buf[:])
	if err != nil {
		return nil, err
	}
	return r.buf[:n], nil
}

// segmentClient is the client of the parent's shm.Services: its requests
// go by exchange, the descriptors it is granted come on the inherited
// socket.
func segmentClient(exchange func([]byte) ([]byte, error)) (*shm.Client, error) {
	c, err := shm.NewClient(os.NewFile(SegmentsFD, "wasmpool-segments"), exchange)
	if err != nil {
		return nil, fmt.Errorf("fd %d: %w", SegmentsFD, err)
	}
	return c, nil
}

// maxInit bounds the Init frame, which carries the configuration only (the
// modules are in the code file).
const maxInit = 16 << 20

// loadHeapLimit bounds the heap while the worker loads its modules without
// collecting.
const loadHeapLimit = 256 << 20

// loadRegion compiles the module in region r of the code file.
func loadRegion(ctx context.Context, rt *host.Runtime, code []byte, r shm.Region) (*host.Module, error) {
	if r.Off > uint64(len(code)) || r.Size > uint64(len(code))-r.Off {
		return nil, fmt.Errorf("module region [%d, +%d) outside the code file's %d bytes", r.Off, r.Size, len(code))
	}
	return rt.Load(ctx, code[r.Off:r.Off+r.Size:r.Off+r.Size])
}

// load makes the worker's runtime and loads its modules into it ("" is
// the main one). On failure it closes the runtime.
func load(ctx context.Context, cfg host.Config, code []byte, init wire.Init) (*host.Runtime, map[string]*host.Module, error) {
	rt, err := host.NewRuntime(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	mods := map[string]*host.Module{}
	if mods[""], err = loadRegion(ctx, rt, code, init.Wasm); err != nil { // the parent checked these bytes
		rt.Close(ctx)
		return nil, nil, err
	}
	for name, r := range init.Modules {
		if mods[name], err = loadRegion(ctx, rt, code, r); err != nil {
			rt.Close(ctx)
			return nil, nil, fmt.Errorf("module %q: %w", name, err)
		}
	}
	return rt, mods, nil
}

// landlockPaths are the preopened directories, as Landlock rules.
func landlockPaths(dirs []host.Dir) []harden.Path {
	ps := make([]harden.Path, len(dirs))
	for i, d := range dirs {
		ps[i] = harden.Path{Dir: d.Host, ReadOnly: d.ReadOnly}
	}
	return ps
}
