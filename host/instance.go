package host

import (
	"context"
	"errors"
	"io"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"
	"github.com/wasmpool/wasmpool/abi"
)

// Instance is one instantiation of a [Module]: its own linear memory and,
// for a Go guest, its own Go runtime. It runs one call at a time and is not
// safe for concurrent use. After a call fails with *TrapError or
// *GuestExitError the instance is broken: further calls return ErrBroken
// and the caller must Close it and make a new one.
type Instance struct {
	rt      *Runtime
	mod     api.Module
	call    api.Function
	state   *callState
	ctx     context.Context // carries state; used for every call when not interruptible
	version uint32
	broken  error
	intr    bool
	stderr  *tailWriter
	stack   [3]uint64
}

// callState is what the host functions of one instance see. It lives in the
// context of every call into that instance.
type callState struct {
	name   string
	input  []byte
	output []byte
	active bool
	maxMsg int
	log    func(abi.LogLevel, []byte)
	// objects are the shared objects the instance opened; nil without an
	// arena.
	objects *objects
	// segments are the segments the instance opened.
	segments *segments
	// creator makes the objects the guest creates; nil: ENOSYS.
	creator ObjectCreator
}

type stateKey struct{}

// NewInstance instantiates the module, runs its _initialize export if it
// has one and reads its ABI version. The caller must Close the instance.
func (m *Module) NewInstance(ctx context.Context, cfg InstanceConfig) (*Instance, error) {
	st := &callState{maxMsg: m.rt.cfg.MaxMessageSize, log: cfg.Log, creator: m.rt.cfg.Objects}
	in := &Instance{rt: m.rt, state: st, intr: m.rt.cfg.Interruptible, stderr: &tailWriter{w: orDiscard(cfg.Stderr)}}
	if a := m.rt.cfg.Arena; a != nil {
		tok, err := m.rt.token()
		if err != nil {
			return nil, err
		}
		st.objects = newObjects(a, tok)
	}
	alloc := newMemoryAllocator()
	st.segments = &segments{dir: m.rt.cfg.Segments, mem: alloc}
	in.ctx = context.WithValue(context.Background(), stateKey{}, st)
	mc := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions().
		WithStdout(orDiscard(cfg.Stdout)).
		WithStderr(in.stderr).
		WithSysNanotime().
		WithSysNanosleep()
	mc = m.rt.cfg.Capabilities.apply(mc)
	ictx := in.callContext(ctx)
	if alloc != nil {
		ictx = experimental.WithMemoryAllocator(ictx, alloc)
	}
	mod, err := m.rt.r.InstantiateModule(ictx, m.compiled, mc)
	if err != nil {
		in.release()
		return nil, in.classify("", err)
	}
	in.mod = mod
	if init := mod.ExportedFunction(abi.ExportInitialize); init != nil {
		if _, err := init.Call(in.callContext(ctx)); err != nil {
			mod.Close(ctx)
			in.release()
			return nil, in.classify(abi.ExportInitialize, err)
		}
	}
	res, err := mod.ExportedFunction(abi.ExportVersion).Call(in.callContext(ctx))
	if err != nil {
		mod.Close(ctx)
		in.release()
		return nil, in.classify(abi.ExportVersion, err)
	}
	in.version = uint32(res[0])
	if in.version != abi.Version {
		mod.Close(ctx)
		in.release()
		return nil, &VersionError{Module: in.version, Host: abi.Version}
	}
	in.call = mod.ExportedFunction(abi.ExportCall)
	return in, nil
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// callContext is the context a call into the guest runs under: the
// instance's own when the runtime is not interruptible (no allocation per
// call), ctx with the state added otherwise.
func (in *Instance) callContext(ctx context.Context) context.Context {
	if !in.intr {
		return in.ctx
	}
	return context.WithValue(ctx, stateKey{}, in.state)
}

// Call runs one wasmpool_call of kind on function name with input, which
// the guest copies; the returned output belongs to the caller. ctx stops
// the guest only when the runtime is Interruptible.
//
// Errors: ErrBroken, ErrTooLarge, *CallError (the guest refused the call:
// unknown function, malformed input), *TrapError, *GuestExitError, and the
// context's error when an interruptible call was stopped.
func (in *Instance) Call(ctx context.Context, kind abi.CallKind, name string, input []byte) ([]byte, error) {
	if in.broken != nil {
		return nil, ErrBroken
	}
	if in.mod == nil {
		return nil, ErrClosed
	}
	st := in.state
	if len(input) > st.maxMsg {
		return nil, ErrTooLarge
	}
	st.name, st.input, st.output, st.active = name, input, nil, true
	in.stderr.reset()
	in.stack = [3]uint64{uint64(kind), uint64(len(name)), uint64(len(input))}
	err := in.call.CallWithStack(in.callContext(ctx), in.stack[:])
	out := st.output
	st.name, st.input, st.output, st.active = "", nil, nil, false
	if err != nil {
		in.broken = err
		if ctxErr := ctx.Err(); in.intr && ctxErr != nil {
			return nil, ctxErr
		}
		return nil, in.classify(name, err)
	}
	if errno := abi.Errno(uint32(in.stack[0])); errno != abi.OK {
		return nil, &CallError{Function: name, Errno: errno}
	}
	if out == nil {
		return nil, &CallError{Function: name, Errno: abi.EINVAL}
	}
	return out, nil
}

// Broken reports why the instance can no longer be called, or nil.
func (in *Instance) Broken() error { return in.broken }

// Close releases the instance. It is idempotent. It must not be called while
// a call is running on another goroutine. Shared objects the instance left
// behind are repaired as if it died: locks it holds are released (their
// next owner learns that the previous one died), pipe ends it owns are
// closed.
func (in *Instance) Close(ctx context.Context) error {
	if in.mod == nil {
		return nil
	}
	err := in.mod.Close(ctx)
	in.mod = nil
	in.release()
	return err
}

func (in *Instance) release() {
	if s := in.state.segments; s != nil {
		s.release()
	}
	if o := in.state.objects; o != nil {
		o.release()
		in.rt.freeToken(o.tok)
		in.state.objects = nil
	}
}

func (in *Instance) classify(fn string, err error) error {
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		return &GuestExitError{Function: fn, Code: exit.ExitCode(), Stderr: in.stderr.String()}
	}
	te := newTrapError(fn, err)
	te.Stderr = in.stderr.String()
	return te
}

// tailWriter passes writes on and keeps the first and last StderrTail/2
// bytes written since the last reset: a Go runtime's fatal message comes
// first and its goroutine dump after.
type tailWriter struct {
	w          io.Writer
	head, tail []byte
	skipped    bool
}

func (t *tailWriter) reset() { t.head, t.tail, t.skipped = t.head[:0], t.tail[:0], false }

func (t *tailWriter) Write(p []byte) (int, error) {
	const half = StderrTail / 2
	rest := p
	if room := half - len(t.head); room > 0 {
		n := min(room, len(rest))
		t.head = append(t.head, rest[:n]...)
		rest = rest[n:]
	}
	t.tail = append(t.tail, rest...)
	if over := len(t.tail) - half; over > 0 {
		t.tail = append(t.tail[:0], t.tail[over:]...)
		t.skipped = true
	}
	return t.w.Write(p)
}

func (t *tailWriter) String() string {
	if t.skipped {
		return string(t.head) + "\n...\n" + string(t.tail)
	}
	return string(t.head) + string(t.tail)
}
