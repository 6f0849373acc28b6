// Package pool runs WebAssembly guest modules on a pool of worker OS
// processes, one per core by default: Python's multiprocessing for wasm.
//
// A Pool is made from a guest module (see package guest) with New and runs
// the module's task functions with Submit, Call, Map and MapUnordered, and
// its process functions as Processes. Each worker is a separate OS process
// running a wazero runtime: a guest that traps, exits or runs away takes at
// most its instance, or its worker, with it; the pool replaces the worker
// and goes on.
//
// Workers are this program re-executed: importing pool makes any binary
// able to act as a worker (an environment cookie guards the switch, in this
// package's init). A program that uses pool must therefore not do work in
// init functions that must not run in workers.
package pool

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmpool/wasmpool/abi"
	"github.com/wasmpool/wasmpool/host"
	"github.com/wasmpool/wasmpool/internal/harden"
	"github.com/wasmpool/wasmpool/internal/shm"
	"github.com/wasmpool/wasmpool/internal/worker"
)

func init() {
	if worker.IsWorker() {
		os.Exit(worker.Main())
	}
}

// Config configures a Pool. Zero values are the documented defaults; New
// copies and validates it once.
type Config struct {
	// Module is the guest module's wasm bytes. Required.
	Module []byte
	// Workers is the number of worker processes. 0 means runtime.NumCPU().
	Workers int
	// Concurrency is how many calls one worker runs at once, each on its
	// own instance. Processes do not count against it: each runs on an
	// instance of its own. 0 means 1.
	Concurrency int
	// Prefetch is how many task calls the pool sends a worker beyond those
	// it is running, to hide the round trip. 0 means it adapts: 4 while
	// the worker's calls take under 100 µs each, else 2 (a call held
	// behind a long one waits while another worker may be idle).
	Prefetch int
	// WorkerThreads is each worker's GOMAXPROCS: how many of its
	// goroutines run Go or guest code at once. 0 means Concurrency when
	// the module has no process function and the pool is not
	// Interruptible, else the parent's GOMAXPROCS (by default the CPUs
	// available to it).
	// Fewer Ps make each call cheaper (a worker hands calls between
	// goroutines without waking threads), but a guest computing in wasm
	// holds its P until it returns: with all of them held, a process
	// started on that worker waits for a task call to end, and an
	// Interruptible pool needs one more than Concurrency for the worker
	// to act on a cancel while its guests run. See RATIONALE.md, "Why
	// does a worker have only as many Ps as guests that may run?".
	WorkerThreads int
	// CacheDir is the on-disk compilation cache, private to this user
	// (mode 0700). "" means the "wasmpool" directory in
	// os.UserCacheDir(); "off" disables the cache.
	CacheDir string
	// MemoryLimitPages bounds each instance's linear memory in 64 KiB
	// pages. 0 means host.DefaultMemoryLimitPages (1 GiB).
	MemoryLimitPages uint32
	// MaxMessageSize bounds a call's input and output in bytes. 0 means
	// host.DefaultMaxMessageSize (64 MiB).
	MaxMessageSize int
	// Interruptible lets a deadline or Terminate stop a running guest
	// without ending its worker, at a cost on every guest loop (see
	// RATIONALE.md). Without it, stopping a running call ends its worker
	// process; the pool starts another.
	Interruptible bool
	// Modules are further guest modules by name, run in the same workers
	// and sharing the pool's queues, pipes, locks and segments with
	// Module's guests (a C producer feeding a Go consumer, say). Call
	// their functions as "name/function" with Submit, Map and Process.
	// Names are letters, digits, '-' and '_'. Every worker compiles every
	// module.
	Modules map[string][]byte
	// Capabilities are what guests may reach besides their memory and
	// the pool's objects: preopened directories, environment, arguments,
	// stdin, the wall clock, real randomness. The zero value grants none;
	// sockets are never granted.
	Capabilities Capabilities
	// Unhardened starts workers without their OS hardening: by default a
	// worker reaches no file outside its preopened directories, the
	// compilation cache (read-only) and the program's own files, from its
	// first instruction where the kernel has Landlock; once its runtime is
	// ready it cannot exec a program, start a process, ptrace or create a
	// socket (seccomp), gains no privileges, dumps no core and keeps no
	// descriptor it inherited by accident (see RATIONALE.md). Set it only
	// to debug a worker.
	Unhardened bool
	// WorkerMemoryLimit bounds each worker process's anonymous resident
	// memory in bytes (its heap and its guests' linear memory, not the
	// shared arena and segments); 0 means no bound. The parent checks every 50 ms (a watchdog:
	// cgroup v2 delegation is not available everywhere, and not on the
	// machines we test on) and kills a worker over it: its calls fail with
	// a *WorkerExitError whose Reason says so, or are retried (Retries). An
	// idle worker takes about 50 MiB; MemoryLimitPages bounds each guest.
	WorkerMemoryLimit int64
	// MaxTasksPerWorker ends a worker once it has answered this many task
	// calls (a Submit, or one chunk of a Map; one-item calls are then
	// never merged), after its calls in flight
	// finish, and starts a fresh one in its slot: Python's
	// maxtasksperchild, for guests that leak. 0 means no limit.
	MaxTasksPerWorker int
	// Retries is how many times a task call is run again after its worker
	// died under it. 0 means never: the call fails with *WorkerExitError.
	// A call never retries after its own trap or error. Calls the worker
	// held but had not started (prefetched) are not charged: they go back
	// to the queue. The unanswered items of a merged call it had started
	// (see ChunkSize) are each charged, and retried one call each.
	Retries int
	// StartTimeout bounds the start of each worker, compile included.
	// 0 means 30 seconds.
	StartTimeout time.Duration
	// Output receives what guests write to stdout and stderr and their log
	// records. Nil means: written to os.Stdout or os.Stderr, each line
	// prefixed with "[function#id] ". A Process with its own Stdout or
	// Stderr writer gets its output there instead.
	Output func(Output)
	// ArenaSize is the size in bytes of the shared memory that holds the
	// pool's queues, pipes, locks and other shared objects, reserved when
	// the pool starts (pages are only used once touched). 0 means 64 MiB.
	ArenaSize int
	// MaxObjects bounds how many shared objects the pool can hold. 0 means
	// 4096; at most 65536.
	MaxObjects int
	// MaxGuestObjects bounds how many shared objects guests create, all
	// workers and all their restarts together: objects live as long as
	// the pool, so a guest that creates them in a loop (or crashes and
	// starts again) would otherwise fill the table for everyone. One more
	// fails in the guest with ENOSPC; the parent's own objects are not
	// counted. 0 means half of MaxObjects (at least 1); -1 means guests
	// create none.
	MaxGuestObjects int
	// MaxGuestObjectBytes bounds the arena bytes those objects take
	// (a queue's ring, for one, and 64 bytes of alignment each),
	// likewise. 0 means half of ArenaSize.
	MaxGuestObjectBytes int
	// MaxSegmentSize bounds the size in bytes of one shared-memory segment
	// (SharedMemory). 0 means 4 GiB.
	MaxSegmentSize int64
	// MaxSegments bounds how many named segments exist at once. 0 means
	// 1024.
	MaxSegments int
	// MaxSegmentBytes bounds the bytes of all named segments together,
	// whoever made them (a guest cannot take more than this); creating
	// one more fails with ErrNoSpace. 0 means no bound beyond
	// MaxSegments × MaxSegmentSize.
	MaxSegmentBytes int64
}

