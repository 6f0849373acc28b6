// Package host runs wasmpool guest modules inside one worker OS process: a
// wazero runtime with an on-disk compilation cache, the host module that
// implements package abi, module validation and guest instances.
//
// A [Runtime] compiles modules into [Module]s; a Module makes [Instance]s;
// an Instance runs one call at a time. Nothing here knows about worker
// processes or the pool: package pool drives this package from its workers.
package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/wasmpool/wasmpool/abi"
	"github.com/wasmpool/wasmpool/internal/shm"
)

// DefaultMaxMessageSize is the default Config.MaxMessageSize: 64 MiB.
const DefaultMaxMessageSize = 64 << 20

// DefaultMemoryLimitPages is the default Config.MemoryLimitPages: 16384
// pages of 64 KiB, 1 GiB per instance.
const DefaultMemoryLimitPages = 16384

// Config configures a [Runtime]. The zero value is valid: no on-disk cache,
// the default limits, no interruption.
type Config struct {
	// CacheDir is the directory of the on-disk compilation cache, created
	// with mode 0700 if missing. Empty means compile in memory only.
	CacheDir string
	// MemoryLimitPages bounds each instance's linear memory in 64 KiB
	// pages; a guest that grows past it fails to allocate (a Go guest
	// then exits with an out-of-memory error). 0 means
	// DefaultMemoryLimitPages.
	MemoryLimitPages uint32
	// MaxMessageSize bounds a call's input and output in bytes. 0 means
	// DefaultMaxMessageSize.
	MaxMessageSize int
	// Interruptible makes a running guest stop when its call's context is
	// done (wazero's WithCloseOnContextDone), at a measured cost on every
	// loop and call; see RATIONALE.md. Without it a guest runs until it
	// returns, and only killing the process stops it.
	Interruptible bool
	// Arena holds the shared objects guests open with object_open and
	// object_ref; nil means none (those calls fail with ENOSYS). The
	// caller keeps ownership.
	Arena *shm.Arena
	// Capabilities are granted to every instance; the zero value grants
	// none (see Capabilities).
	Capabilities Capabilities
	// Segments serves guests' segment_create, segment_open and
	// segment_unlink; nil means those calls fail with ENOSYS.
	Segments SegmentDirectory
	// Objects creates the shared objects guests ask for with
	// object_create; nil means that call fails with ENOSYS.
	Objects ObjectCreator
	// Participant is this process's participant number in the arena
	// (see shm.Token): every instance's token carries it.
	Participant uint32
}

// Runtime compiles and instantiates guest modules. It is safe for
// concurrent use. Close releases it and every module and instance it made.
type Runtime struct {
	cfg   Config
	r     wazero.Runtime
	cache wazero.CompilationCache
	// wasi lists the functions of wazero's WASI module, the only imports
	// besides ours that a guest may name.
	wasi map[string]api.FunctionDefinition

	mu     sync.Mutex
	locals map[uint32]bool // local ids of live instances
	next   uint32
}

// NewRuntime starts a runtime with the host module and WASI instantiated.
func NewRuntime(ctx context.Context, cfg Config) (*Runtime, error) {
	if cfg.MemoryLimitPages == 0 {
		cfg.MemoryLimitPages = DefaultMemoryLimitPages
	}
	if cfg.MemoryLimitPages > 65536 {
		return nil, fmt.Errorf("host: MemoryLimitPages %d exceeds the wasm32 limit of 65536", cfg.MemoryLimitPages)
	}
	if cfg.MaxMessageSize <= 0 {
		cfg.MaxMessageSize = DefaultMaxMessageSize
	}
	if err := cfg.Capabilities.Check(); err != nil {
		return nil, err
	}
	// The threads feature lets guests that emit wasm atomics (C, Rust,
	// Zig) use them on segment windows, where they are atomic across
	// processes.
	rc := wazero.NewRuntimeConfig().
		WithCoreFeatures(api.CoreFeaturesV2 | experimental.CoreFeaturesThreads).
		WithMemoryLimitPages(cfg.MemoryLimitPages).
		WithCloseOnContextDone(cfg.Interruptible)
	if cfg.Arena != nil && (cfg.Participant == 0 || cfg.Participant > shm.MaxParticipant) {
		return nil, fmt.Errorf("host: participant %d outside 1..%d", cfg.Participant, shm.MaxParticipant)
	}
	rt := &Runtime{cfg: cfg, locals: map[uint32]bool{}}
	if cfg.CacheDir != "" {
		if err := os.MkdirAll(cfg.CacheDir, 0o700); err != nil {
			return nil, fmt.Errorf("host: compilation cache: %w", err)
		}
		cache, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("host: compilation cache: %w", err)
		}
		rt.cache = cache
		rc = rc.WithCompilationCache(cache)
	}
	rt.r = wazero.NewRuntimeWithConfig(ctx, rc)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt.r); err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("host: WASI: %w", err)
	}
	rt.wasi = rt.r.Module(wasi_snapshot_preview1.ModuleName).ExportedFunctionDefinitions()
	if err := rt.instantiateHostModule(ctx); err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("host: host module: %w", err)
	}
	return rt, nil
}

