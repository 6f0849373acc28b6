package pool

import (
	"context"
	"encoding/binary"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/wasmpool/wasmpool/abi"
	"github.com/wasmpool/wasmpool/modules"
)

func newShmemPool(t testing.TB, workers int) *Pool {
	t.Helper()
	return newTestPool(t, Config{Module: modules.Shmem, Workers: workers})
}

// The article's example: a segment of 1024 bytes is a whole page.
func TestSharedMemory_size(t *testing.T) {
	p := newShmemPool(t, 1)
	pr, out := run(t, p, "size", []byte("article"))
	join(t, pr)
	require.Equal(t, "asked for 1024 bytes, got 65536\n", out.String())
	_, err := p.OpenSharedMemory("article")
	require.ErrorIs(t, err, ErrNotFound, "the guest unlinked it")
}

// A parallel transform: four processes on two workers each fill their
// slice of one segment's output from its input; the parent checks all of
// it.
func TestSharedMemory_parallelSquare(t *testing.T) {
	p := newShmemPool(t, 2)
	s, err := p.CreateSharedMemory("squares", 1<<20)
	require.NoError(t, err)
	defer s.Close()
	defer s.Unlink()
	b := s.Bytes()
	n := len(b) / 8
	for i := range n {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(i))
	}
	const parts = 4
	var prs []*Process
	for k := range parts {
		pr, _ := run(t, p, "square", []byte(s.Name()), []byte(strconv.Itoa(k)), []byte(strconv.Itoa(parts)))
		prs = append(prs, pr)
	}
	workers := map[int]bool{}
	for _, pr := range prs {
		join(t, pr)
		workers[pr.PID()] = true
	}
	require.Len(t, workers, 2, "the parts ran in both worker processes")
	for i := range n {
		x := uint32(i)
		require.Equal(t, x*x+1, binary.LittleEndian.Uint32(b[4*n+4*i:]), "output %d", i)
	}
}

// A counter incremented by N processes with atomic adds ends exact.
func TestSharedMemory_atomicCounter(t *testing.T) {
	p := newShmemPool(t, 2)
	s, err := p.CreateSharedMemory("", 8)
	require.NoError(t, err)
	defer s.Close()
	defer s.Unlink()
	require.Equal(t, 1<<16, s.Size())
	const procs, adds = 4, 20000
	var prs []*Process
	for range procs {
		pr, _ := run(t, p, "count", []byte(s.Name()), []byte(strconv.Itoa(adds)))
		prs = append(prs, pr)
	}
	for _, pr := range prs {
		join(t, pr)
	}
	require.Equal(t, uint64(procs*adds), binary.LittleEndian.Uint64(s.Bytes()))
}

// Bad input from the parent: each a typed error.
func TestSharedMemory_badInput(t *testing.T) {
	p := newTestPool(t, Config{Workers: 1, MaxSegmentSize: 1 << 20, MaxSegments: 2})
	_, err := p.CreateSharedMemory("zero", 0)
	require.ErrorIs(t, err, ErrBadSize)
	_, err = p.CreateSharedMemory("huge", 2<<20)
	require.ErrorIs(t, err, ErrNoSpace)
	_, err = p.OpenSharedMemory("never made")
	require.ErrorIs(t, err, ErrNotFound)
	a, err := p.CreateSharedMemory("a", 1)
	require.NoError(t, err)
	defer a.Close()
	_, err = p.CreateSharedMemory("a", 1)
	require.ErrorIs(t, err, ErrExists)
	b, err := p.CreateSharedMemory("", 1)
	require.NoError(t, err)
	defer b.Close()
	_, err = p.CreateSharedMemory("c", 1)
	require.ErrorIs(t, err, ErrNoSpace, "MaxSegments")
	require.NoError(t, a.Unlink())
	require.ErrorIs(t, a.Unlink(), ErrNotFound)
	_, err = p.OpenSharedMemory("a")
	require.ErrorIs(t, err, ErrNotFound, "attach after unlink")
	a.Bytes()[0] = 7 // the unlinked segment stays usable through its handle
	require.NoError(t, a.Close())
	require.NoError(t, a.Close(), "Close is idempotent")
	require.Nil(t, a.Bytes())
}

