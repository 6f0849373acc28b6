//go:build linux

package pool

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/wasmpool/wasmpool/abi"
	"github.com/wasmpool/wasmpool/internal/worker"
	"github.com/wasmpool/wasmpool/internal/worker/probe"
	"github.com/wasmpool/wasmpool/modules"
	"golang.org/x/sys/unix"

	"github.com/wasmpool/wasmpool/internal/leakcheck"
)

func testModule(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../testdata/" + name)
	require.NoError(t, err)
	return b
}

// newTestPool starts a pool of the test guest and closes it when the test
// ends.
func newTestPool(t testing.TB, cfg Config) *Pool {
	t.Helper()
	if cfg.Module == nil {
		cfg.Module = testModule(t, "testguest.wasm")
	}
	if cfg.Workers == 0 {
		cfg.Workers = 2
	}
	if cfg.CacheDir == "" {
		cfg.CacheDir = testCache
	}
	if cfg.StartTimeout == 0 {
		// A module's first, cold compile takes 20-30 s under the race
		// detector on a busy machine; the default 30 s is a bound for
		// hangs, not a figure to test.
		cfg.StartTimeout = 2 * time.Minute
	}
	if cfg.Output == nil {
		cfg.Output = func(Output) {}
	}
	p, err := New(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	return p
}

func u64(x uint64) []byte { return binary.LittleEndian.AppendUint64(nil, x) }

// Workers cannot write the compilation cache (Landlock keeps it
// read-only to them). One that misses it, because its files went while
// the parent's validated marker stayed, compiles without it and starts.
func TestNew_workersMissTheCache(t *testing.T) {
	// Compiling from cold, and in the worker without the cache, takes
	// half a minute under the race detector.
	const slow = 3 * time.Minute
	cache := t.TempDir()
	newTestPool(t, Config{Workers: 1, CacheDir: cache, StartTimeout: slow}).Close()
	subdirs, err := filepath.Glob(filepath.Join(cache, "wazero-*"))
	require.NoError(t, err)
	require.NotEmpty(t, subdirs, "the parent filled the cache")
	for _, d := range subdirs {
		require.NoError(t, os.RemoveAll(d))
	}
	p := newTestPool(t, Config{Workers: 1, CacheDir: cache, StartTimeout: slow})
	out, err := p.Call(context.Background(), "upper", []byte("compiled anyway"))
	require.NoError(t, err)
	require.Equal(t, "COMPILED ANYWAY", string(out))
}

// An Interruptible pool's code differs from a plain one's: the
// validated marker of one must not keep the parent from filling the
// cache for the other, which its workers (read-only there) cannot do.
func TestNew_cacheFilledPerInterruptible(t *testing.T) {
	cache := t.TempDir()
	entries := func() int {
		files, err := filepath.Glob(filepath.Join(cache, "wazero-*", "*"))
		require.NoError(t, err)
		return len(files)
	}
	const slow = 3 * time.Minute // two cold compiles, slow under the race detector
	newTestPool(t, Config{Workers: 1, CacheDir: cache, StartTimeout: slow}).Close()
	plain := entries()
	require.Positive(t, plain)
	newTestPool(t, Config{Workers: 1, CacheDir: cache, Interruptible: true, StartTimeout: slow}).Close()
	require.Greater(t, entries(), plain, "the parent filled the cache for interruptible code")
}

func TestNew_badModules(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		file string
		want any
	}{
		{"bad/notwasm.wasm", new(*CompileError)},
		{"bad/badimport.wasm", new(*ImportError)},
		{"bad/noexports.wasm", new(*ExportError)},
		{"bad/oldabi.wasm", new(*VersionError)},
	} {
		t.Run(tc.file, func(t *testing.T) {
			_, err := New(ctx, Config{Module: testModule(t, tc.file), Workers: 1, CacheDir: testCache})
			require.ErrorAs(t, err, tc.want)
		})
	}
	_, err := New(ctx, Config{})
	require.ErrorContains(t, err, "Module is empty")

	// A module cut short, and 64 MiB of bytes that are not one.
	whole := testModule(t, "testguest.wasm")
	_, err = New(ctx, Config{Module: whole[:len(whole)/2], Workers: 1, CacheDir: testCache})
	require.ErrorAs(t, err, new(*CompileError))
	_, err = New(ctx, Config{Module: make([]byte, 64<<20), Workers: 1, CacheDir: testCache})
	require.ErrorAs(t, err, new(*CompileError))

	// A start function that never returns: New gives up after
	// StartTimeout instead of hanging the parent.
	start := time.Now()
	_, err = New(ctx, Config{Module: testModule(t, "bad/startloop.wasm"), Workers: 1, CacheDir: testCache, StartTimeout: time.Second})
	var se *StartError
	require.ErrorAs(t, err, &se)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 10*time.Second)
}