// Capabilities are the grants of Config.Capabilities (host.Capabilities).
type Capabilities = host.Capabilities

// Dir is a preopened directory of Capabilities: Host seen at Guest.
type Dir = host.Dir

// Output is one piece of guest output.
type Output struct {
	// Function and CallID name the call it came from.
	Function string
	CallID   uint64
	// Stream is 1 for stdout, 2 for stderr, 3 for a log record.
	Stream int
	// Level is the log level of a log record.
	Level abi.LogLevel
	// Data is only valid during the callback.
	Data []byte
}

// Output streams.
const (
	Stdout = 1
	Stderr = 2
	Log    = 3
)

// Pool is a set of worker processes running one guest module. Its methods
// are safe for concurrent use. Close stops it; a Pool is not reusable.
type Pool struct {
	cfg       Config
	functions map[string]abi.FuncKind
	fnList    []abi.Function
	queue     taskQueue
	objGate   gate // parent calls on arena objects; see gate
	spawn     *spawner
	nextID    atomic.Uint64
	merged    atomic.Int64 // merged calls sent (workerProc.merge)
	// mergeWithin is how long a merged call may take: fastCall (tests
	// raise it to merge whatever the machine's speed).
	mergeWithin time.Duration
	// prefetchFast and prefetchSlow are the task calls a worker is sent
	// beyond Concurrency while its calls are short and while they are not
	// (the same unless Config.Prefetch is 0); see workerProc.minQueue.
	prefetchFast, prefetchSlow int

	// arena holds the shared objects; objects creates them. parts tracks
	// the participant numbers of live worker processes.
	arena   *shm.Arena
	objects *shm.Directory
	// guestObjects and guestBytes count what guests created, against
	// Config.MaxGuestObjects and MaxGuestObjectBytes; under guestMu.
	guestMu      sync.Mutex
	guestObjects int
	guestBytes   uint64
	segs         *shm.Segments // named shared-memory segments
	// code is a sealed memfd holding every module, inherited by each
	// worker; codeMain and codeMods are their regions in it.
	code     *os.File
	codeMain shm.Region
	codeMods map[string]shm.Region
	parts    participants
	locals   atomic.Uint32 // local ids of parent handles

	// live is a copy of workers that feeders read without taking mu
	// (they run under the task queue's lock; see accepts).
	live atomic.Pointer[[]*workerProc]

	mu      sync.Mutex
	closed  bool
	workers []*workerProc // current process of each slot
	wg      sync.WaitGroup
	done    chan struct{} // closed by Close

	outMu sync.Mutex // serializes default output
}

