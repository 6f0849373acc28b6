package host

import (
	"context"
	"maps"

	"github.com/tetratelabs/wazero/api"
	"github.com/wasmpool/wasmpool/abi"
)

// maxLogRecord bounds one log record; longer records are refused with
// EMSGSIZE rather than copied.
const maxLogRecord = 64 << 10

// instantiateHostModule registers every function of abi.HostFunctions. Each
// is a raw-stack api.GoModuleFunc: no reflection, no allocation on the call
// path but the copies the contract requires.
func (rt *Runtime) instantiateHostModule(ctx context.Context) error {
	b := rt.r.NewHostModuleBuilder(abi.ImportModule)
	fns := map[string]api.GoModuleFunc{
		abi.FuncCallInput:  callInput,
		abi.FuncCallOutput: callOutput,
		abi.FuncLog:        logRecord,
	}
	maps.Copy(fns, ipcFunctions())
	maps.Copy(fns, segmentFunctions())
	for name, sig := range abi.HostFunctions {
		fn, ok := fns[name]
		if !ok {
			panic("host: no implementation of " + name)
		}
		b.NewFunctionBuilder().
			WithGoModuleFunction(fn, valueTypesOf(sig.Params), valueTypesOf(sig.Results)).
			WithName(name).
			Export(name)
	}
	_, err := b.Instantiate(ctx)
	return err
}

func valueTypesOf(ts []abi.ValueType) []api.ValueType {
	out := make([]api.ValueType, len(ts))
	for i, t := range ts {
		out[i] = api.ValueType(t)
	}
	return out
}

func stateOf(ctx context.Context) *callState {
	st, _ := ctx.Value(stateKey{}).(*callState)
	return st
}

// callInput implements call_input(name_ptr, input_ptr i32) -> errno.
func callInput(ctx context.Context, m api.Module, stack []uint64) {
	st := stateOf(ctx)
	if st == nil || !st.active {
		stack[0] = uint64(abi.EINVAL)
		return
	}
	mem := m.Memory()
	if !mem.WriteString(uint32(stack[0]), st.name) || !mem.Write(uint32(stack[1]), st.input) {
		stack[0] = uint64(abi.EFAULT)
		return
	}
	stack[0] = uint64(abi.OK)
}

// callOutput implements call_output(ptr, len i32) -> errno.
func callOutput(ctx context.Context, m api.Module, stack []uint64) {
	st := stateOf(ctx)
	ptr, n := uint32(stack[0]), uint32(stack[1])
	switch {
	case st == nil || !st.active:
		stack[0] = uint64(abi.EINVAL)
		return
	case uint64(n) > uint64(st.maxMsg):
		stack[0] = uint64(abi.EMSGSIZE)
		return
	}
	b, ok := m.Memory().Read(ptr, n)
	if !ok {
		stack[0] = uint64(abi.EFAULT)
		return
	}
	st.output = append(make([]byte, 0, len(b)), b...)
	stack[0] = uint64(abi.OK)
}

// logRecord implements log(level, ptr, len i32) -> errno.
func logRecord(ctx context.Context, m api.Module, stack []uint64) {
	st := stateOf(ctx)
	level, ptr, n := abi.LogLevel(uint32(stack[0])), uint32(stack[1]), uint32(stack[2])
	switch {
	case level > abi.LogError:
		stack[0] = uint64(abi.EINVAL)
		return
	case n > maxLogRecord:
		stack[0] = uint64(abi.EMSGSIZE)
		return
	}
	b, ok := m.Memory().Read(ptr, n)
	if !ok {
		stack[0] = uint64(abi.EFAULT)
		return
	}
	if st != nil && st.log != nil {
		st.log(level, b)
	}
	stack[0] = uint64(abi.OK)
}
