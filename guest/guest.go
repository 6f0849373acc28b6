// Package guest is the Go SDK for wasmpool worker modules. A guest is a Go
// program built as a WASI reactor with the standard toolchain:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o mod.wasm .
//
// It registers its functions from init functions (a reactor's main never
// runs) and the host calls them by name:
//
//	func init() {
//		guest.Task("double", func(in []byte) ([]byte, error) { ... })
//		guest.Process("greet", func(args [][]byte) error { ... })
//	}
//
//	func main() {}
//
// The SDK provides the exports and imports of the ABI described in package
// abi; a guest author never writes //go:wasmimport or //go:wasmexport.
// Package guest/typed adds task functions and queue messages of Go types,
// encoded as CBOR; a guest that does not import it does not carry the
// codec.
//
// A guest instance runs one call at a time. A blocking host call (and a long
// computation) blocks every goroutine of the instance; the host runs one
// instance per concurrent task. Output written to os.Stdout and os.Stderr
// reaches the host, which prefixes it with the task or process it came from.
//
// Registration functions must be called during initialization, before the
// host makes its first call; they panic on an empty or duplicate name.
// Outside GOOS=wasip1 the package builds so that guest code can be unit
// tested natively, but [Log] writes to the standard error instead of the host.
package guest

import (
	"encoding/binary"
	"reflect"
	"runtime"
	"slices"
	"strconv"

	"github.com/wasmpool/wasmpool/abi"
)

// TaskFunc is a task function: it maps one input to one output. The input
// belongs to the function (it is not reused after the call); the host copies
// the output when the call returns. A returned error fails only this item;
// a panic is recovered and reported as an error whose message starts with
// "panic: ".
type TaskFunc func(in []byte) ([]byte, error)

// ProcessFunc is a process entry, the target of a pool Process. It runs once
// with its arguments. Returning nil ends the process with exit code 0;
// returning an error ends it with exit code 1 and the error's message; a
// call to os.Exit(n) ends it with exit code n and discards the instance.
type ProcessFunc func(args [][]byte) error

type entry struct {
	kind    abi.FuncKind
	task    TaskFunc
	process ProcessFunc
}

// registry is the module's function table. A wasm module is one program with
// one export table, so this is the one package-level registry the SDK keeps
// (RATIONALE.md, "Why does the guest SDK keep a registry?").
var registry = map[string]*entry{}

// order keeps registration order for the function table.
var order []string

func register(name string, e *entry) {
	if name == "" {
		panic("guest: empty function name")
	}
	if _, dup := registry[name]; dup {
		panic("guest: function " + name + " registered twice")
	}
	registry[name] = e
	order = append(order, name)
}

// Task registers fn as the task function name.
func Task(name string, fn TaskFunc) {
	register(name, &entry{kind: abi.FuncTask, task: fn})
}

// CBORTask registers fn as the task function name whose input and output
// are CBOR (RFC 8949), as the pool's typed calls and the wasmpool
// command's JSON lines encode them; fn gets and returns the encoded
// bytes. Package guest/typed builds typed tasks on it; a guest with a CBOR
// codec of its own can use it directly.
func CBORTask(name string, fn TaskFunc) {
	register(name, &entry{kind: abi.FuncTypedTask, task: fn})
}

// InvalidInputError reports an input a task function cannot use. Returned
// by the function, wrapped or not, it fails the item with an invalid-input
// error (pool.InvalidInputError) carrying Reason, rather than a task error.
type InvalidInputError struct {
	Reason string
}

func (e *InvalidInputError) Error() string { return "invalid input: " + e.Reason }

// Process registers fn as the process entry name.
func Process(name string, fn ProcessFunc) {
	register(name, &entry{kind: abi.FuncProcess, process: fn})
}

// Functions returns the function table in registration order.
func Functions() []abi.Function {
	fns := make([]abi.Function, len(order))
	for i, name := range order {
		fns[i] = abi.Function{Name: name, Kind: registry[name].kind}
	}
	return fns
}

// results and items are reused across calls: the host copies the output
// before the call returns, and an instance runs one call at a time.
var (
	results abi.ResultsBuilder
	items   [][]byte
)

// reuseItems is the most items whose list dispatch reuses.
const reuseItems = 16

