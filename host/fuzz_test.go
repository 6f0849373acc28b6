//go:build linux

package host

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/tetratelabs/wazero/api"
	"github.com/wasmpool/wasmpool/abi"
	"github.com/wasmpool/wasmpool/internal/shm"
)

// directoryCreator is an ObjectCreator over a parent-side directory, for
// tests without a parent.
type directoryCreator struct{ d *shm.Directory }

func (c directoryCreator) CreateObject(kind abi.ObjectKind, s abi.ObjectSpec, name string) (shm.Handle, error) {
	o, err := c.d.Create(shm.Spec{Kind: kind, Name: name, Flags: s.Flags, MaxMessages: int(s.MaxMessages),
		Ring: int(s.Ring), MaxMessage: int(s.MaxMessage), Value: s.Value, Bound: s.Bound, Parties: int(s.Parties)})
	return o.Handle, err
}

// fuzzInstance is a testguest instance with an arena, a segment directory
// and an open handle of every kind of object and of a segment.
func fuzzInstance(t testing.TB) *Instance {
	t.Helper()
	a, err := shm.Create(4<<20, 64)
	require.NoError(t, err)
	t.Cleanup(func() { a.Close() })
	d := shm.NewDirectory(a)
	segs := shm.NewSegments(1<<20, 8)
	t.Cleanup(segs.Close)
	m := newTestModule(t, Config{Arena: a, Participant: 1, Segments: segs, Objects: directoryCreator{d}})
	in := newTestInstance(t, m, InstanceConfig{})
	for _, s := range []shm.Spec{
		{Kind: abi.KindQueue, Ring: 4096}, {Kind: abi.KindPipe, Ring: 4096, Flags: shm.FlagDuplex},
		{Kind: abi.KindLock}, {Kind: abi.KindRLock}, {Kind: abi.KindSemaphore, Value: 1},
		{Kind: abi.KindEvent}, {Kind: abi.KindCondition}, {Kind: abi.KindBarrier, Parties: 2},
	} {
		o, err := d.Create(s)
		require.NoError(t, err)
		_, errno := in.state.objects.add(o, 0)
		require.Equal(t, abi.OK, errno)
	}
	info, f, err := segs.Create("fuzz", 1)
	require.NoError(t, err)
	_, errno := in.state.segments.add(info, f)
	require.Equal(t, abi.OK, errno)
	return in
}

func hostFunctions() map[string]api.GoModuleFunc {
	fns := map[string]api.GoModuleFunc{abi.FuncCallInput: callInput, abi.FuncCallOutput: callOutput, abi.FuncLog: logRecord}
	maps.Copy(fns, ipcFunctions())
	maps.Copy(fns, segmentFunctions())
	return fns
}

// takesHandle reports whether a host function's first parameter is a
// handle, which the fuzzer keeps small to reach past EBADF.
func takesHandle(name string) bool {
	switch name {
	case abi.FuncObjectOpen, abi.FuncObjectRef, abi.FuncObjectCreate, abi.FuncSegmentCreate, abi.FuncSegmentOpen,
		abi.FuncCallInput, abi.FuncCallOutput, abi.FuncLog:
		return false
	}
	return !strings.HasPrefix(name, "atomic_")
}

// FuzzHostFunctions (its seeds run with every go test: each host function
// once with plausible and once with wild arguments) calls every host
// function directly with the fuzzer's
// arguments, as a hostile guest would: handles kept small, pointers mostly
// inside memory, timeouts of blocking calls forced to 0. Nothing may panic;
// every call must return an errno the ABI knows.
func FuzzHostFunctions(f *testing.F) {
	in := fuzzInstance(f)
	fns := hostFunctions()
	names := slices.Sorted(maps.Keys(fns))
	require.Len(f, names, len(abi.HostFunctions))
	for i := range names {
		f.Add(uint8(i), uint64(1), uint64(1<<16), uint64(64), uint64(0), uint64(1<<17), uint64(0))
		f.Add(uint8(i), uint64(0), uint64(0xfffffff0), uint64(1<<31), uint64(1<<63), uint64(0xffffffff), uint64(3))
	}
	memSize := uint64(in.mod.Memory().Size())
	f.Fuzz(func(t *testing.T, which uint8, a0, a1, a2, a3, a4, a5 uint64) {
		name := names[int(which)%len(names)]
		sig := abi.HostFunctions[name]
		args := []uint64{a0, a1, a2, a3, a4, a5}
		stack := make([]uint64, max(len(sig.Params), len(sig.Results)))
		for i, p := range sig.Params {
			v := args[i]
			switch {
			case i == 0 && takesHandle(name):
				v %= 12
			case p == abi.I32 && v>>40&1 == 0:
				v %= memSize + 1<<16 // mostly in memory, sometimes just past it
			case p == abi.I32:
				v = uint64(uint32(v))
			case sig.Blocks && name != abi.FuncSegmentCreate:
				v = 0 // a timeout: never block the fuzzer
			case name == abi.FuncSegmentCreate:
				v %= 1 << 21
			}
			stack[i] = v
		}
		fns[name](in.ctx, in.mod, stack)
		if e := stack[0]; e > uint64(abi.ENOSPC) {
			t.Fatalf("%s returned %d, not an errno the ABI lists", name, e)
		}
	})
}
