//go:build linux

package pool

import (
	"context"
	"encoding/binary"
	"strconv"
	"strings"
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
	p := newTestPool(t, Config{Workers: 1, MaxSegmentSize: 1 << 20, MaxSegments: 2, MaxSegmentBytes: 1<<20 + 1<<16})
	_, err := p.CreateSharedMemory("zero", 0)
	require.ErrorIs(t, err, ErrBadSize)
	_, err = p.CreateSharedMemory("huge", 2<<20)
	require.ErrorIs(t, err, ErrNoSpace)
	_, err = p.CreateSharedMemory("the maximum after rounding", 1<<20-(1<<16)+1)
	require.NoError(t, err, "1 MiB exactly after rounding")
	_, err = p.CreateSharedMemory("past the total", 1<<17)
	require.ErrorIs(t, err, ErrNoSpace, "MaxSegmentBytes: 1 MiB is taken, 64 KiB left")
	require.NoError(t, p.segs.Unlink("the maximum after rounding"))
	_, err = p.CreateSharedMemory(strings.Repeat("n", 256), 1)
	require.ErrorIs(t, err, ErrBadName)
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

// A ShareableList made by the parent is read and changed in place by a
// guest in a worker process; exact lengths and UTF-8 survive both ways
// (Python strips trailing NULs and mis-sizes multi-byte UTF-8).
func TestShareableList_acrossProcesses(t *testing.T) {
	p := newShmemPool(t, 1)
	l, err := p.NewShareableList("list", []any{41, "héllo, 世界", []byte("z\x00\x00"), 2.5, true, nil})
	require.NoError(t, err)
	defer l.Close()
	defer l.Unlink()
	pr, out := run(t, p, "list-edit", []byte(l.Name()))
	join(t, pr)
	require.Equal(t, "0: 41\n1: \"héllo, 世界\"\n2: []byte{0x7a, 0x0, 0x0}\n3: 2.5\n4: true\n5: <nil>\n", out.String())
	v, err := l.Get(0)
	require.NoError(t, err)
	require.Equal(t, int64(42), v)
	v, err = l.Get(1)
	require.NoError(t, err)
	require.Equal(t, "HÉLLO, 世界", v)

	require.ErrorIs(t, l.Set(5, "more than eight bytes"), ErrListValue)
	require.ErrorIs(t, l.Set(9, 1), ErrListValue)
	require.ErrorIs(t, l.Set(0, struct{}{}), ErrListValue)
	_, err = p.NewShareableList("", []any{uint8(1)})
	require.ErrorIs(t, err, ErrListValue)

	seg, err := p.CreateSharedMemory("not a list", 1)
	require.NoError(t, err)
	defer seg.Close()
	_, err = p.OpenShareableList("not a list")
	require.ErrorIs(t, err, ErrCorrupt)
	require.NoError(t, l.Close())
	_, err = l.Get(0)
	require.ErrorIs(t, err, ErrClosed)
}

// A float64 Value with a lock: guests in two workers add under the lock
// (a read-modify-write), and the total is exact; without the lock the
// atomic Add is exact too.
func TestValue_acrossWorkers(t *testing.T) {
	p := newShmemPool(t, 2)
	for _, locked := range []string{"1", "0"} {
		v, err := NewValue[float64](p, "", 1, locked == "1")
		require.NoError(t, err)
		require.Equal(t, locked == "1", v.Lock() != nil)
		const procs, adds = 4, 2000
		var prs []*Process
		for range procs {
			pr, _ := run(t, p, "value-add", []byte(v.Name()), []byte(strconv.Itoa(adds)), []byte(locked))
			prs = append(prs, pr)
		}
		for _, pr := range prs {
			join(t, pr)
		}
		require.Equal(t, 1+0.5*procs*adds, v.Load(), "locked=%s", locked)
		again, err := OpenValue[float64](p, v.Name())
		require.NoError(t, err)
		require.Equal(t, v.Load(), again.Load())
		require.Equal(t, 1.5+0.5*procs*adds, again.Add(0.5))
		_, err = OpenValue[int32](p, v.Name())
		require.ErrorIs(t, err, ErrCorrupt, "another cell type")
		again.Close()
		v.Unlink()
		v.Close()
	}
}

// An int32 Array filled in parallel by guests, read by the parent as a
// []int32 with no copy.
func TestArray_parallelFill(t *testing.T) {
	p := newShmemPool(t, 2)
	a, err := NewArray[int32](p, "cells", 10000, false)
	require.NoError(t, err)
	defer a.Close()
	defer a.Unlink()
	require.Nil(t, a.Lock())
	var prs []*Process
	for k := range 3 {
		pr, _ := run(t, p, "array-fill", []byte(a.Name()), []byte(strconv.Itoa(k)), []byte("3"))
		prs = append(prs, pr)
	}
	for _, pr := range prs {
		join(t, pr)
	}
	for i, c := range a.Cells() {
		require.Equal(t, int32(i*i), c, "cell %d", i)
	}
	require.Equal(t, int32(7*7+3), a.Add(7, 3))
	a.Store(8, -1)
	require.Equal(t, int32(-1), a.Load(8))
	_, err = NewArray[int64](p, "", -1, false)
	require.ErrorIs(t, err, ErrBadSize)
	_, err = OpenArray[int64](p, "cells")
	require.ErrorIs(t, err, ErrCorrupt)
	_, err = OpenArray[int32](p, "nope")
	require.ErrorIs(t, err, ErrNotFound)
}