// New starts a pool: it compiles and validates cfg.Module (filling the
// compilation cache), starts the workers and waits until every one is
// ready or ctx is done. Errors: *CompileError, *ImportError, *ExportError
// or *VersionError for a module it cannot run; *StartError for a worker
// that failed to start; ErrNotSupported off Linux.
func New(ctx context.Context, cfg Config) (*Pool, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	p := &Pool{cfg: cfg, done: make(chan struct{})}
	p.queue.init()
	p.prefetchFast, p.prefetchSlow = prefetchDepths(cfg.Prefetch)
	p.mergeWithin = fastCall
	// The workers' copy of the modules is made while they are checked.
	made := make(chan error, 1)
	go func() { made <- p.makeCode() }()
	err := p.describe(ctx)
	if merr := <-made; err == nil {
		err = merr
	}
	if err != nil {
		if p.code != nil {
			p.code.Close()
		}
		return nil, err
	}
	if p.arena, err = shm.Create(cfg.ArenaSize, cfg.MaxObjects); err != nil {
		p.code.Close()
		return nil, err
	}
	p.objects = shm.NewDirectory(p.arena)
	p.segs = shm.NewSegments(cfg.MaxSegmentSize, cfg.MaxSegments)
	p.segs.LimitTotal(cfg.MaxSegmentBytes)
	var confine []harden.Path // nil: the spawner is not confined
	if !cfg.Unhardened {
		confine, err = spawnPaths(&p.cfg)
	}
	if err == nil {
		p.spawn, err = newSpawner(confine)
	}
	if err != nil {
		p.arena.Close()
		p.code.Close()
		return nil, err
	}
	p.workers = make([]*workerProc, cfg.Workers)
	type started struct {
		slot int
		w    *workerProc
		err  error
	}
	ch := make(chan started, cfg.Workers)
	for slot := range cfg.Workers {
		go func() {
			w, err := p.startWorker(ctx, slot)
			ch <- started{slot, w, err}
		}()
	}
	var errs []error
	for range cfg.Workers {
		s := <-ch
		if s.err != nil {
			errs = append(errs, s.err)
			continue
		}
		p.workers[s.slot] = s.w
	}
	if len(errs) > 0 {
		p.Close()
		return nil, errs[0]
	}
	p.publishWorkers()
	for slot, w := range p.workers {
		p.wg.Add(1)
		go p.supervise(slot, w)
	}
	if cfg.WorkerMemoryLimit > 0 {
		p.wg.Add(1)
		go p.watchMemory()
	}
	return p, nil
}

// prefetchDepths returns the prefetch while a worker's calls are short and
// while they are not, for Config.Prefetch.
func prefetchDepths(prefetch int) (fast, slow int) {
	if prefetch == 0 {
		return 4, 2
	}
	return prefetch, prefetch
}

// maxHeld bounds the task calls a worker holds (Concurrency + Prefetch):
// the worker queues them in a channel of that size.
const maxHeld = 1 << 16