// dispatch runs one wasmpool_call and returns its output. It is the whole
// call protocol apart from moving bytes across the boundary, so it is tested
// natively.
func dispatch(kind abi.CallKind, name []byte, input []byte) ([]byte, abi.Errno) {
	switch kind {
	case abi.CallDescribe:
		return abi.AppendFunctions(nil, Functions()), abi.OK
	case abi.CallBatch, abi.CallProcess:
	default:
		return nil, abi.ENOSYS
	}
	e := registry[string(name)] // no copy of name: it only indexes
	if e == nil {
		return nil, abi.ENOENT
	}
	// The items go to the task functions, which own them. The slice that
	// lists a few of them (a call of one item: Map item at a time) is
	// reused, and cleared after so that it keeps no input alive; that
	// spares a fifth of such a call. Reused for chunks of thousands of
	// items, it made Map with default chunks 5-12% slower, which we have
	// not explained, so those get a slice of their own.
	list := items[:0]
	if len(input) >= 4 && binary.LittleEndian.Uint32(input) > reuseItems {
		list = nil
	}
	list, err := abi.AppendItems(list, input, -1)
	if cap(list) <= reuseItems {
		items = list
		defer clear(list)
	}
	if err != nil {
		return nil, abi.EINVAL
	}
	results.Reset(results.Bytes())
	if kind == abi.CallProcess {
		if e.kind != abi.FuncProcess {
			return nil, abi.EINVAL
		}
		st, msg := runProcess(e.process, slices.Clone(list)) // a process may keep its args
		results.Add(st, msg)
		return results.Bytes(), abi.OK
	}
	if !e.kind.IsTask() {
		return nil, abi.EINVAL
	}
	for _, in := range list {
		out, st := runTask(e, in)
		results.Add(st, out)
	}
	return results.Bytes(), abi.OK
}

func runTask(e *entry, in []byte) (out []byte, st abi.Status) {
	defer func() {
		if r := recover(); r != nil {
			out, st = panicMessage(r), abi.StatusError
		}
	}()
	out, err := e.task(in)
	if invalid := invalidInput(err); invalid != nil {
		return []byte(invalid.Reason), abi.StatusInvalidInput
	}
	if err != nil {
		return []byte(err.Error()), abi.StatusError
	}
	return out, abi.StatusOK
}

// invalidInput finds an *InvalidInputError in err's tree, as errors.As
// would; errors.As, built on reflection, would add about 50 KB of wasm to
// every guest (RATIONALE.md, "Why does the guest SDK not use fmt?").
// Unlike errors.As it ignores As methods and a nil *InvalidInputError.
func invalidInput(err error) *InvalidInputError {
	switch e := err.(type) {
	case nil:
		return nil
	case *InvalidInputError:
		return e
	case interface{ Unwrap() error }:
		return invalidInput(e.Unwrap())
	case interface{ Unwrap() []error }:
		for _, err := range e.Unwrap() {
			if found := invalidInput(err); found != nil {
				return found
			}
		}
	}
	return nil
}

func runProcess(fn ProcessFunc, args [][]byte) (st abi.Status, msg []byte) {
	defer func() {
		if r := recover(); r != nil {
			st, msg = abi.StatusError, panicMessage(r)
		}
	}()
	if err := fn(args); err != nil {
		return abi.StatusError, []byte(err.Error())
	}
	return abi.StatusOK, nil
}

// panicMessage reports a recovered panic with the stack, its value shown
// as the runtime shows one: an error's Error, a Stringer's String, a
// string, boolean or number as itself (with its type's name if it has
// one: main.Code(3)), anything else as its type in parentheses, where
// the runtime adds an address. fmt, which would show a struct's fields,
// is left out of the SDK (RATIONALE.md, "Why does the guest SDK not use
// fmt?").
func panicMessage(r any) []byte {
	b := append([]byte("panic: "), panicValue(r)...)
	b = append(b, "\n\n"...)
	return append(b, stack()...)
}

func panicValue(r any) (s string) {
	switch x := r.(type) {
	case nil:
		return "nil"
	case error, interface{ String() string }:
		// The method may panic too (a nil pointer's, say): that must
		// not escape the recovery it runs in.
		defer func() {
			if recover() != nil {
				s = "(" + reflect.TypeOf(r).String() + ") whose " + method(r) + " method panicked"
			}
		}()
		if err, ok := x.(error); ok {
			return err.Error()
		}
		return x.(interface{ String() string }).String()
	}
	v := reflect.ValueOf(r)
	var text string
	switch v.Kind() {
	case reflect.String:
		text = v.String()
	case reflect.Bool:
		text = strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		text = strconv.FormatInt(v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		text = strconv.FormatUint(v.Uint(), 10)
	case reflect.Float32:
		text = strconv.FormatFloat(v.Float(), 'g', -1, 32)
	case reflect.Float64:
		text = strconv.FormatFloat(v.Float(), 'g', -1, 64)
	default:
		return "(" + v.Type().String() + ")"
	}
	if t := v.Type(); t.PkgPath() != "" {
		if t.Kind() == reflect.String {
			text = `"` + text + `"` // unescaped, as the runtime prints it
		}
		return t.String() + "(" + text + ")"
	}
	return text
}

func method(r any) string {
	if _, ok := r.(error); ok {
		return "Error"
	}
	return "String"
}

// stack returns the calling goroutine's stack trace (runtime/debug.Stack,
// which would link fmt).
func stack() []byte {
	buf := make([]byte, 4096)
	for {
		n := runtime.Stack(buf, false)
		if n < len(buf) {
			return buf[:n]
		}
		buf = make([]byte, 2*len(buf))
	}
}

// Log sends one log record at level to the host, which delivers it to the
// pool's log writer with the task or process it came from.
func Log(level abi.LogLevel, msg string) {
	logMessage(level, msg)
}
