//go:build linux

package host

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/wasmpool/wasmpool/abi"
	"github.com/wasmpool/wasmpool/internal/shm"
	"github.com/wasmpool/wasmpool/modules"
)

// shmemInstance instantiates modules/shmem with segments served in
// process by dir.
func shmemInstance(t testing.TB, dir SegmentDirectory, out *bytes.Buffer) *Instance {
	t.Helper()
	ctx := context.Background()
	rt, err := NewRuntime(ctx, Config{Segments: dir})
	require.NoError(t, err)
	t.Cleanup(func() { rt.Close(ctx) })
	m, err := rt.Compile(ctx, modules.Shmem)
	require.NoError(t, err)
	return newTestInstance(t, m, InstanceConfig{Stdout: out})
}

func runProcess(t testing.TB, in *Instance, fn string, args ...string) {
	t.Helper()
	list := make([][]byte, len(args))
	for i, a := range args {
		list[i] = []byte(a)
	}
	out, err := in.Call(context.Background(), abi.CallProcess, fn, abi.AppendList(nil, list))
	require.NoError(t, err)
	res, err := abi.ParseResults(out, 1)
	require.NoError(t, err)
	require.Equal(t, abi.StatusOK, res[0].Status, "%s", res[0].Payload)
}

// Two instances of one process share a segment through their own windows;
// the parent's directory sees it; closing an instance leaves the segment.
func TestSegment_twoInstances(t *testing.T) {
	dir := shm.NewSegments(1<<30, 16)
	defer dir.Close()
	var out bytes.Buffer
	a := shmemInstance(t, dir, &out)
	b := shmemInstance(t, dir, &out)
	info, f, err := dir.Create("shared", 8)
	require.NoError(t, err)
	mem, err := shm.MapSegment(f, info.Size)
	require.NoError(t, err)
	f.Close()
	defer shm.UnmapSegment(mem)

	runProcess(t, a, "count", "shared", "1000")
	runProcess(t, b, "count", "shared", "500")
	require.Equal(t, byte(1500&0xff), mem[0])
	require.Equal(t, byte(1500>>8), mem[1])
	require.NoError(t, a.Close(context.Background()))
	runProcess(t, b, "count", "shared", "1")
	require.Equal(t, byte(1501&0xff), mem[0])

	out.Reset()
	runProcess(t, b, "size", "article")
	require.Equal(t, "asked for 1024 bytes, got 65536\n", out.String())
	require.Equal(t, 1, dir.Len(), "the guest unlinked its segment")
}

// Without a directory the segment calls answer ENOSYS, as a guest error.
func TestSegment_noDirectory(t *testing.T) {
	var out bytes.Buffer
	in := shmemInstance(t, nil, &out)
	o, err := in.Call(context.Background(), abi.CallProcess, "size", abi.AppendList(nil, [][]byte{[]byte("x")}))
	require.NoError(t, err)
	res, err := abi.ParseResults(o, 1)
	require.NoError(t, err)
	require.Equal(t, abi.StatusError, res[0].Status)
	require.Contains(t, string(res[0].Payload), "ENOSYS")
}

// BenchmarkSegment_cycle: create, map, write, unmap, unlink, close from a
// guest with the directory in process: the cost without the socket round
// trips to the parent (compare the segment-create row of wasmpool bench).
func BenchmarkSegment_cycle(b *testing.B) {
	dir := shm.NewSegments(1<<30, 16)
	defer dir.Close()
	var out bytes.Buffer
	in := shmemInstance(b, dir, &out)
	b.ResetTimer()
	runProcess(b, in, "cycle", itoa(b.N))
}

func itoa(n int) string {
	var buf [20]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte('0' + n%10)
		if n /= 10; n == 0 {
			return string(buf[i:])
		}
	}
}