func TestCall(t *testing.T) {
	p := newTestPool(t, Config{})
	ctx := context.Background()

	out, err := p.Call(ctx, "upper", []byte("hello"))
	require.NoError(t, err)
	require.Equal(t, "HELLO", string(out))

	out, err = p.Call(ctx, "double", u64(21))
	require.NoError(t, err)
	require.Equal(t, u64(42), out)

	sum, err := CallTyped[int](ctx, p, "add", []int{1, 2, 3})
	require.NoError(t, err)
	require.Equal(t, 6, sum)

	var te *TaskError
	_, err = p.Call(ctx, "fail", []byte("x"))
	require.ErrorAs(t, err, &te)
	require.Equal(t, "failed on purpose: x", te.Message)

	_, err = p.Call(ctx, "panic", nil)
	require.ErrorAs(t, err, &te)
	require.True(t, strings.HasPrefix(te.Message, "panic: panicked on purpose"), te.Message)

	var ie *InvalidInputError
	_, err = p.Call(ctx, "add", []byte("not cbor"))
	require.ErrorAs(t, err, &ie)
	_, err = CallTyped[int](ctx, p, "add", "a string, not a list")
	require.ErrorAs(t, err, &ie)
	_, err = p.Call(ctx, "even", []byte("abc"))
	require.ErrorAs(t, err, &ie)
	require.Equal(t, InvalidInputError{Function: "even", Reason: "odd length 3"}, *ie)

	var fe *FunctionError
	_, err = p.Call(ctx, "no_such_function", nil)
	require.ErrorIs(t, err, ErrUnknownFunction)
	require.ErrorAs(t, err, &fe)
	_, err = p.Call(ctx, "hello", nil)
	require.ErrorIs(t, err, ErrUnknownFunction, "a process called as a task")
	require.ErrorIs(t, p.Process("echo").Start(ctx), ErrUnknownFunction, "a task started as a process")
}

// TestCall_guestFailures runs each kind of guest failure on a one-worker
// pool and checks that the next call on the same worker succeeds: a broken
// instance is discarded, never reused, and the worker keeps serving.
func TestCall_guestFailures(t *testing.T) {
	p := newTestPool(t, Config{Workers: 1, MemoryLimitPages: 2048})
	ctx := context.Background()
	pid := p.PIDs()[0]
	for _, tc := range []struct {
		fn    string
		check func(t *testing.T, err error)
	}{
		{"trap", func(t *testing.T, err error) {
			var e *TrapError
			require.ErrorAs(t, err, &e)
			require.Contains(t, e.Message, "out of bounds memory access")
			require.Contains(t, e.Stack, "wasmpool_call")
		}},
		{"exit", func(t *testing.T, err error) {
			var e *GuestExitError
			require.ErrorAs(t, err, &e)
			require.Equal(t, uint32(3), e.Code)
		}},
		{"deadlock", func(t *testing.T, err error) {
			var e *TrapError
			require.ErrorAs(t, err, &e)
			require.Contains(t, e.Stderr, "deadlock")
		}},
		{"oom", func(t *testing.T, err error) {
			var e *TrapError
			require.ErrorAs(t, err, &e)
			require.Contains(t, e.Stderr, "out of memory")
		}},
	} {
		t.Run(tc.fn, func(t *testing.T) {
			_, err := p.Call(ctx, tc.fn, nil)
			tc.check(t, err)
			out, err := p.Call(ctx, "upper", []byte("after "+tc.fn))
			require.NoError(t, err)
			require.Equal(t, strings.ToUpper("after "+tc.fn), string(out))
			require.Equal(t, []int{pid}, p.PIDs(), "the worker survives a guest failure")
		})
	}
}

func TestCall_badPointers(t *testing.T) {
	p := newTestPool(t, Config{Workers: 1})
	out, err := p.Call(context.Background(), "badptr", nil)
	require.NoError(t, err)
	require.Equal(t, []byte{byte(abi.EFAULT), byte(abi.EINVAL), byte(abi.EMSGSIZE), byte(abi.EFAULT), byte(abi.EFAULT), byte(abi.EMSGSIZE)}, out)
}

func TestCall_tooLarge(t *testing.T) {
	p := newTestPool(t, Config{Workers: 1, MaxMessageSize: 1 << 20})
	ctx := context.Background()
	_, err := p.Call(ctx, "echo", make([]byte, 2<<20))
	require.ErrorIs(t, err, ErrTooLarge)
	_, err = p.Call(ctx, "big", []byte(strconv.Itoa(2<<20)))
	require.ErrorIs(t, err, ErrTooLarge)
	out, err := p.Call(ctx, "big", []byte(strconv.Itoa(512<<10)))
	require.NoError(t, err)
	require.Len(t, out, 512<<10)
}

// TestCall_timeoutStopsWork: a runaway guest cannot be preempted, so its
// deadline ends its worker; the call behind it on the same worker is not at
// fault and runs on the replacement.
func TestCall_timeoutStopsWork(t *testing.T) {
	p := newTestPool(t, Config{Workers: 1})
	before := p.PIDs()[0]
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	runaway := p.Submit(ctx, "loop", nil)
	behind := p.Submit(context.Background(), "upper", []byte("innocent"))
	_, err := runaway.Wait(context.Background())
	var te *TimeoutError
	require.ErrorAs(t, err, &te)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 5*time.Second)

	out, err := behind.Wait(context.Background())
	require.NoError(t, err)
	require.Equal(t, "INNOCENT", string(out))
	require.Eventually(t, func() bool { pid := p.PIDs()[0]; return pid != 0 && pid != before }, 10*time.Second, 10*time.Millisecond)
	require.False(t, leakcheck.Alive(before), "the runaway's worker is gone")
}