// describe checks every module and fills p.fnList and p.functions.
func (p *Pool) describe(ctx context.Context) error {
	fns, err := p.validate(ctx, p.cfg.Module)
	if err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(p.cfg.Modules)) {
		more, err := p.validate(ctx, p.cfg.Modules[name])
		if err != nil {
			return fmt.Errorf("pool: module %q: %w", name, err)
		}
		for _, f := range more {
			fns = append(fns, abi.Function{Name: name + "/" + f.Name, Kind: f.Kind})
		}
	}
	p.fnList = fns
	p.functions = make(map[string]abi.FuncKind, len(fns))
	for _, f := range fns {
		if _, dup := p.functions[f.Name]; dup {
			return fmt.Errorf("pool: two functions are named %q (Config.Modules names meet a function name with a '/')", f.Name)
		}
		p.functions[f.Name] = f.Kind
	}
	return nil
}

func (cfg *Config) normalize() error {
	if len(cfg.Module) == 0 {
		return errors.New("pool: Config.Module is empty")
	}
	if err := cfg.Capabilities.Check(); err != nil {
		return err
	}
	// The pool keeps its own copies: workers restarted later must get
	// what was checked.
	cfg.Modules = maps.Clone(cfg.Modules)
	cfg.Capabilities.Dirs = slices.Clone(cfg.Capabilities.Dirs)
	cfg.Capabilities.Env = slices.Clone(cfg.Capabilities.Env)
	cfg.Capabilities.Args = slices.Clone(cfg.Capabilities.Args)
	cfg.Capabilities.Stdin = slices.Clone(cfg.Capabilities.Stdin)
	for name, wasm := range cfg.Modules {
		if name == "" || strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" || len(wasm) == 0 {
			return fmt.Errorf("pool: Config.Modules: module %q: want a name of letters, digits, '-' and '_', and its bytes", name)
		}
	}
	if cfg.Workers < 0 || cfg.Concurrency < 0 || cfg.Prefetch < 0 || cfg.WorkerThreads < 0 || cfg.Retries < 0 || cfg.MaxMessageSize < 0 || cfg.MaxTasksPerWorker < 0 || cfg.WorkerMemoryLimit < 0 {
		return errors.New("pool: negative Workers, Concurrency, Prefetch, WorkerThreads, Retries, MaxMessageSize, MaxTasksPerWorker or WorkerMemoryLimit")
	}
	if cfg.Workers == 0 {
		cfg.Workers = runtime.NumCPU()
	}
	if cfg.Concurrency+cfg.Prefetch > maxHeld {
		return fmt.Errorf("pool: Concurrency + Prefetch over %d", maxHeld)
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 1
	}
	if cfg.MaxMessageSize == 0 {
		cfg.MaxMessageSize = host.DefaultMaxMessageSize
	}
	if cfg.MemoryLimitPages == 0 {
		cfg.MemoryLimitPages = host.DefaultMemoryLimitPages
	}
	if cfg.ArenaSize == 0 {
		cfg.ArenaSize = 64 << 20
	}
	if cfg.MaxObjects == 0 {
		cfg.MaxObjects = 4096
	}
	if cfg.ArenaSize < 0 || cfg.MaxObjects < 0 || cfg.MaxObjects > 1<<16 || cfg.MaxGuestObjects < -1 || cfg.MaxGuestObjectBytes < 0 {
		return errors.New("pool: ArenaSize, MaxObjects, MaxGuestObjects or MaxGuestObjectBytes out of range")
	}
	switch cfg.MaxGuestObjects {
	case 0:
		cfg.MaxGuestObjects = max(cfg.MaxObjects/2, 1)
	case -1:
		cfg.MaxGuestObjects = 0
	}
	if cfg.MaxGuestObjectBytes == 0 {
		cfg.MaxGuestObjectBytes = cfg.ArenaSize / 2
	}
	if cfg.MaxSegmentSize == 0 {
		cfg.MaxSegmentSize = 4 << 30
	}
	if cfg.MaxSegments == 0 {
		cfg.MaxSegments = 1024
	}
	if cfg.MaxSegmentSize < 0 || cfg.MaxSegments < 0 || cfg.MaxSegmentBytes < 0 {
		return errors.New("pool: negative MaxSegmentSize, MaxSegments or MaxSegmentBytes")
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 30 * time.Second
	}
	switch cfg.CacheDir {
	case "off":
		cfg.CacheDir = ""
	case "":
		dir, err := os.UserCacheDir()
		if err != nil {
			return fmt.Errorf("pool: no cache directory (set Config.CacheDir): %w", err)
		}
		cfg.CacheDir = filepath.Join(dir, "wasmpool")
	}
	return nil
}

