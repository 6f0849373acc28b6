package pool

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/wasmpool/wasmpool/abi"
)

// Process runs one process function of the module on a fresh instance, as
// multiprocessing.Process runs a target: made by Pool.Process, started
// once with Start, waited for with Join. Its methods are safe for
// concurrent use; a Process is not reusable.
//
// Exit codes follow Python's: 0 when the function returns nil, 1 when it
// returns an error, panics or traps, n when the guest calls os.Exit(n), -15
// after Terminate or a deadline, -9 after Kill or when its worker died.
type Process struct {
	// Stdout and Stderr, if set before Start, receive the process's
	// output unprefixed instead of Config.Output.
	Stdout, Stderr io.Writer

	p    *Pool
	fn   string
	args [][]byte
	done chan struct{}

	mu       sync.Mutex
	t        *task
	exitCode int
	err      error
	signal   int // 15 or 9 once Terminate or Kill was asked
}

// Process returns a process that will run process function fn with args
// (copied). It does not start it.
func (p *Pool) Process(fn string, args ...[]byte) *Process {
	return &Process{p: p, fn: fn, args: args, exitCode: -1, done: make(chan struct{})}
}

// ErrStarted is returned by Start on a Process started before.
var ErrStarted = errors.New("pool: process already started")

// Start starts the process on a worker, ahead of the tasks still queued in
// the pool (not of those a worker already holds). ctx bounds
// the process's life: when it is done the process is terminated. Start
// returns a *FunctionError for a function the module lacks or that is not
// a process, ErrStarted, or ErrClosed; failures after the start are
// reported by ExitCode and Err.
func (pr *Process) Start(ctx context.Context) error {
	if err := pr.p.checkFunction(pr.fn, true); err != nil {
		return err
	}
	if pr.p.isClosed() {
		return ErrClosed
	}
	pr.mu.Lock()
	if pr.t != nil {
		pr.mu.Unlock()
		return ErrStarted
	}
	t := &task{kind: abi.CallProcess, fn: pr.fn, proc: pr, input: abi.AppendList(nil, pr.args)}
	t.done = pr.exit
	pr.t = t
	pr.mu.Unlock()
	t.id = pr.p.nextID.Add(1)
	t.pool = pr.p
	if dl, ok := ctx.Deadline(); ok {
		t.deadline = dl
	}
	if ctx.Done() != nil {
		t.watch(context.AfterFunc(ctx, func() { pr.stop(15, ctxError(ctx, t)) }))
	}
	pr.p.queue.pushFront(t)
	if pr.p.isClosed() {
		for _, t := range pr.p.queue.drain() {
			t.finish(nil, ErrClosed)
		}
	}
	return nil
}

// exit records how the process ended; it is the task's done callback.
func (pr *Process) exit(out []byte, err error, w *workerProc) {
	if w != nil {
		w.procs.Add(-1)
		pr.p.queue.poke()
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	var (
		exit  *GuestExitError
		wexit *WorkerExitError
	)
	switch {
	case err == nil:
		res, perr := abi.ParseResults(out, 1)
		switch {
		case perr != nil:
			pr.exitCode, pr.err = 1, perr
		case res[0].Status != abi.StatusOK:
			pr.exitCode, pr.err = 1, resultError(pr.fn, res[0])
		default:
			pr.exitCode = 0
		}
	case errors.As(err, &exit):
		pr.exitCode = int(exit.Code)
		if exit.Code != 0 {
			pr.err = err
		}
	case pr.signal != 0:
		pr.exitCode, pr.err = -pr.signal, err
	case errors.As(err, &wexit), errors.Is(err, ErrClosed):
		pr.exitCode, pr.err = -9, err
	case errors.Is(err, ErrTimeout):
		pr.exitCode, pr.err = -15, err
	default:
		pr.exitCode, pr.err = 1, err
	}
	close(pr.done)
}

// Join waits for the process to end, or for ctx; it returns nil once the
// process has ended, whatever its exit code, and ctx.Err() otherwise. Join
// on a process never started returns ErrNotStarted.
func (pr *Process) Join(ctx context.Context) error {
	pr.mu.Lock()
	started := pr.t != nil
	pr.mu.Unlock()
	if !started {
		return ErrNotStarted
	}
	select {
	case <-pr.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ErrNotStarted is returned by Join, Terminate and Kill on a Process that
// was never started.
var ErrNotStarted = errors.New("pool: process not started")

// Done is closed when the process has ended.
func (pr *Process) Done() <-chan struct{} { return pr.done }

// ExitCode returns the exit code, or -1 while the process has not ended
// (Python's None). See Process for the codes.
func (pr *Process) ExitCode() int {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	select {
	case <-pr.done:
		return pr.exitCode
	default:
		return -1
	}
}

// Err returns why the process ended with a nonzero exit code (a
// *TaskError for a returned error or panic, *TrapError, *GuestExitError,
// *WorkerExitError, *TimeoutError), or nil.
func (pr *Process) Err() error {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return pr.err
}

// IsAlive reports whether the process has started and not ended.
func (pr *Process) IsAlive() bool {
	pr.mu.Lock()
	started := pr.t != nil
	pr.mu.Unlock()
	select {
	case <-pr.done:
		return false
	default:
		return started
	}
}

// Terminate stops the process; its exit code becomes -15. An interruptible
// pool (Config.Interruptible) stops the guest alone; otherwise the worker
// process hosting it ends and is replaced, and the task calls it held are
// run again elsewhere. Terminate does not wait: use Join.
func (pr *Process) Terminate() error { return pr.stop(15, errors.New("pool: process terminated")) }

// Kill ends the worker process hosting the process at once (SIGKILL); its
// exit code becomes -9. The task calls the worker held are run again
// elsewhere; other processes on it end with -9 too. Kill does not wait.
func (pr *Process) Kill() error { return pr.stop(9, errors.New("pool: process killed")) }

func (pr *Process) stop(sig int, err error) error {
	pr.mu.Lock()
	t := pr.t
	if t != nil && pr.signal == 0 {
		pr.signal = sig
	}
	pr.mu.Unlock()
	if t == nil {
		return ErrNotStarted
	}
	w := t.holder()
	if sig == 9 && w != nil {
		w.kill("Process.Kill of "+pr.fn, true)
		return nil
	}
	pr.p.cancel(t, err)
	return nil
}

func (pr *Process) writer(stream int) io.Writer {
	switch stream {
	case Stdout:
		return pr.Stdout
	case Stderr:
		return pr.Stderr
	}
	return nil
}

// PID returns the process ID of the worker process running the process, 0
// before it reaches one. Several processes may share one worker.
func (pr *Process) PID() int {
	pr.mu.Lock()
	t := pr.t
	pr.mu.Unlock()
	if t == nil {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ran == nil {
		return 0
	}
	return t.ran.pid
}