// TestCall_cancelWedgedWorker: a worker that cannot read its Cancel (here
// stopped with SIGSTOP; in life, a garbage collection waiting for a looping
// guest's thread) is ended by the parent, and the call behind runs on the
// replacement.
func TestCall_cancelWedgedWorker(t *testing.T) {
	p := newTestPool(t, Config{Workers: 1})
	before := p.PIDs()[0]
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	runaway := p.Submit(ctx, "loop", nil)
	behind := p.Submit(context.Background(), "upper", []byte("innocent"))
	time.Sleep(100 * time.Millisecond)
	require.NoError(t, syscall.Kill(before, syscall.SIGSTOP))
	start := time.Now()
	_, err := runaway.Wait(context.Background())
	require.ErrorIs(t, err, ErrTimeout)
	out, err := behind.Wait(context.Background())
	require.NoError(t, err)
	require.Equal(t, "INNOCENT", string(out))
	require.Less(t, time.Since(start), 5*time.Second)
	require.False(t, leakcheck.Alive(before), "the wedged worker is gone")
}

// TestCall_cancelQueuedInWorker: cancelling a call the worker holds but has
// not started (a prefetch behind a long call) answers at once; the call
// never runs, the worker is not ended for it, and the long call runs
// once, to its end: whether the long call blocks (sleep) or computes
// without a host call (sleepbusy, after a sleep that lets the worker read
// the call behind it), and whether the worker has a P to spare for
// reading the Cancel or not (WorkerThreads 1).
func TestCall_cancelQueuedInWorker(t *testing.T) {
	for _, c := range []struct {
		fn, in  string
		threads int
	}{
		{"sleep", "1000", 0},
		{"sleep", "1000", 1},
		{"sleepbusy", "100:1500000000", 0},
		{"sleepbusy", "100:1500000000", 1},
	} {
		t.Run(fmt.Sprintf("%s/threads=%d", c.fn, c.threads), func(t *testing.T) {
			var mu sync.Mutex
			var printed []string
			p := newTestPool(t, Config{Workers: 1, WorkerThreads: c.threads, Output: func(o Output) {
				mu.Lock()
				printed = append(printed, string(o.Data))
				mu.Unlock()
			}})
			pid := p.PIDs()[0]
			long := p.Submit(context.Background(), c.fn, []byte(c.in))
			time.Sleep(20 * time.Millisecond)
			ctx, cancel := context.WithCancel(context.Background())
			queued := p.Submit(ctx, "print", []byte("cancelled"))
			time.Sleep(130 * time.Millisecond) // read by the worker, behind long
			start := time.Now()
			cancel()
			_, err := queued.Wait(context.Background())
			require.ErrorIs(t, err, context.Canceled)
			require.Less(t, time.Since(start), 100*time.Millisecond, "the caller is answered at once")
			out, err := long.Wait(context.Background())
			require.NoError(t, err)
			require.Equal(t, c.in, string(out))
			out, err = p.Call(context.Background(), "print", []byte("after"))
			require.NoError(t, err)
			require.Equal(t, "after", string(out))
			require.Equal(t, []int{pid}, p.PIDs(), "the worker was not ended")
			mu.Lock()
			defer mu.Unlock()
			require.NotEmpty(t, printed)
			for _, s := range printed {
				require.NotContains(t, s, "cancelled", "the cancelled call ran")
			}
		})
	}
}

// TestCall_cancelQueuedRunaway: a runaway cancelled while queued in the
// worker behind a computing call is dropped when that call ends, with a P
// to spare for the worker's reader or without, and never holds up the
// call after it.
func TestCall_cancelQueuedRunaway(t *testing.T) {
	for _, threads := range []int{0, 1} {
		t.Run(fmt.Sprintf("threads=%d", threads), func(t *testing.T) {
			p := newTestPool(t, Config{Workers: 1, WorkerThreads: threads})
			pid := p.PIDs()[0]
			// long sleeps first, which lets the worker read the runaway's
			// call, then computes.
			long := p.Submit(context.Background(), "sleepbusy", []byte("100:1500000000"))
			time.Sleep(20 * time.Millisecond)
			ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
			defer cancel()
			runaway := p.Submit(ctx, "loop", nil)
			_, err := runaway.Wait(context.Background())
			require.ErrorIs(t, err, ErrTimeout)
			out, err := long.Wait(context.Background())
			require.NoError(t, err)
			require.Equal(t, "100:1500000000", string(out))
			start := time.Now()
			out, err = p.Call(context.Background(), "upper", []byte("behind"))
			require.NoError(t, err)
			require.Equal(t, "BEHIND", string(out))
			require.Less(t, time.Since(start), 5*time.Second)
			require.Equal(t, []int{pid}, p.PIDs(), "the worker dropped the runaway")
		})
	}
}

func TestCall_interruptible(t *testing.T) {
	p := newTestPool(t, Config{Workers: 1, Interruptible: true})
	pid := p.PIDs()[0]
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := p.Call(ctx, "loop", nil)
	require.ErrorIs(t, err, ErrTimeout)
	out, err := p.Call(context.Background(), "upper", []byte("x"))
	require.NoError(t, err)
	require.Equal(t, "X", string(out))
	require.Equal(t, []int{pid}, p.PIDs(), "an interruptible guest is stopped without ending its worker")
}