// validate compiles the module once in the parent, which checks it and
// fills the compilation cache before any worker starts, so workers load
// native code instead of each compiling it. A module validated before
// (same bytes, same cache) skips the compile: its function table is kept
// beside the cache.
func (p *Pool) validate(ctx context.Context, wasm []byte) ([]abi.Function, error) {
	marker := ""
	if p.cfg.CacheDir != "" {
		sum := sha256.Sum256(wasm)
		// The marker stands for a filled cache as well as a checked
		// module, and workers cannot fill it themselves (see
		// precompile): so it names what the cache's entries depend on,
		// the engine's version and whether the code is interruptible.
		name := hex.EncodeToString(sum[:]) + "-abi" + fmt.Sprint(abi.Version) + "-" + engineVersion()
		if p.cfg.Interruptible {
			name += "-interruptible"
		}
		marker = filepath.Join(p.cfg.CacheDir, "validated", name)
		if b, err := os.ReadFile(marker); err == nil {
			if fns, err := abi.ParseFunctions(b); err == nil {
				return fns, nil
			}
		}
	}
	// Checking the module runs guest code (its start function, _initialize,
	// its version and function table) in this process, where nothing can
	// be killed: it runs interruptible, bounded by StartTimeout. The
	// workers' runtime is not interruptible, and wazero keys its cache on
	// that, so the cache for the workers is filled by a second compile
	// alongside (compiling runs no guest code).
	fill := make(chan error, 1)
	go func() { fill <- p.precompile(ctx, wasm) }()
	rt, err := host.NewRuntime(ctx, host.Config{MemoryLimitPages: p.cfg.MemoryLimitPages, MaxMessageSize: p.cfg.MaxMessageSize, Interruptible: true})
	if err != nil {
		<-fill
		return nil, err
	}
	defer rt.Close(ctx)
	vctx, cancel := context.WithTimeout(ctx, p.cfg.StartTimeout)
	defer cancel()
	m, err := rt.Compile(vctx, wasm)
	if ferr := <-fill; err == nil && ferr != nil {
		err = ferr
	}
	if err != nil {
		if vctx.Err() != nil && ctx.Err() == nil {
			return nil, &StartError{Worker: -1, Err: fmt.Errorf("the module did not finish starting (start function, _initialize or function table) within StartTimeout %v: %w", p.cfg.StartTimeout, context.DeadlineExceeded)}
		}
		return nil, err
	}
	fns := m.Functions()
	if marker != "" {
		writeFileAtomic(marker, abi.AppendFunctions(nil, fns))
	}
	return fns, nil
}

// makeCode puts every module in one sealed file for the workers to map.
func (p *Pool) makeCode() error {
	var parts [][]byte
	var off uint64
	add := func(wasm []byte) shm.Region {
		parts = append(parts, wasm)
		r := shm.Region{Off: off, Size: uint64(len(wasm))}
		off += r.Size
		return r
	}
	p.codeMain = add(p.cfg.Module)
	p.codeMods = make(map[string]shm.Region, len(p.cfg.Modules))
	for _, name := range slices.Sorted(maps.Keys(p.cfg.Modules)) {
		p.codeMods[name] = add(p.cfg.Modules[name])
	}
	var err error
	p.code, err = shm.NewSealedFile("wasmpool-code", parts...)
	return err
}

// precompile fills the compilation cache for the workers' runtime.
func (p *Pool) precompile(ctx context.Context, wasm []byte) error {
	if p.cfg.CacheDir == "" {
		return nil
	}
	rt, err := host.NewRuntime(ctx, host.Config{CacheDir: p.cfg.CacheDir, MemoryLimitPages: p.cfg.MemoryLimitPages,
		MaxMessageSize: p.cfg.MaxMessageSize, Interruptible: p.cfg.Interruptible})
	if err != nil {
		return err
	}
	defer rt.Close(ctx)
	return rt.Precompile(ctx, wasm)
}

