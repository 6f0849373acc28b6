package host

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/wasmpool/wasmpool/abi"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../testdata/" + name)
	require.NoError(t, err)
	return b
}

func newTestModule(t testing.TB, cfg Config) *Module {
	t.Helper()
	ctx := context.Background()
	rt, err := NewRuntime(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { rt.Close(ctx) })
	m, err := rt.Compile(ctx, readTestdata(t, "testguest.wasm"))
	require.NoError(t, err)
	return m
}

func newTestInstance(t testing.TB, m *Module, cfg InstanceConfig) *Instance {
	t.Helper()
	in, err := m.NewInstance(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { in.Close(context.Background()) })
	return in
}

// call runs a batch of items on fn and returns the parsed results.
func call(t testing.TB, in *Instance, fn string, items ...[]byte) ([]abi.Result, error) {
	t.Helper()
	out, err := in.Call(context.Background(), abi.CallBatch, fn, abi.AppendList(nil, items))
	if err != nil {
		return nil, err
	}
	res, err := abi.ParseResults(out, len(items))
	require.NoError(t, err)
	return res, nil
}

func TestCompile_functionTable(t *testing.T) {
	m := newTestModule(t, Config{})
	kinds := map[string]abi.FuncKind{}
	for _, f := range m.Functions() {
		kinds[f.Name] = f.Kind
	}
	require.Equal(t, abi.FuncTask, kinds["echo"])
	require.Equal(t, abi.FuncTypedTask, kinds["add"])
	require.Equal(t, abi.FuncProcess, kinds["hello"])
}

func TestCompile_badModules(t *testing.T) {
	ctx := context.Background()
	rt, err := NewRuntime(ctx, Config{})
	require.NoError(t, err)
	defer rt.Close(ctx)
	for _, tc := range []struct {
		file  string
		check func(error) bool
		text  string
	}{
		{"bad/notwasm.wasm", func(err error) bool { var e *CompileError; return errors.As(err, &e) }, "invalid wasm module"},
		{"bad/badimport.wasm", func(err error) bool {
			var e *ImportError
			return errors.As(err, &e) && e.Module == "env" && e.Name == "launch_missiles"
		}, "env.launch_missiles"},
		{"bad/noexports.wasm", func(err error) bool { var e *ExportError; return errors.As(err, &e) && e.Name == abi.ExportVersion }, "wasmpool_abi"},
		{"bad/oldabi.wasm", func(err error) bool {
			var e *VersionError
			return errors.As(err, &e) && e.Module == 99 && e.Host == abi.Version
		}, "version 99"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			_, err := rt.Compile(ctx, readTestdata(t, tc.file))
			require.Error(t, err)
			require.True(t, tc.check(err), "unexpected error type %T: %v", err, err)
			require.Contains(t, err.Error(), tc.text)
		})
	}
	t.Run("truncated", func(t *testing.T) {
		wasm := readTestdata(t, "testguest.wasm")
		_, err := rt.Compile(ctx, wasm[:len(wasm)/2])
		var e *CompileError
		require.ErrorAs(t, err, &e)
	})
}

// Load skips the describe instance of Compile, not its checks: a module
// Compile accepts loads and runs, one it refuses for its imports or
// exports is refused the same way, and one for another ABI version is
// refused when an instance starts.
func TestLoad(t *testing.T) {
	ctx := context.Background()
	rt, err := NewRuntime(ctx, Config{})
	require.NoError(t, err)
	defer rt.Close(ctx)
	m, err := rt.Load(ctx, readTestdata(t, "testguest.wasm"))
	require.NoError(t, err)
	require.Empty(t, m.Functions())
	in := newTestInstance(t, m, InstanceConfig{})
	res, err := call(t, in, "echo", []byte("loaded"))
	require.NoError(t, err)
	require.Equal(t, "loaded", string(res[0].Payload))

	_, err = rt.Load(ctx, readTestdata(t, "bad/badimport.wasm"))
	var ie *ImportError
	require.ErrorAs(t, err, &ie)
	_, err = rt.Load(ctx, readTestdata(t, "bad/noexports.wasm"))
	var ee *ExportError
	require.ErrorAs(t, err, &ee)
	_, err = rt.Load(ctx, readTestdata(t, "bad/notwasm.wasm"))
	var ce *CompileError
	require.ErrorAs(t, err, &ce)

	old, err := rt.Load(ctx, readTestdata(t, "bad/oldabi.wasm"))
	require.NoError(t, err)
	defer old.Close(ctx)
	_, err = old.NewInstance(ctx, InstanceConfig{})
	var ve *VersionError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, uint32(99), ve.Module)
}