func TestCall_queuedDeadline(t *testing.T) {
	p := newTestPool(t, Config{Workers: 1})
	busy := p.Submit(context.Background(), "sleep", []byte("300"))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := p.Call(ctx, "upper", []byte("late"))
	require.ErrorIs(t, err, ErrTimeout, "a call that never started times out")
	_, err = busy.Wait(context.Background())
	require.NoError(t, err, "the running call is not disturbed")
}

func TestMap(t *testing.T) {
	p := newTestPool(t, Config{})
	ctx := context.Background()
	inputs := make([][]byte, 10_000)
	for i := range inputs {
		inputs[i] = u64(uint64(i))
	}
	for name, opts := range map[string][]MapOption{
		"default": nil, "chunk=1": {ChunkSize(1)}, "chunk=7": {ChunkSize(7)}, "chunk=all": {ChunkSize(1 << 20)},
	} {
		t.Run(name, func(t *testing.T) {
			out, err := p.Map(ctx, "double", inputs, opts...)
			require.NoError(t, err)
			require.Len(t, out, len(inputs))
			for i, o := range out {
				if binary.LittleEndian.Uint64(o) != 2*uint64(i) {
					t.Fatalf("item %d = %d", i, binary.LittleEndian.Uint64(o))
				}
			}
		})
	}
	out, err := p.Map(ctx, "double", nil)
	require.NoError(t, err)
	require.Empty(t, out)

	sums, err := MapTyped[int](ctx, p, "add", [][]int{{1}, {2, 3}, {}})
	require.NoError(t, err)
	require.Equal(t, []int{1, 5, 0}, sums)
}

func TestMap_itemError(t *testing.T) {
	p := newTestPool(t, Config{})
	inputs := make([][]byte, 100)
	for i := range inputs {
		inputs[i] = u64(uint64(i))
	}
	inputs[37], inputs[80] = []byte("bad"), []byte("worse")
	out, err := p.Map(context.Background(), "double", inputs, ChunkSize(10))
	var ie *ItemError
	require.ErrorAs(t, err, &ie)
	require.Equal(t, 37, ie.Index, "the failure with the lowest index")
	var te *TaskError
	require.ErrorAs(t, err, &te)
	require.Equal(t, u64(0), out[0], "outputs of items that succeeded are kept")

	_, err = p.Map(context.Background(), "nope", inputs)
	require.ErrorIs(t, err, ErrUnknownFunction)
}

func TestMapUnordered(t *testing.T) {
	p := newTestPool(t, Config{})
	const n = 2000
	inputs := func(yield func([]byte) bool) {
		for i := range n {
			if !yield(u64(uint64(i))) {
				return
			}
		}
	}
	seen := make([]bool, n)
	for r := range p.MapUnordered(context.Background(), "double", inputs, ChunkSize(3), InFlight(30)) {
		require.NoError(t, r.Err)
		require.False(t, seen[r.Index], "item %d twice", r.Index)
		seen[r.Index] = true
		require.Equal(t, 2*uint64(r.Index), binary.LittleEndian.Uint64(r.Output))
	}
	require.NotContains(t, seen, false)

	// Stop early from an endless input: the iteration ends and nothing hangs.
	endless := func(yield func([]byte) bool) {
		for i := uint64(0); ; i++ {
			if !yield(u64(i)) {
				return
			}
		}
	}
	got := 0
	for r := range p.MapUnordered(context.Background(), "double", endless) {
		require.NoError(t, r.Err)
		if got++; got == 100 {
			break
		}
	}
	out, err := p.Call(context.Background(), "upper", []byte("still serving"))
	require.NoError(t, err)
	require.Equal(t, "STILL SERVING", string(out))
}

// TestMap_workerKilled kills a worker with SIGKILL in the middle of a Map.
// Without retries its calls fail with *WorkerExitError; with retries the Map
// completes. Either way Map returns and the pool serves the next call.
func TestMap_workerKilled(t *testing.T) {
	inputs := make([][]byte, 60)
	for i := range inputs {
		inputs[i] = []byte("20") // each item spins 20 ms
	}
	for _, retries := range []int{0, 2} {
		t.Run(fmt.Sprintf("retries=%d", retries), func(t *testing.T) {
			p := newTestPool(t, Config{Retries: retries})
			victim := p.PIDs()[0]
			go func() {
				time.Sleep(150 * time.Millisecond)
				syscall.Kill(victim, syscall.SIGKILL)
			}()
			out, err := p.Map(context.Background(), "spin", inputs, ChunkSize(1))
			if retries == 0 {
				var we *WorkerExitError
				require.ErrorAs(t, err, &we)
				require.Equal(t, victim, we.PID)
				require.Equal(t, "killed", we.Signal)
			} else {
				require.NoError(t, err)
				for i, o := range out {
					require.Equal(t, "20", string(o), "item %d", i)
				}
			}
			require.Eventually(t, func() bool { return !slices.Contains(p.PIDs(), 0) && !slices.Contains(p.PIDs(), victim) },
				10*time.Second, 10*time.Millisecond, "the slot gets a new worker")
			res, err := p.Map(context.Background(), "upper", [][]byte{[]byte("a"), []byte("b")})
			require.NoError(t, err)
			require.Equal(t, [][]byte{[]byte("A"), []byte("B")}, res)
		})
	}
}

