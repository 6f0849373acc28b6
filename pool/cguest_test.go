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
// instructions, no host call: the count ends exact.
func TestCGuest_wasmAtomicsAcrossProcesses(t *testing.T) {
	p := newTestPool(t, Config{Module: modules.CGuest, Workers: 2})
	s, err := p.CreateSharedMemory("", 8)
	require.NoError(t, err)
	defer s.Close()
	defer s.Unlink()
	const procs, adds = 4, 200000
	var prs []*Process
	var outs []*syncBuffer
	for range procs {
		pr, out := run(t, p, "count", []byte(s.Name()), []byte(strconv.Itoa(adds)))
		prs, outs = append(prs, pr), append(outs, out)
	}
	pids := map[int]bool{}
	for i, pr := range prs {
		join(t, pr)
		pids[pr.PID()] = true
		require.True(t, strings.HasSuffix(outs[i].String(), " ns/add\n"), outs[i].String())
	}
	require.Len(t, pids, 2, "in both worker processes")
	require.Equal(t, uint64(procs*adds), binary.LittleEndian.Uint64(s.Bytes()))
}
