//go:build linux

package pool

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/wasmpool/wasmpool/abi"
	"github.com/wasmpool/wasmpool/modules"
)

func newIPCPool(t testing.TB, workers int) *Pool {
	t.Helper()
	return newTestPool(t, Config{Module: modules.IPC, Workers: workers})
}

// run starts a process of the ipc module and returns it with its output.
func run(t testing.TB, p *Pool, fn string, args ...[]byte) (*Process, *syncBuffer) {
	t.Helper()
	out := &syncBuffer{}
	pr := p.Process(fn, args...)
	pr.Stdout, pr.Stderr = out, out
	require.NoError(t, pr.Start(context.Background()))
	return pr, out
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func join(t testing.TB, pr *Process) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, pr.Join(ctx))
	require.NoError(t, pr.Err())
	require.Equal(t, 0, pr.ExitCode())
}

func within(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// The article's queue example: a producer guest puts 0..9 and a sentinel,
// a consumer guest in another worker process prints until the sentinel.
func TestQueue_producerConsumer(t *testing.T) {
	p := newIPCPool(t, 2)
	q, err := p.NewQueue("", QueueConfig{})
	require.NoError(t, err)
	prod, _ := run(t, p, "producer", q.Ref(), []byte("10"))
	cons, out := run(t, p, "consumer", q.Ref())
	join(t, prod)
	join(t, cons)
	require.Equal(t, "0\n1\n2\n3\n4\n5\n6\n7\n8\n9\n", out.String())
	require.Zero(t, q.Len())
}

// The article's pipe example: the parent sends numbers and "stop" to a
// doubler guest, waits for it, and reads the answers until Poll says no
// more; the guest's end closed when it ended, so the parent then reads EOF.
func TestPipe_doubler(t *testing.T) {
	p := newIPCPool(t, 2)
	parent, child, err := p.NewPipe(true, 0)
	require.NoError(t, err)
	pr, _ := run(t, p, "doubler", child.Ref())
	ctx := within(t, 30*time.Second)
	for _, m := range []string{"10", "20", "30", "stop"} {
		require.NoError(t, parent.Send(ctx, []byte(m)))
	}
	join(t, pr)
	var got []string
	for parent.Poll(0) {
		msg, err := parent.Recv(ctx)
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		got = append(got, string(msg))
	}
	require.Equal(t, []string{"20", "40", "60"}, got)
	_, err = parent.Recv(ctx)
	require.ErrorIs(t, err, io.EOF)
	require.ErrorIs(t, parent.Send(ctx, []byte("1")), ErrPipeClosed)
}

// TestLock_counter: guests in two worker processes and the parent
// increment a count kept in a one-item queue, under one lock; the count
// ends exact.
func TestLock_counter(t *testing.T) {
	p := newIPCPool(t, 2)
	lock, err := p.NewLock("counter-lock")
	require.NoError(t, err)
	q, err := p.NewQueue("", QueueConfig{})
	require.NoError(t, err)
	ctx := within(t, 60*time.Second)
	require.NoError(t, PutValue(ctx, q, 0))
	const procs, each = 4, 200
	var prs []*Process
	for range procs {
		pr, _ := run(t, p, "counter", lock.Ref(), q.Ref(), []byte(strconv.Itoa(each)))
		prs = append(prs, pr)
	}
	for range each {
		require.NoError(t, lock.Acquire(ctx))
		n, err := GetValue[int](ctx, q)
		require.NoError(t, err)
		require.NoError(t, PutValue(ctx, q, n+1))
		require.NoError(t, lock.Release())
	}
	for _, pr := range prs {
		join(t, pr)
	}
	n, err := GetValue[int](ctx, q)
	require.NoError(t, err)
	require.Equal(t, (procs+1)*each, n)
}

// The lock/semaphore/barrier example: three guests meet at a barrier, then
// take turns on a semaphore of one unit.
func TestBarrier_sync(t *testing.T) {
	p := newIPCPool(t, 2)
	b, err := p.NewBarrier("", 3)
	require.NoError(t, err)
	sem, err := p.NewBoundedSemaphore("", 1)
	require.NoError(t, err)
	var prs []*Process
	var outs []*syncBuffer
	for i := range 3 {
		pr, out := run(t, p, "sync", b.Ref(), sem.Ref(), []byte(fmt.Sprint("guest ", i)))
		prs, outs = append(prs, pr), append(outs, out)
	}
	for i, pr := range prs {
		join(t, pr)
		require.Equal(t, fmt.Sprintf("guest %d passed the barrier and holds the semaphore\n", i), outs[i].String())
	}
	require.Equal(t, 1, sem.Value())
	require.ErrorIs(t, sem.Release(1), ErrOverRelease)
}

// TestLock_guestWorkerKilled: kill -9 of the worker whose guest holds a
// lock releases it; the parent's next Acquire learns that the owner died.
func TestLock_guestWorkerKilled(t *testing.T) {
	p := newIPCPool(t, 2)
	lock, err := p.NewLock("")
	require.NoError(t, err)
	pr, out := run(t, p, "hold", lock.Ref())
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "holding") }, 30*time.Second, time.Millisecond)
	require.ErrorIs(t, lock.TryAcquire(), ErrWouldBlock)
	got := make(chan error)
	go func() { got <- lock.Acquire(within(t, 30*time.Second)) }()
	pid := pr.PID()
	require.NotZero(t, pid)
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	require.ErrorIs(t, <-got, ErrOwnerDied)
	require.NoError(t, lock.Release())
	require.NoError(t, pr.Join(within(t, 30*time.Second)))
	var we *WorkerExitError
	require.ErrorAs(t, pr.Err(), &we)

	// The pool and the lock go on working.
	pr, out = run(t, p, "hold", lock.Ref())
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "holding") }, 30*time.Second, time.Millisecond)
	pr.Kill()
	require.ErrorIs(t, lock.Acquire(within(t, 30*time.Second)), ErrOwnerDied, "a killed process's lock is released")
}

