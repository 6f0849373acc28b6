//go:build linux

package pool

import (
	"context"
	"encoding/binary"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/wasmpool/wasmpool/modules"
)

// A guest written in C against guest/c/wasmpool.h runs tasks and
// processes in the pool like a Go guest.
func TestCGuest_tasksAndQueue(t *testing.T) {
	p := newTestPool(t, Config{Module: modules.CGuest, Workers: 2})
	out, err := p.Call(context.Background(), "upper", []byte("from c"))
	require.NoError(t, err)
	require.Equal(t, "FROM C", string(out))
	outs, err := p.Map(context.Background(), "upper", [][]byte{[]byte("a"), []byte("b"), {}})
	require.NoError(t, err)
	require.Equal(t, [][]byte{[]byte("A"), []byte("B"), {}}, outs)
	_, err = p.Call(context.Background(), "nope", nil)
	require.Error(t, err)

	q, err := p.NewQueue("", QueueConfig{})
	require.NoError(t, err)
	pr, _ := run(t, p, "produce", q.Ref(), []byte("c"), []byte("5"))
	join(t, pr)
	var got []string
	for range 5 {
		m, err := q.Get(within(t, 10*time.Second))
		require.NoError(t, err)
		got = append(got, string(m))
	}
	require.Equal(t, []string{"c:0", "c:1", "c:2", "c:3", "c:4"}, got)

	pr, _ = run(t, p, "produce", []byte("not a ref"), []byte("c"), []byte("5"))
	require.NoError(t, pr.Join(within(t, 10*time.Second)))
	require.Equal(t, 1, pr.ExitCode(), "a bad argument fails the process")
}

// C guests in both workers add to one word of a segment with wasm atomic
// instructions, no host call, all at once: the count ends exact.
func TestCGuest_wasmAtomicsAcrossProcesses(t *testing.T) {
	p := newTestPool(t, Config{Module: modules.CGuest, Workers: 2})
	s, err := p.CreateSharedMemory("", 8)
	require.NoError(t, err)
	defer s.Close()
	defer s.Unlink()
	start, err := p.NewEvent("")
	require.NoError(t, err)
	const procs, adds = 4, 200000
	var prs []*Process
	var outs []*syncBuffer
	for range procs {
		pr, out := run(t, p, "count", []byte(s.Name()), []byte(strconv.Itoa(adds)), start.Ref())
		prs, outs = append(prs, pr), append(outs, out)
	}
	// They wait for start, so each is running when the next is placed:
	// the pool spreads them over both workers, however slow the machine.
	pids := map[int]bool{}
	require.Eventually(t, func() bool {
		clear(pids)
		for _, pr := range prs {
			if pr.PID() == 0 {
				return false
			}
			pids[pr.PID()] = true
		}
		return true
	}, 30*time.Second, time.Millisecond)
	require.Len(t, pids, 2, "in both worker processes")
	start.Set()
	for i, pr := range prs {
		join(t, pr)
		require.True(t, strings.HasSuffix(outs[i].String(), " ns/add\n"), outs[i].String())
	}
	require.Equal(t, uint64(procs*adds), binary.LittleEndian.Uint64(s.Bytes()))
}

// newMixedPool runs the Go ipc module with the C guest beside it as "c"
// and the Go shmem module as "shm", in the same workers.
func newMixedPool(t *testing.T) *Pool {
	return newTestPool(t, Config{Module: modules.IPC, Workers: 2,
		Modules: map[string][]byte{"c": modules.CGuest, "shm": modules.Shmem}})
}

// A C producer feeds a Go consumer over a queue.
func TestMixed_cProducerGoConsumer(t *testing.T) {
	p := newMixedPool(t)
	q, err := p.NewQueue("", QueueConfig{})
	require.NoError(t, err)
	cons, out := run(t, p, "print-raw", q.Ref(), []byte("4"))
	prod, _ := run(t, p, "c/produce", q.Ref(), []byte("from-c"), []byte("4"))
	join(t, prod)
	join(t, cons)
	require.Equal(t, "from-c:0\nfrom-c:1\nfrom-c:2\nfrom-c:3\n", out.String())
}

// A C guest and a Go guest ping-pong over a pipe and over a pair of
// semaphores, in different worker processes.
func TestMixed_pingPong(t *testing.T) {
	p := newMixedPool(t)
	const n = "200"
	a, b, err := p.NewPipe(true, 0)
	require.NoError(t, err)
	require.NoError(t, a.Send(context.Background(), []byte("ball")))
	goSide, _ := run(t, p, "pipe-pong", a.Ref(), []byte(n))
	cSide, _ := run(t, p, "c/pipe-pong", b.Ref(), []byte(n))
	join(t, goSide)
	join(t, cSide)
	require.NotEqual(t, goSide.PID(), cSide.PID(), "in different worker processes")

	ping, err := p.NewSemaphore("", 1)
	require.NoError(t, err)
	pong, err := p.NewSemaphore("", 0)
	require.NoError(t, err)
	goSide, _ = run(t, p, "sem-pong", ping.Ref(), pong.Ref(), []byte(n))
	cSide, _ = run(t, p, "c/sem-pong", pong.Ref(), ping.Ref(), []byte(n))
	join(t, goSide)
	join(t, cSide)
}

// A C guest (wasm atomics) and a Go guest (atomic_add host calls) add to
// the same word of one segment: the count is exact.
func TestMixed_sharedSegment(t *testing.T) {
	p := newMixedPool(t)
	s, err := p.CreateSharedMemory("", 8)
	require.NoError(t, err)
	defer s.Close()
	defer s.Unlink()
	var prs []*Process
	for _, fn := range []string{"c/count", "shm/count", "c/count", "shm/count"} {
		pr, _ := run(t, p, fn, []byte(s.Name()), []byte("50000"))
		prs = append(prs, pr)
	}
	for _, pr := range prs {
		join(t, pr)
	}
	require.Equal(t, uint64(200000), binary.LittleEndian.Uint64(s.Bytes()))

	_, err = New(context.Background(), Config{Module: modules.IPC, Modules: map[string][]byte{"bad name": modules.CGuest}})
	require.ErrorContains(t, err, "Config.Modules")
	fns := map[string]bool{}
	for _, f := range p.Functions() {
		fns[f.Name] = true
	}
	require.True(t, fns["c/count"] && fns["shm/count"] && fns["pipe-pong"], "functions of every module, qualified")
}