// writeFileAtomic writes b to name through a temporary file and a rename,
// so a reader never sees half a file. Failures only cost a later compile.
func writeFileAtomic(name string, b []byte) {
	if err := os.MkdirAll(filepath.Dir(name), 0o700); err != nil {
		return
	}
	f, err := os.CreateTemp(filepath.Dir(name), ".tmp-*")
	if err != nil {
		return
	}
	_, err = f.Write(b)
	if err = errors.Join(err, f.Close()); err == nil {
		err = os.Rename(f.Name(), name)
	}
	if err != nil {
		os.Remove(f.Name())
	}
}

// Functions returns the module's function table.
func (p *Pool) Functions() []abi.Function { return append([]abi.Function(nil), p.fnList...) }

// Workers returns the number of worker processes.
func (p *Pool) Workers() int { return p.cfg.Workers }

// PIDs returns the process id of each worker slot now; a slot whose
// worker is being replaced reports 0.
func (p *Pool) PIDs() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	pids := make([]int, len(p.workers))
	for i, w := range p.workers {
		if w != nil && !w.isDead() {
			pids[i] = w.pid
		}
	}
	return pids
}

// Close stops the pool: calls that have not finished fail with ErrClosed,
// running processes end, and the worker processes are stopped (asked to
// exit, killed after a second). Calls blocked on the pool's queues, pipes
// and locks return ErrClosed (within 20 ms), and so does every later call
// on their handles. It waits for all of it and is idempotent.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.wg.Wait()
		return nil
	}
	p.closed = true
	close(p.done)
	workers := append([]*workerProc(nil), p.workers...)
	p.mu.Unlock()

	for _, t := range p.queue.drain() {
		t.finish(nil, ErrClosed)
	}
	for _, w := range workers {
		if w != nil {
			w.stop(time.Second)
		}
	}
	p.wg.Wait()
	for _, t := range p.queue.drain() {
		t.finish(nil, ErrClosed)
	}
	if p.spawn != nil {
		p.spawn.close()
	}
	p.objGate.shut()
	if p.arena != nil {
		p.arena.Close()
	}
	if p.segs != nil {
		p.segs.Close()
	}
	if p.code != nil {
		p.code.Close()
	}
	return nil
}

func (p *Pool) isClosed() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// checkFunction returns a *FunctionError unless the module has fn as a task
// (process false) or process (process true).
func (p *Pool) checkFunction(fn string, process bool) error {
	kind, ok := p.functions[fn]
	switch {
	case !ok:
		return &FunctionError{Name: fn, Reason: "the module has no such function"}
	case process && kind != abi.FuncProcess:
		return &FunctionError{Name: fn, Reason: "is a " + kind.String() + ", not a process"}
	case !process && !kind.IsTask():
		return &FunctionError{Name: fn, Reason: "is a process, not a task"}
	}
	return nil
}

// enqueue assigns t an id, arranges for ctx to cancel it, and queues it. If
// the pool is closed or ctx is done, t finishes at once.
func (p *Pool) enqueue(ctx context.Context, t *task) {
	t.id = p.nextID.Add(1)
	t.pool = p
	if dl, ok := ctx.Deadline(); ok {
		t.deadline = dl
	}
	if len(t.input) > p.cfg.MaxMessageSize {
		t.finish(nil, fmt.Errorf("pool: %s: input of %d bytes: %w", t.fn, len(t.input), ErrTooLarge))
		return
	}
	if ctx.Done() != nil {
		t.watch(context.AfterFunc(ctx, func() { p.cancel(t, ctxError(ctx, t)) }))
	}
	if p.isClosed() {
		t.finish(nil, ErrClosed)
		return
	}
	p.queue.push(t)
	// Close drains the queue after setting done; a push that raced it is
	// drained here.
	if p.isClosed() {
		for _, t := range p.queue.drain() {
			t.finish(nil, ErrClosed)
		}
	}
}

func ctxError(ctx context.Context, t *task) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &TimeoutError{Function: t.fn, Deadline: t.deadline}
	}
	return ctx.Err()
}

// cancel finishes t with err and, if a worker holds it, has the worker drop
// it or stop it (stopping a running call that is not interruptible ends the
// worker).
func (p *Pool) cancel(t *task, err error) {
	// Reading the holder and finishing in one step closes the window in
	// which a worker claims and sends the task after the holder was read
	// as none: the call would then run unstopped.
	ok, w := t.settle(nil, err)
	if !ok {
		return
	}
	if w != nil {
		w.stopCall(t)
	} else if c := t.carriedBy(); c != nil {
		// Merged into one call with calls of the same caller, which
		// share its context: the merged call stops as a whole.
		p.cancel(c, err)
	}
}