// TestPipe_peerKilled: a parent blocked in Recv wakes with io.EOF when the
// worker of the guest at the other end is killed.
func TestPipe_peerKilled(t *testing.T) {
	p := newIPCPool(t, 2)
	parent, child, err := p.NewPipe(true, 0)
	require.NoError(t, err)
	pr, _ := run(t, p, "doubler", child.Ref())
	ctx := within(t, 30*time.Second)
	require.NoError(t, parent.Send(ctx, []byte("21")))
	msg, err := parent.Recv(ctx)
	require.NoError(t, err)
	require.Equal(t, "42", string(msg))
	got := make(chan error)
	go func() { _, err := parent.Recv(ctx); got <- err }()
	require.NoError(t, syscall.Kill(pr.PID(), syscall.SIGKILL))
	require.ErrorIs(t, <-got, io.EOF)
}

func TestQueue_parent(t *testing.T) {
	p := newIPCPool(t, 1)
	q, err := p.NewQueue("jobs", QueueConfig{MaxMessages: 2, MaxBytes: 64, Joinable: true})
	require.NoError(t, err)
	_, err = p.NewQueue("jobs", QueueConfig{})
	require.ErrorIs(t, err, ErrExists)
	q2, err := p.OpenQueue("jobs")
	require.NoError(t, err)
	_, err = p.OpenQueue("nope")
	require.ErrorIs(t, err, ErrNotFound)
	_, err = p.OpenLock("jobs")
	require.ErrorIs(t, err, ErrNotFound, "a name of another kind")

	require.NoError(t, q.TryPut([]byte("a")))
	n, err := q.PutBatch(within(t, time.Second), [][]byte{[]byte("b"), []byte("c")})
	require.Equal(t, 1, n)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorIs(t, q.TryPut([]byte("x")), ErrFull)
	require.ErrorIs(t, q.Put(context.Background(), make([]byte, 61)), ErrMessageTooLarge)
	require.Equal(t, 2, q2.Len())
	msgs, err := q2.GetBatch(context.Background(), 5)
	require.NoError(t, err)
	require.Equal(t, [][]byte{[]byte("a"), []byte("b")}, msgs)
	_, err = q2.TryGet()
	require.ErrorIs(t, err, ErrEmpty)
	start := time.Now()
	_, err = q.Get(within(t, 20*time.Millisecond))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 5*time.Second)

	require.ErrorIs(t, q.Join(within(t, 10*time.Millisecond)), context.DeadlineExceeded)
	require.NoError(t, q.TaskDone())
	require.NoError(t, q.TaskDone())
	require.NoError(t, q.Join(context.Background()))
	require.ErrorIs(t, q.TaskDone(), ErrOverRelease)

	q.Close()
	require.ErrorIs(t, q.TryPut([]byte("x")), ErrQueueClosed)
	_, err = q.Get(context.Background())
	require.ErrorIs(t, err, ErrQueueClosed)
}

func TestObjects_badArguments(t *testing.T) {
	p := newIPCPool(t, 1)
	lock, err := p.NewLock("")
	require.NoError(t, err)
	for _, args := range [][][]byte{
		{[]byte("not a reference")},
		{lock.Ref()}, // a lock where a queue is wanted
	} {
		pr, _ := run(t, p, "consumer", args...)
		require.NoError(t, pr.Join(within(t, 30*time.Second)))
		require.Equal(t, 1, pr.ExitCode())
		var te *TaskError
		require.ErrorAs(t, pr.Err(), &te)
		require.True(t, strings.Contains(te.Message, "EINVAL") || strings.Contains(te.Message, "EBADF"), te.Message)
	}
	_, err = p.NewBarrier("", 0)
	require.Error(t, err)
	_, err = p.NewBoundedSemaphore("", 0)
	require.Error(t, err)
	p.Close()
	_, err = p.NewQueue("", QueueConfig{})
	require.ErrorIs(t, err, ErrClosed)
}