// Config returns the runtime's configuration with defaults filled in.
func (rt *Runtime) Config() Config { return rt.cfg }

// Close releases the runtime, its modules and instances. It is idempotent.
func (rt *Runtime) Close(ctx context.Context) error {
	err := rt.r.Close(ctx)
	if rt.cache != nil {
		err = errors.Join(err, rt.cache.Close(ctx))
	}
	return err
}

// Module is a compiled, validated guest module. It is safe for concurrent
// use; instances made from it are not.
type Module struct {
	rt        *Runtime
	compiled  wazero.CompiledModule
	functions []abi.Function
}

// Report is what Inspect learns about a module, valid or not.
type Report struct {
	// Exports and Imports list the module's functions as "name(params) results"
	// and "module.name(params) results".
	Exports, Imports []string
	// ABIVersion is the version the module reports, 0 when it could not be
	// read.
	ABIVersion uint32
	// Functions is the guest's function table, when it could be read.
	Functions []abi.Function
	// Problem is why the pool cannot run the module, or nil.
	Problem error
}

// Compile compiles and validates wasm: it must be a module whose imports the
// host provides, that exports the ABI's functions and memory, reports this
// host's ABI version and describes its functions. Errors are
// *CompileError, *ImportError, *ExportError, *VersionError, or a guest
// failure (*TrapError, *GuestExitError) while describing itself.
func (rt *Runtime) Compile(ctx context.Context, wasm []byte) (*Module, error) {
	m, rep := rt.compile(ctx, wasm)
	if rep.Problem != nil {
		return nil, rep.Problem
	}
	return m, nil
}

// Load compiles a module that Compile has already accepted from the same
// bytes (in the parent, before it started the workers): the import and
// export checks run again, but the throwaway instance that reads the ABI
// version and the function table does not, so Functions is empty (each
// instance still checks the version: NewInstance fails with
// *VersionError). A worker starts a few milliseconds sooner for it.
// Errors: *CompileError, *ImportError, *ExportError.
func (rt *Runtime) Load(ctx context.Context, wasm []byte) (*Module, error) {
	compiled, err := rt.r.CompileModule(ctx, wasm)
	if err != nil {
		return nil, &CompileError{Err: err}
	}
	if err = rt.checkImports(compiled); err == nil {
		err = checkExports(compiled)
	}
	if err != nil {
		compiled.Close(ctx)
		return nil, err
	}
	return &Module{rt: rt, compiled: compiled}, nil
}

// Precompile compiles wasm into the runtime's compilation cache without
// instantiating it: no guest code runs. Errors are *CompileError.
func (rt *Runtime) Precompile(ctx context.Context, wasm []byte) error {
	cm, err := rt.r.CompileModule(ctx, wasm)
	if err != nil {
		return &CompileError{Err: err}
	}
	return cm.Close(ctx)
}

// Inspect compiles wasm like Compile and reports what it found even when the
// module cannot be run.
func (rt *Runtime) Inspect(ctx context.Context, wasm []byte) Report {
	m, rep := rt.compile(ctx, wasm)
	if m != nil {
		m.Close(ctx)
	}
	return rep
}

func (rt *Runtime) compile(ctx context.Context, wasm []byte) (*Module, Report) {
	var rep Report
	compiled, err := rt.r.CompileModule(ctx, wasm)
	if err != nil {
		rep.Problem = &CompileError{Err: err}
		return nil, rep
	}
	for _, f := range compiled.ImportedFunctions() {
		mod, name, _ := f.Import()
		rep.Imports = append(rep.Imports, mod+"."+name+signature(f))
	}
	for name, f := range compiled.ExportedFunctions() {
		rep.Exports = append(rep.Exports, name+signature(f))
	}
	slices.Sort(rep.Exports)
	if rep.Problem = rt.checkImports(compiled); rep.Problem == nil {
		rep.Problem = checkExports(compiled)
	}
	if rep.Problem != nil {
		compiled.Close(ctx)
		return nil, rep
	}
	m := &Module{rt: rt, compiled: compiled}
	// Describe on a throwaway instance: the ABI version is checked here,
	// at instantiation, and the function table read once.
	inst, err := m.NewInstance(ctx, InstanceConfig{})
	var ve *VersionError
	if errors.As(err, &ve) {
		rep.ABIVersion = ve.Module
	}
	if err == nil {
		rep.ABIVersion = inst.version
		var out []byte
		out, err = inst.Call(ctx, abi.CallDescribe, "", nil)
		if err == nil {
			m.functions, err = abi.ParseFunctions(out)
		}
		inst.Close(ctx)
	}
	rep.Functions = m.functions
	if err != nil {
		rep.Problem = err
		compiled.Close(ctx)
		return nil, rep
	}
	return m, rep
}