func TestProcess(t *testing.T) {
	p := newTestPool(t, Config{})
	ctx := context.Background()

	var stdout bytes.Buffer
	pr := p.Process("hello", []byte("big"), []byte("world"))
	pr.Stdout = &stdout
	require.Equal(t, -1, pr.ExitCode())
	require.False(t, pr.IsAlive())
	require.ErrorIs(t, pr.Join(ctx), ErrNotStarted)
	require.NoError(t, pr.Start(ctx))
	require.ErrorIs(t, pr.Start(ctx), ErrStarted)
	require.NoError(t, pr.Join(ctx))
	require.Equal(t, 0, pr.ExitCode())
	require.NoError(t, pr.Err())
	require.Equal(t, "hello big world\n", stdout.String())

	for _, tc := range []struct {
		fn   string
		args []string
		code int
		err  any
	}{
		{"exitcode", []string{"7"}, 7, new(*GuestExitError)},
		{"exitcode", []string{"0"}, 0, nil},
		{"fails", nil, 1, new(*TaskError)},
	} {
		args := make([][]byte, len(tc.args))
		for i, a := range tc.args {
			args[i] = []byte(a)
		}
		pr := p.Process(tc.fn, args...)
		require.NoError(t, pr.Start(ctx))
		require.NoError(t, pr.Join(ctx))
		require.Equal(t, tc.code, pr.ExitCode(), "%s %v", tc.fn, tc.args)
		if tc.err != nil {
			require.ErrorAs(t, pr.Err(), tc.err)
		} else {
			require.NoError(t, pr.Err())
		}
	}
}

func TestProcess_terminateAndKill(t *testing.T) {
	p := newTestPool(t, Config{})
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		stop func(*Process) error
		code int
	}{
		{"terminate", (*Process).Terminate, -15},
		{"kill", (*Process).Kill, -9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pr := p.Process("wait", []byte("60000"))
			require.NoError(t, pr.Start(ctx))
			require.Eventually(t, pr.IsAlive, time.Second, time.Millisecond)
			time.Sleep(50 * time.Millisecond) // let it reach the worker
			require.NoError(t, tc.stop(pr))
			jctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			require.NoError(t, pr.Join(jctx))
			require.Equal(t, tc.code, pr.ExitCode())
			require.False(t, pr.IsAlive())
			out, err := p.Call(ctx, "upper", []byte("x"))
			require.NoError(t, err)
			require.Equal(t, "X", string(out))
		})
	}
	t.Run("deadline", func(t *testing.T) {
		dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		pr := p.Process("wait", []byte("60000"))
		require.NoError(t, pr.Start(dctx))
		require.NoError(t, pr.Join(ctx))
		require.Equal(t, -15, pr.ExitCode())
		require.ErrorIs(t, pr.Err(), ErrTimeout)
	})
}

// TestProcess_manyAtOnce starts more processes than workers: each has an
// instance of its own and they run concurrently, like the article's five
// processes printing their argument.
func TestProcess_manyAtOnce(t *testing.T) {
	p := newTestPool(t, Config{})
	ctx := context.Background()
	var mu sync.Mutex
	var lines []string
	var procs []*Process
	for i := range 5 {
		pr := p.Process("hello", []byte(fmt.Sprint(i)))
		pr.Stdout = writerFunc(func(b []byte) (int, error) {
			mu.Lock()
			defer mu.Unlock()
			lines = append(lines, string(b))
			return len(b), nil
		})
		require.NoError(t, pr.Start(ctx))
		procs = append(procs, pr)
	}
	start := time.Now()
	for _, pr := range procs {
		require.NoError(t, pr.Join(ctx))
		require.Equal(t, 0, pr.ExitCode())
	}
	slices.Sort(lines)
	require.Equal(t, []string{"hello 0\n", "hello 1\n", "hello 2\n", "hello 3\n", "hello 4\n"}, lines)
	t.Logf("5 processes in %v", time.Since(start))
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

func TestOutput(t *testing.T) {
	var mu sync.Mutex
	var got []string
	p := newTestPool(t, Config{Workers: 1, Output: func(o Output) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, fmt.Sprintf("%s %d %s %q", o.Function, o.Stream, o.Level, o.Data))
	}})
	_, err := p.Call(context.Background(), "print", []byte("x"))
	require.NoError(t, err)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []string{`print 1 debug "out: x\n"`, `print 2 debug "err: x\n"`, `print 3 info "log: x"`}, got)
}

// Close ends a worker that stopped reading its calls while the pool was
// sending it more than its calls ring holds: the sender blocked on the
// full ring must not hold Close up.
func TestClose_workerStoppedReading(t *testing.T) {
	p := newTestPool(t, Config{Workers: 1})
	pid := p.PIDs()[0]
	require.NoError(t, syscall.Kill(pid, syscall.SIGSTOP))
	big := bytes.Repeat([]byte("x"), 200<<10)
	var fs []*Future
	for range 3 { // 600 KiB of calls against a 256 KiB ring
		fs = append(fs, p.Submit(context.Background(), "echo", big))
	}
	time.Sleep(100 * time.Millisecond)
	closed := make(chan struct{})
	go func() { p.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		syscall.Kill(pid, syscall.SIGKILL)
		t.Fatal("Close hung on a worker that stopped reading")
	}
	for _, f := range fs {
		_, err := f.Wait(context.Background())
		require.ErrorIs(t, err, ErrClosed)
	}
	require.False(t, leakcheck.Alive(pid), "the stopped worker outlived Close")
}