// TestQueue_hammerGuests: four producer guests and four consumer guests
// across two workers share one small queue while the parent watches; every
// item arrives once.
func TestQueue_hammerGuests(t *testing.T) {
	p := newIPCPool(t, 2)
	q, err := p.NewQueue("", QueueConfig{MaxBytes: 256})
	require.NoError(t, err)
	const n = 500
	var prs []*Process
	var outs []*syncBuffer
	for range 4 {
		pr, _ := run(t, p, "producer", q.Ref(), []byte(strconv.Itoa(n)))
		prs = append(prs, pr)
	}
	for range 4 {
		pr, out := run(t, p, "consumer", q.Ref())
		prs, outs = append(prs, pr), append(outs, out)
	}
	for _, pr := range prs {
		join(t, pr)
	}
	counts := map[string]int{}
	for _, out := range outs {
		for _, line := range strings.Fields(out.String()) {
			counts[line]++
		}
	}
	require.Len(t, counts, n)
	for k, c := range counts {
		require.Equal(t, 4, c, "item %s", k)
	}
}

// A guest creates a named queue itself; the parent opens it by name and
// hands it to a consumer guest in the other worker.
func TestQueue_createdByGuest(t *testing.T) {
	p := newIPCPool(t, 2)
	prod, _ := run(t, p, "make-queue", []byte("made-by-guest"), []byte("10"))
	join(t, prod)
	q, err := p.OpenQueue("made-by-guest")
	require.NoError(t, err)
	require.Equal(t, 11, q.Len())
	cons, out := run(t, p, "consumer", q.Ref())
	join(t, cons)
	require.Equal(t, "0\n1\n2\n3\n4\n5\n6\n7\n8\n9\n", out.String())
	pr, _ := run(t, p, "make-queue", []byte("made-by-guest"), []byte("1"))
	require.NoError(t, pr.Join(within(t, 10*time.Second)))
	require.ErrorContains(t, pr.Err(), "EEXIST", "the name is taken")
}

// Guests together create at most Config.MaxGuestObjects objects and
// MaxGuestObjectBytes bytes of them: one more is ENOSPC in the guest, its
// worker serves on, and the parent's own objects are not held back.
func TestObjectCreate_guestQuota(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  Config
	}{
		{"objects", Config{MaxGuestObjects: 2}},
		// make-queue asks for a 1 MiB ring: two fit in 2 MiB and 4 KiB
		// with their headers, a third does not.
		{"bytes", Config{MaxGuestObjectBytes: 2<<20 + 4096}},
		{"none", Config{MaxGuestObjects: -1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.cfg
			cfg.Module, cfg.Workers = modules.IPC, 2
			p := newTestPool(t, cfg)
			names := []string{"q1", "q2"}
			if c.name == "none" {
				names = nil
			}
			for _, name := range names {
				pr, out := run(t, p, "make-queue", []byte(name), []byte("1"))
				join(t, pr)
				require.NoError(t, pr.Err(), out.String())
			}
			pr, out := run(t, p, "make-queue", []byte("q3"), []byte("1"))
			require.NoError(t, pr.Join(within(t, 10*time.Second)))
			require.ErrorContains(t, pr.Err(), "ENOSPC", out.String())
			_, err := p.OpenQueue("q3")
			require.ErrorIs(t, err, ErrNotFound, "nothing half made")
			for i := range 10 {
				_, err := p.NewLock(fmt.Sprintf("parent-%d", i))
				require.NoError(t, err, "the parent's objects are not counted")
			}
			if names != nil {
				q, err := p.OpenQueue("q2")
				require.NoError(t, err)
				require.Equal(t, 2, q.Len())
			}
		})
	}
}

// object_create with edge arguments: each its documented errno, nothing
// half made, and the worker serves the next call.
func TestObjectCreate_edgeArguments(t *testing.T) {
	p := newTestPool(t, Config{Workers: 1})
	_, err := p.NewLock("taken")
	require.NoError(t, err)
	out, err := p.Call(context.Background(), "createedge", []byte("taken"))
	require.NoError(t, err)
	want := []abi.Errno{abi.EEXIST, abi.EINVAL, abi.EINVAL, abi.EINVAL, abi.EINVAL, abi.EINVAL, abi.EFAULT, abi.EFAULT, abi.EFAULT, abi.OK}
	got := make([]abi.Errno, len(out))
	for i, e := range out {
		got[i] = abi.Errno(e)
	}
	require.Equal(t, want, got)
	l, err := p.OpenLock("fresh")
	require.NoError(t, err, "the last call made it")
	require.NoError(t, l.TryAcquire())
}