// Bad input from a guest: every edge argument gets its documented errno and
// the worker serves the next call.
func TestSharedMemory_guestEdgeArguments(t *testing.T) {
	p := newTestPool(t, Config{Workers: 1, MaxSegmentSize: 1 << 20})
	s, err := p.CreateSharedMemory("edge", 1<<16)
	require.NoError(t, err)
	defer s.Close()
	out, err := p.Call(context.Background(), "segedge", []byte("edge"))
	require.NoError(t, err)
	want := []abi.Errno{
		abi.EINVAL, abi.EFAULT, abi.EINVAL, abi.EBADF,
		abi.EINVAL, abi.EINVAL, abi.EFAULT, abi.EINVAL,
		abi.EINVAL, abi.EINVAL, abi.EFAULT, abi.EFAULT,
		abi.EAGAIN, abi.ETIMEDOUT,
		abi.EINVAL, abi.ENOSPC, abi.EFAULT, abi.ENOENT,
	}
	got := make([]abi.Errno, len(out))
	for i, e := range out {
		got[i] = abi.Errno(e)
	}
	require.Equal(t, want, got)
	require.Equal(t, uint64(0), binary.LittleEndian.Uint64(s.Bytes()), "the failed atomic adds changed nothing")
	require.Equal(t, 1, p.segs.Len(), "the refused creates left nothing behind")
	out, err = p.Call(context.Background(), "upper", []byte("still serving"))
	require.NoError(t, err)
	require.Equal(t, "STILL SERVING", string(out))
}

// kill -9 of a worker whose guest has the segment mapped: the data stays,
// the parent and the replacement worker go on using it.
func TestSharedMemory_killAttached(t *testing.T) {
	p := newShmemPool(t, 1)
	s, err := p.CreateSharedMemory("survivor", 8)
	require.NoError(t, err)
	defer s.Close()
	pid := p.PIDs()[0]
	pr, _ := run(t, p, "count", []byte(s.Name()), []byte("100000000"))
	word := func() uint64 { return binary.LittleEndian.Uint64(s.Bytes()) }
	require.Eventually(t, func() bool { return word() > 1000 }, 10*time.Second, time.Millisecond)
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	require.NoError(t, pr.Join(within(t, 10*time.Second)))
	require.Equal(t, -9, pr.ExitCode())
	before := word()
	require.Greater(t, before, uint64(1000))
	require.Less(t, before, uint64(100000000))
	pr, _ = run(t, p, "count", []byte(s.Name()), []byte("1000"))
	join(t, pr)
	require.Equal(t, before+1000, word(), "the replacement worker maps the same bytes")
}

// A guest waiting on a word of a segment in one worker process is woken by
// a notify from a guest in the other.
func TestSharedMemory_waitNotifyAcrossWorkers(t *testing.T) {
	p := newShmemPool(t, 2)
	s, err := p.CreateSharedMemory("flag", 4)
	require.NoError(t, err)
	defer s.Close()
	waiter, out := run(t, p, "await", []byte(s.Name()))
	time.Sleep(200 * time.Millisecond) // let it sleep in atomic_wait
	require.True(t, waiter.IsAlive(), "it waits")
	pr, _ := run(t, p, "handshake", []byte(s.Name()))
	join(t, pr)
	join(t, waiter)
	require.Equal(t, "woken\n", out.String())
	require.NotEqual(t, waiter.PID(), pr.PID(), "woken across worker processes")
	require.Equal(t, uint32(1), binary.LittleEndian.Uint32(s.Bytes()))
}

// Close releases every segment: nothing is left named after the pool.
func TestSharedMemory_closedPool(t *testing.T) {
	p := newTestPool(t, Config{Workers: 1})
	s, err := p.CreateSharedMemory("kept", 1)
	require.NoError(t, err)
	require.NoError(t, p.Close())
	require.Zero(t, p.segs.Len())
	_, err = p.CreateSharedMemory("after", 1)
	require.ErrorIs(t, err, ErrClosed)
	_, err = p.OpenSharedMemory("kept")
	require.ErrorIs(t, err, ErrClosed)
	require.NoError(t, s.Close())
}