func TestInstance_calls(t *testing.T) {
	m := newTestModule(t, Config{})
	in := newTestInstance(t, m, InstanceConfig{})

	res, err := call(t, in, "echo", []byte("a"), []byte{}, []byte("ccc"))
	require.NoError(t, err)
	require.Equal(t, []abi.Result{{Status: abi.StatusOK, Payload: []byte("a")}, {Status: abi.StatusOK, Payload: []byte{}}, {Status: abi.StatusOK, Payload: []byte("ccc")}}, res)

	res, err = call(t, in, "double", binary.LittleEndian.AppendUint64(nil, 21), []byte("short"))
	require.NoError(t, err)
	require.Equal(t, uint64(42), binary.LittleEndian.Uint64(res[0].Payload))
	require.Equal(t, abi.StatusError, res[1].Status)
	require.Contains(t, string(res[1].Payload), "want 8 bytes")

	res, err = call(t, in, "panic", nil)
	require.NoError(t, err, "a recovered panic fails the item, not the instance")
	require.Equal(t, abi.StatusError, res[0].Status)
	require.True(t, strings.HasPrefix(string(res[0].Payload), "panic: panicked on purpose"))

	// Panic values print as the runtime prints them, fmt aside.
	res, err = call(t, in, "panicvalue", []byte("error"), []byte("int"), []byte("struct"))
	require.NoError(t, err)
	for i, want := range []string{"panic: an error value\n\n", "panic: 42\n\n", "panic: (struct { A int })\n\n"} {
		require.Equal(t, abi.StatusError, res[i].Status)
		require.True(t, strings.HasPrefix(string(res[i].Payload), want), "%q", res[i].Payload)
		require.Contains(t, string(res[i].Payload), "goroutine", "with the stack")
	}

	res, err = call(t, in, "add", []byte{0x83, 1, 2, 3}, []byte("not cbor"))
	require.NoError(t, err)
	require.Equal(t, abi.Result{Status: abi.StatusOK, Payload: []byte{6}}, res[0])
	require.Equal(t, abi.StatusInvalidInput, res[1].Status)
	require.True(t, strings.HasPrefix(string(res[1].Payload), "decoding []int: "), "%q", res[1].Payload)

	// A bytes task reports invalid input with guest.InvalidInputError.
	res, err = call(t, in, "even", []byte("ab"), []byte("abc"))
	require.NoError(t, err)
	require.Equal(t, []abi.Result{{Status: abi.StatusOK, Payload: []byte("ab")}, {Status: abi.StatusInvalidInput, Payload: []byte("odd length 3")}}, res)

	_, err = call(t, in, "nope", nil)
	require.ErrorIs(t, err, ErrUnknownFunction)
	require.Nil(t, in.Broken(), "an unknown function does not break the instance")

	_, err = in.Call(context.Background(), abi.CallProcess, "echo", abi.AppendList(nil, nil))
	var ce *CallError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, abi.EINVAL, ce.Errno, "a task called as a process")

	_, err = in.Call(context.Background(), abi.CallBatch, "echo", []byte{1, 2})
	require.ErrorAs(t, err, &ce)
	require.Equal(t, abi.EINVAL, ce.Errno, "malformed input")
}

func TestInstance_process(t *testing.T) {
	m := newTestModule(t, Config{})
	var stdout bytes.Buffer
	in := newTestInstance(t, m, InstanceConfig{Stdout: &stdout})
	out, err := in.Call(context.Background(), abi.CallProcess, "hello", abi.AppendList(nil, [][]byte{[]byte("a"), []byte("b")}))
	require.NoError(t, err)
	res, err := abi.ParseResults(out, 1)
	require.NoError(t, err)
	require.Equal(t, abi.StatusOK, res[0].Status)
	require.Equal(t, "hello a b\n", stdout.String())

	in2 := newTestInstance(t, m, InstanceConfig{})
	_, err = in2.Call(context.Background(), abi.CallProcess, "exitcode", abi.AppendList(nil, [][]byte{[]byte("7")}))
	var exit *GuestExitError
	require.ErrorAs(t, err, &exit)
	require.Equal(t, uint32(7), exit.Code)
}