func TestClose(t *testing.T) {
	// One worker, so the second call is stuck behind the runaway.
	p := newTestPool(t, Config{Workers: 1})
	pids := p.PIDs()
	running := p.Submit(context.Background(), "loop", nil)
	queued := p.Submit(context.Background(), "upper", nil)
	proc := p.Process("wait", []byte("60000"))
	require.NoError(t, proc.Start(context.Background()))
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	require.NoError(t, p.Close())
	require.Less(t, time.Since(start), 5*time.Second)
	require.NoError(t, p.Close(), "Close is idempotent")
	for _, f := range []*Future{running, queued} {
		_, err := f.Wait(context.Background())
		require.ErrorIs(t, err, ErrClosed)
	}
	require.NoError(t, proc.Join(context.Background()))
	require.Equal(t, -9, proc.ExitCode())
	_, err := p.Call(context.Background(), "upper", nil)
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, p.Process("hello").Start(context.Background()), ErrClosed)
	for _, pid := range pids {
		require.False(t, leakcheck.Alive(pid), "worker %d outlived Close", pid)
	}
}

// TestParentDeath kills a parent process with SIGKILL and checks that its
// workers die with it.
func TestParentDeath(t *testing.T) {
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), helperEnv+"=parent", "WASMPOOL_TEST_MODULE=../testdata/testguest.wasm", "WASMPOOL_TEST_CACHE="+testCache)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	var pids []int
	buf := make([]byte, 4096)
	var text string
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(text, "ready") && time.Now().Before(deadline) {
		n, err := stdout.Read(buf)
		text += string(buf[:n])
		if err != nil {
			break
		}
	}
	require.Contains(t, text, "ready", "helper output: %s", text)
	for _, f := range strings.Fields(text) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	require.Len(t, pids, 2)
	for _, pid := range pids {
		require.True(t, leakcheck.Alive(pid))
	}
	require.NoError(t, cmd.Process.Kill())
	cmd.Wait()
	start := time.Now()
	require.Eventually(t, func() bool { return !leakcheck.Alive(pids[0]) && !leakcheck.Alive(pids[1]) }, time.Second, time.Millisecond,
		"workers outlived their parent")
	t.Logf("workers gone %v after the parent", time.Since(start))
}

// TestWorker_startedByHand runs the binary with the worker cookie but no
// pool: it explains itself and exits with ExitUsage.
func TestWorker_startedByHand(t *testing.T) {
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), worker.EnvCookie+"=1:0123")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	require.Equal(t, worker.ExitUsage, ee.ExitCode())
	require.Contains(t, string(out), "not by a wasmpool pool")
}