func (rt *Runtime) checkImports(c wazero.CompiledModule) error {
	for _, f := range c.ImportedFunctions() {
		mod, name, _ := f.Import()
		switch mod {
		case abi.ImportModule:
			want, ok := abi.HostFunctions[name]
			if !ok {
				return &ImportError{Module: mod, Name: name, Reason: "the host provides no such function"}
			}
			if !sameSignature(f, want) {
				return &ImportError{Module: mod, Name: name, Reason: "type " + signature(f) + ", the host provides " + abiSignature(want)}
			}
		case wasi_snapshot_preview1.ModuleName:
			def, ok := rt.wasi[name]
			if !ok {
				return &ImportError{Module: mod, Name: name, Reason: "not a WASI preview 1 function"}
			}
			if signature(def) != signature(f) {
				return &ImportError{Module: mod, Name: name, Reason: "type " + signature(f) + ", WASI defines " + signature(def)}
			}
		default:
			return &ImportError{Module: mod, Name: name, Reason: "unknown import module (the host provides " + abi.ImportModule + " and " + wasi_snapshot_preview1.ModuleName + ")"}
		}
	}
	for _, mem := range c.ImportedMemories() {
		mod, name, _ := mem.Import()
		return &ImportError{Module: mod, Name: name, Reason: "imported memories are not provided; export your own"}
	}
	return nil
}

func checkExports(c wazero.CompiledModule) error {
	exports := c.ExportedFunctions()
	for _, name := range []string{abi.ExportVersion, abi.ExportCall} {
		f, ok := exports[name]
		want := abi.GuestExports[name]
		if !ok {
			return &ExportError{Name: name, Reason: "missing (is this a wasmpool guest built as a reactor?)"}
		}
		if !sameSignature(f, want) {
			return &ExportError{Name: name, Reason: "type " + signature(f) + ", want " + abiSignature(want)}
		}
	}
	if _, ok := c.ExportedMemories()[abi.ExportMemory]; !ok {
		return &ExportError{Name: abi.ExportMemory, Reason: "missing"}
	}
	if f, ok := exports[abi.ExportInitialize]; ok && (len(f.ParamTypes()) != 0 || len(f.ResultTypes()) != 0) {
		return &ExportError{Name: abi.ExportInitialize, Reason: "type " + signature(f) + ", want ()"}
	}
	return nil
}

// Functions returns the module's function table.
func (m *Module) Functions() []abi.Function { return m.functions }

// Close releases the compiled module. Instances made from it must be closed
// first.
func (m *Module) Close(ctx context.Context) error { return m.compiled.Close(ctx) }

// InstanceConfig configures one instance.
type InstanceConfig struct {
	// Stdout and Stderr receive what the guest writes to its standard
	// output and error. Nil discards.
	Stdout, Stderr io.Writer
	// Log receives the guest's log records; msg is only valid during the
	// call. Nil discards.
	Log func(level abi.LogLevel, msg []byte)
}

func signature(f api.FunctionDefinition) string {
	return "(" + valueTypes(f.ParamTypes()) + ") (" + valueTypes(f.ResultTypes()) + ")"
}

func abiSignature(s abi.Signature) string {
	return "(" + valueTypes(valueTypesOf(s.Params)) + ") (" + valueTypes(valueTypesOf(s.Results)) + ")"
}

func valueTypes(ts []api.ValueType) string {
	s := ""
	for i, t := range ts {
		if i > 0 {
			s += ","
		}
		s += api.ValueTypeName(t)
	}
	return s
}

func sameSignature(f api.FunctionDefinition, s abi.Signature) bool {
	return signature(f) == abiSignature(s)
}

// token gives a new instance its own token: the lowest local id no live
// instance holds, so ids stay unique among the instances that can own
// anything.
func (rt *Runtime) token() (shm.Token, error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if len(rt.locals) >= shm.MaxLocal {
		return 0, fmt.Errorf("host: more than %d live instances", shm.MaxLocal)
	}
	for rt.locals[rt.next] || rt.next == 0 {
		rt.next = (rt.next + 1) % (shm.MaxLocal + 1)
	}
	id := rt.next
	rt.locals[id] = true
	return shm.MakeToken(rt.cfg.Participant, id), nil
}

func (rt *Runtime) freeToken(tok shm.Token) {
	rt.mu.Lock()
	delete(rt.locals, uint32(tok)&shm.MaxLocal)
	rt.mu.Unlock()
}