func TestInstance_brokenAfterFailure(t *testing.T) {
	m := newTestModule(t, Config{MemoryLimitPages: 2048})
	for _, tc := range []struct {
		fn    string
		check func(t *testing.T, err error)
	}{
		{"trap", func(t *testing.T, err error) {
			var e *TrapError
			require.ErrorAs(t, err, &e)
			require.Contains(t, e.Message, "out of bounds memory access")
			require.NotEmpty(t, e.Stack)
		}},
		{"exit", func(t *testing.T, err error) {
			var e *GuestExitError
			require.ErrorAs(t, err, &e)
			require.Equal(t, uint32(3), e.Code)
		}},
		{"deadlock", func(t *testing.T, err error) {
			var e *TrapError
			require.ErrorAs(t, err, &e, "the Go runtime reports the deadlock and aborts")
			require.Contains(t, e.Stderr, "all goroutines are asleep - deadlock")
			require.Contains(t, e.Stack, "runtime.checkdead")
		}},
		{"oom", func(t *testing.T, err error) {
			var e *TrapError
			require.ErrorAs(t, err, &e, "out of memory aborts the Go runtime")
			require.Contains(t, e.Stderr, "out of memory")
		}},
	} {
		t.Run(tc.fn, func(t *testing.T) {
			var stderr bytes.Buffer
			in := newTestInstance(t, m, InstanceConfig{Stderr: &stderr})
			_, err := call(t, in, tc.fn, nil)
			tc.check(t, err)
			require.NotNil(t, in.Broken())
			_, err = call(t, in, "echo", nil)
			require.ErrorIs(t, err, ErrBroken)
			t.Logf("%s: %v; stderr: %.200s", tc.fn, err, stderr.String())

			fresh := newTestInstance(t, m, InstanceConfig{})
			res, err := call(t, fresh, "echo", []byte("ok"))
			require.NoError(t, err)
			require.Equal(t, "ok", string(res[0].Payload))
		})
	}
}

func TestInstance_trapStackFromWAT(t *testing.T) {
	ctx := context.Background()
	rt, err := NewRuntime(ctx, Config{})
	require.NoError(t, err)
	defer rt.Close(ctx)
	m, err := rt.Compile(ctx, readTestdata(t, "bad/trap.wasm"))
	require.NoError(t, err)
	require.Equal(t, []abi.Function{{Name: "boom", Kind: abi.FuncTask}}, m.Functions())
	in, err := m.NewInstance(ctx, InstanceConfig{})
	require.NoError(t, err)
	defer in.Close(ctx)
	_, err = in.Call(ctx, abi.CallBatch, "boom", abi.AppendList(nil, nil))
	var e *TrapError
	require.ErrorAs(t, err, &e)
	require.Equal(t, "wasm error: unreachable", e.Message)
	require.Contains(t, e.Stack, "explode")
}

func TestHostFunctions_badPointers(t *testing.T) {
	m := newTestModule(t, Config{})
	in := newTestInstance(t, m, InstanceConfig{})
	res, err := call(t, in, "badptr", nil)
	require.NoError(t, err)
	require.Equal(t, []byte{
		byte(abi.EFAULT),   // log with a wild pointer
		byte(abi.EINVAL),   // log with an unknown level
		byte(abi.EMSGSIZE), // log record over the limit
		byte(abi.EFAULT),   // call_input to a wild pointer
		byte(abi.EFAULT),   // call_output from a wild pointer
		byte(abi.EMSGSIZE), // call_output over MaxMessageSize
	}, res[0].Payload)
}

func TestLimits(t *testing.T) {
	m := newTestModule(t, Config{MaxMessageSize: 1 << 20})
	in := newTestInstance(t, m, InstanceConfig{})
	_, err := in.Call(context.Background(), abi.CallBatch, "echo", make([]byte, 2<<20))
	require.ErrorIs(t, err, ErrTooLarge)
	_, err = call(t, in, "big", []byte("2000000"))
	require.ErrorIs(t, err, ErrTooLarge, "output over the limit")
}

func TestOutputAndLogs(t *testing.T) {
	m := newTestModule(t, Config{})
	var stdout, stderr bytes.Buffer
	var logs []string
	in := newTestInstance(t, m, InstanceConfig{Stdout: &stdout, Stderr: &stderr, Log: func(l abi.LogLevel, msg []byte) {
		logs = append(logs, l.String()+" "+string(msg))
	}})
	_, err := call(t, in, "print", []byte("x"))
	require.NoError(t, err)
	require.Equal(t, "out: x\n", stdout.String())
	require.Equal(t, "err: x\n", stderr.String())
	require.Equal(t, []string{"info log: x"}, logs)
}

func TestInterruptible(t *testing.T) {
	m := newTestModule(t, Config{Interruptible: true})
	in := newTestInstance(t, m, InstanceConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 50_000_000)
	defer cancel()
	_, err := in.Call(ctx, abi.CallBatch, "loop", abi.AppendList(nil, [][]byte{nil}))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NotNil(t, in.Broken())
}

func BenchmarkInstance_call(b *testing.B) {
	m := newTestModule(b, Config{})
	in := newTestInstance(b, m, InstanceConfig{})
	input := abi.AppendList(nil, [][]byte{binary.LittleEndian.AppendUint64(nil, 1)})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := in.Call(ctx, abi.CallBatch, "double", input); err != nil {
			b.Fatal(err)
		}
	}
}