// TestCall_hammer submits a mix of good and failing calls from many
// goroutines and checks every answer.
func TestCall_hammer(t *testing.T) {
	p := newTestPool(t, Config{Concurrency: 2})
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for i := range 200 {
				x := r.Uint64() >> 2
				switch r.IntN(10) {
				case 0:
					var te *TaskError
					if _, err := p.Call(ctx, "fail", nil); !errors.As(err, &te) {
						errs <- fmt.Errorf("fail: %v", err)
					}
				case 1:
					var tr *TrapError
					if _, err := p.Call(ctx, "trap", nil); !errors.As(err, &tr) {
						errs <- fmt.Errorf("trap: %v", err)
					}
				default:
					out, err := p.Call(ctx, "double", u64(x))
					if err != nil || binary.LittleEndian.Uint64(out) != 2*x {
						errs <- fmt.Errorf("goroutine %d call %d: %v %x", g, i, err, out)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestConfig_invalid(t *testing.T) {
	for _, cfg := range []Config{
		{Workers: -1},
		{Concurrency: -1},
		{Prefetch: -1},
		{WorkerThreads: -1},
		{Retries: -1},
	} {
		cfg.Module = []byte{0}
		_, err := New(context.Background(), cfg)
		assert.ErrorContains(t, err, "negative", "%+v", cfg)
	}
	_, err := New(context.Background(), Config{Module: []byte{0}, Concurrency: 1, Prefetch: maxHeld})
	assert.ErrorContains(t, err, "Concurrency + Prefetch over")
}

// statusField returns a field of /proc/pid/status, such as "Seccomp".
func statusField(t *testing.T, pid int, field string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	require.NoError(t, err)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// Workers run under seccomp with no_new_privs unless Unhardened (what the
// filter refuses is tested in internal/harden, in a process of its own).
func TestWorkers_hardened(t *testing.T) {
	parentNNP := statusField(t, os.Getpid(), "NoNewPrivs") // 1 where a container set it
	p := newTestPool(t, Config{Workers: 1})
	pid := p.PIDs()[0]
	require.Equal(t, "2", statusField(t, pid, "Seccomp"), "filter mode")
	require.Equal(t, "1", statusField(t, pid, "NoNewPrivs"))
	// The spawner thread that gave the worker its Landlock domain (and
	// no_new_privs) is not the parent's main thread, which /proc shows.
	require.Equal(t, parentNNP, statusField(t, os.Getpid(), "NoNewPrivs"))
	out, err := p.Call(context.Background(), "upper", []byte("still works"))
	require.NoError(t, err)
	require.Equal(t, "STILL WORKS", string(out))

	u := newTestPool(t, Config{Workers: 1, Unhardened: true})
	require.Equal(t, "0", statusField(t, u.PIDs()[0], "Seccomp"))
}

// A descriptor the parent opened without close-on-exec reaches a worker
// (exec keeps it), which closes it first thing: the parent lists such
// descriptors for it, since Landlock keeps the worker out of /proc.
func TestWorkers_closeInherited(t *testing.T) {
	name := filepath.Join(t.TempDir(), "leaked")
	low, err := unix.Open(name, unix.O_CREAT|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	require.NoError(t, err)
	defer unix.Close(low)
	// Above the worker's own descriptors (3 to 7), which its start
	// replaces, and without close-on-exec.
	fd, err := unix.FcntlInt(uintptr(low), unix.F_DUPFD, 100)
	require.NoError(t, err)
	defer unix.Close(fd)
	p := newTestPool(t, Config{Workers: 1})
	pid := p.PIDs()[0]
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	require.NoError(t, err)
	require.NotEmpty(t, ents)
	for _, e := range ents {
		target, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name()))
		require.NotEqual(t, name, target, "fd %s of the worker is the parent's leaked file", e.Name())
	}
	out, err := p.Call(context.Background(), "upper", []byte("ok"))
	require.NoError(t, err)
	require.Equal(t, "OK", string(out))
}

// MaxTasksPerWorker: a worker ends after its share of task calls and a
// fresh one takes its slot; no call is lost or run twice on the way.
func TestMaxTasksPerWorker(t *testing.T) {
	p := newTestPool(t, Config{Workers: 1, MaxTasksPerWorker: 3})
	pids := map[int]bool{}
	for i := range 10 {
		f := p.Submit(context.Background(), "upper", []byte("call "+strconv.Itoa(i)))
		out, err := f.Wait(context.Background())
		require.NoError(t, err)
		require.Equal(t, "CALL "+strconv.Itoa(i), string(out))
		require.Eventually(t, func() bool { return p.PIDs()[0] != 0 }, 10*time.Second, time.Millisecond)
		pids[p.PIDs()[0]] = true
	}
	require.GreaterOrEqual(t, len(pids), 3, "10 calls, 3 per worker: at least 3 workers")

	in := make([][]byte, 200)
	for i := range in {
		in[i] = binary.LittleEndian.AppendUint64(nil, uint64(i))
	}
	out, err := p.Map(context.Background(), "double", in, ChunkSize(7))
	require.NoError(t, err, "chunks in flight when a worker retires finish first")
	for i, o := range out {
		require.Equal(t, 2*uint64(i), binary.LittleEndian.Uint64(o))
	}
}

// WorkerMemoryLimit: a worker whose resident memory passes the limit is
// killed by the watchdog; its call fails with the reason, the next call
// runs on a fresh worker.
func TestWorkerMemoryLimit(t *testing.T) {
	p := newTestPool(t, Config{Workers: 1, WorkerMemoryLimit: 150 << 20})
	start := time.Now()
	_, err := p.Call(context.Background(), "hog", []byte("400"))
	var we *WorkerExitError
	require.ErrorAs(t, err, &we)
	require.Contains(t, we.Reason, "WorkerMemoryLimit")
	require.Less(t, time.Since(start), 5*time.Second, "killed while it held the memory, before it returned")
	out, err := p.Call(context.Background(), "upper", []byte("fresh"))
	require.NoError(t, err)
	require.Equal(t, "FRESH", string(out))
}

// Capabilities: none by default; each grant reaches the guest and no more.
func TestCapabilities(t *testing.T) {
	ctx := context.Background()
	call := func(p *Pool, op string) (string, error) {
		out, err := p.Call(ctx, "caps", []byte(op))
		return string(out), err
	}
	ro, rw := t.TempDir(), t.TempDir()
	require.NoError(t, os.WriteFile(ro+"/in.txt", []byte("read me"), 0o644))

	none := newTestPool(t, Config{Workers: 1})
	_, err := call(none, "read:/in/in.txt")
	require.Error(t, err, "no files by default")
	out, _ := call(none, "env:SECRET")
	require.Empty(t, out, "no environment by default")
	out, _ = call(none, "stdin")
	require.Empty(t, out)
	first, _ := call(none, "rand")
	again, _ := call(newTestPool(t, Config{Workers: 1}), "rand")
	require.Equal(t, first, again, "deterministic randomness by default: a fresh instance repeats it")
	year, _ := call(none, "year")
	require.NotEqual(t, strconv.Itoa(time.Now().Year()), year, "no wall clock by default")

	p := newTestPool(t, Config{Workers: 1, Capabilities: Capabilities{
		Dirs:  []Dir{{Host: ro, Guest: "/in", ReadOnly: true}, {Host: rw, Guest: "/out"}},
		Env:   []string{"SECRET=42"},
		Args:  []string{"plugin", "--fast"},
		Stdin: []byte("input"),
		Clock: true, Random: true,
	}})
	out, err = call(p, "read:/in/in.txt")
	require.NoError(t, err)
	require.Equal(t, "read me", out)
	_, err = call(p, "write:/in/new.txt")
	require.Error(t, err, "read-only")
	_, err = call(p, "write:/out/new.txt")
	require.NoError(t, err)
	written, err := os.ReadFile(rw + "/new.txt")
	require.NoError(t, err)
	require.Equal(t, "from the guest", string(written))
	_, err = call(p, "read:/etc/passwd")
	require.Error(t, err, "nothing outside the preopens")
	out, _ = call(p, "env:SECRET")
	require.Equal(t, "42", out)
	out, _ = call(p, "args")
	require.Equal(t, "plugin --fast", out)
	out, _ = call(p, "stdin")
	require.Equal(t, "input", out)
	out, _ = call(p, "year")
	require.Equal(t, strconv.Itoa(time.Now().Year()), out)
	out, _ = call(p, "rand")
	require.NotEqual(t, first, out, "real randomness")

	_, err = New(ctx, Config{Module: testModule(t, "testguest.wasm"), Capabilities: Capabilities{Dirs: []Dir{{Host: "/nonexistent", Guest: "/x"}}}})
	require.ErrorContains(t, err, "preopened directory")
	_, err = New(ctx, Config{Module: testModule(t, "testguest.wasm"), Capabilities: Capabilities{Env: []string{"NOEQUALS"}}})
	require.ErrorContains(t, err, "KEY=value")
}

// A worker whose host side writes a malformed frame to its results stream,
// or a request the parent cannot parse, is ended at once: its call fails
// with a *WorkerExitError that says why, the parent goes on, and the slot
// gets new workers.
func TestWorkers_brokenResultsStream(t *testing.T) {
	for _, tc := range []struct{ probe, reason string }{
		{probe.Garble, "unknown type 99"},
		{probe.BadRequest, "malformed request: op 99"},
		{probe.BadItem, "item body of 3 bytes"},
	} {
		t.Run(tc.probe, func(t *testing.T) {
			t.Setenv(probe.Env, tc.probe)
			p := newTestPool(t, Config{Workers: 1})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, err := p.Call(ctx, "echo", []byte("x"))
			var we *WorkerExitError
			require.ErrorAs(t, err, &we)
			require.Contains(t, we.Reason, "broke the control protocol")
			require.Contains(t, we.Reason, tc.reason)
			require.Equal(t, "killed", we.Signal)
			first := we.PID
			require.Eventually(t, func() bool {
				pids := p.PIDs()
				return pids[0] != 0 && pids[0] != first
			}, 10*time.Second, 10*time.Millisecond, "the slot gets a new worker")
		})
	}
}

// TestWorkers_cannotEscape: host-side code inside a real worker (a hook
// the hardened worker runs before its handshake) tries to exec a program
// and open sockets, which fail with EPERM (seccomp), and to read and write
// files outside its preopens and /proc, which fail with EACCES (Landlock,
// from the worker's first instruction: in a cgo binary such as this test
// too).
func TestWorkers_cannotEscape(t *testing.T) {
	t.Setenv(probe.Env, "1")
	p := newTestPool(t, Config{Workers: 1})
	// The worker wrote its probe lines before its handshake, but the
	// parent copies its stderr on another goroutine: wait for the last.
	var stderr string
	require.Eventually(t, func() bool {
		stderr = p.workers[0].stderr.String()
		return strings.Count(stderr, "probe ") >= 7
	}, 5*time.Second, time.Millisecond, "the probe ran")
	for _, what := range []string{"exec", "socket", "dial", "socketpair", "read", "proc", "write"} {
		require.Contains(t, stderr, "probe "+what+": ", "the probe ran")
	}
	require.Equal(t, 4, strings.Count(stderr, "operation not permitted"), "every attempt refused with EPERM:\n%s", stderr)
	if landlockAvailable() {
		require.Equal(t, 3, strings.Count(stderr, "permission denied"), "every file refused with EACCES:\n%s", stderr)
	}
}

// landlockAvailable reports whether this kernel has Landlock.
func landlockAvailable() bool {
	abi, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	return errno == 0 && int(abi) >= 1
}

// TestMaxTasksPerWorker_process: a worker hosting a Process is not retired
// while it does, so tasks keep running beside a Process that may be
// waiting for them; it retires once the Process ends.
func TestMaxTasksPerWorker_process(t *testing.T) {
	p := newTestPool(t, Config{Workers: 1, MaxTasksPerWorker: 2, Modules: map[string][]byte{"ipc": modules.IPC}})
	q, err := p.NewQueue("", QueueConfig{})
	require.NoError(t, err)
	cons, out := run(t, p, "ipc/consumer", q.Ref())
	pid := p.PIDs()[0]
	for i := range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res, err := p.Call(ctx, "upper", []byte("task "+strconv.Itoa(i)))
		cancel()
		require.NoError(t, err, "tasks run beside the Process past the limit")
		require.Equal(t, "TASK "+strconv.Itoa(i), string(res))
	}
	require.Equal(t, pid, p.PIDs()[0], "not retired while it hosts the Process")
	require.NoError(t, q.Put(context.Background(), []byte{0xf6})) // CBOR nil: the consumer's sentinel
	join(t, cons)
	require.Empty(t, out.String())
	_, err = p.Call(context.Background(), "upper", []byte("after"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { pid2 := p.PIDs()[0]; return pid2 != 0 && pid2 != pid }, 10*time.Second, time.Millisecond,
		"retired once the Process ended")
}