// cancelGrace is how long an interruptible worker has to stop a
// cancelled call, and any worker to drop a call cancelled while queued
// there once it is next in line (checkCancelled), before the pool ends
// it. A guest running compiled wasm cannot be preempted by the Go runtime,
// so a worker whose guest loops can be wedged as a whole: the next garbage
// collection waits forever for the guest's thread to stop, and with it
// the goroutine that would read the Cancel. Only the parent can end such
// a worker. (A worker that is not interruptible is ended at once for a
// call it runs; see stopCall.)
const cancelGrace = 250 * time.Millisecond

// Future is the pending result of Submit. Its methods are safe for
// concurrent use.
type Future struct {
	done   chan struct{}
	out    []byte
	err    error
	worker int
}

// Done is closed when the result is ready.
func (f *Future) Done() <-chan struct{} { return f.done }

// Wait waits for the result or for ctx. The output belongs to the caller.
// If ctx ends first, Wait returns ctx.Err() and the call goes on (cancel the
// context given to Submit to stop it).
func (f *Future) Wait(ctx context.Context) ([]byte, error) {
	select {
	case <-f.done:
		return f.out, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Worker returns the slot of the worker that ran the call, or -1 if none
// did. Valid once Done is closed.
func (f *Future) Worker() int { return f.worker }

// Submit queues one call of task function fn with input, which the pool
// copies before Submit returns. ctx bounds the call: when it is done the
// call fails with ctx's error (a *TimeoutError for a deadline) and, if it
// was running, is stopped (see Config.Interruptible). Errors are delivered
// by the Future: *FunctionError, *TaskError, *InvalidInputError,
// *TrapError, *GuestExitError, *WorkerExitError, *TimeoutError, ErrTooLarge,
// ErrClosed.
func (p *Pool) Submit(ctx context.Context, fn string, input []byte) *Future {
	f := &Future{done: make(chan struct{}), worker: -1}
	if err := p.checkFunction(fn, false); err != nil {
		f.err = err
		close(f.done)
		return f
	}
	t := &task{kind: abi.CallBatch, fn: fn, retries: p.cfg.Retries}
	t.input = abi.AppendList(make([]byte, 0, 8+len(input)), [][]byte{input})
	t.done = func(out []byte, err error, w *workerProc) {
		if w != nil {
			f.worker = w.slot
		}
		if err == nil {
			var res []abi.Result
			if res, err = abi.ParseResults(out, 1); err == nil {
				if err = resultError(fn, res[0]); err == nil {
					f.out = res[0].Payload
				}
			}
		}
		f.err = err
		close(f.done)
	}
	p.enqueue(ctx, t)
	return f
}

// Call runs task function fn on input and waits for its output: Submit
// followed by Wait with the same context.
func (p *Pool) Call(ctx context.Context, fn string, input []byte) ([]byte, error) {
	return p.Submit(ctx, fn, input).Wait(context.Background())
}

// deliver writes guest output to the configured destination.
func (p *Pool) deliver(o Output, proc *Process) {
	if proc != nil {
		if w := proc.writer(o.Stream); w != nil {
			w.Write(o.Data)
			return
		}
	}
	if p.cfg.Output != nil {
		p.cfg.Output(o)
		return
	}
	var dst io.Writer = os.Stdout
	if o.Stream != Stdout {
		dst = os.Stderr
	}
	prefix := fmt.Sprintf("[%s#%d] ", o.Function, o.CallID)
	if o.Stream == Log {
		prefix += o.Level.String() + ": "
	}
	var b bytes.Buffer
	for line := range strings.Lines(string(o.Data)) {
		b.WriteString(prefix)
		b.WriteString(line)
	}
	if o.Stream == Log && !bytes.HasSuffix(b.Bytes(), []byte("\n")) {
		b.WriteByte('\n')
	}
	p.outMu.Lock()
	dst.Write(b.Bytes())
	p.outMu.Unlock()
}

// engineVersion names the wazero this program is built with, as its module
// version ("unknown" where the binary carries no build information, as a
// test binary does not). Its compilation cache is kept per version.
func engineVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/tetratelabs/wazero" {
				if d.Replace != nil {
					d = d.Replace
				}
				return strings.ReplaceAll(d.Version, "/", "_")
			}
		}
	}
	return "unknown"
}
