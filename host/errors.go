package host

import (
	"errors"
	"fmt"
	"strings"

	"github.com/wasmpool/wasmpool/abi"
)

// Sentinel errors for branching with errors.Is.
var (
	// ErrUnknownFunction: the module has no function of that name and kind.
	ErrUnknownFunction = errors.New("host: unknown function")
	// ErrTooLarge: an input or output is larger than Config.MaxMessageSize.
	ErrTooLarge = errors.New("host: message too large")
	// ErrClosed: the runtime or instance has been closed.
	ErrClosed = errors.New("host: closed")
	// ErrBroken: the instance trapped or exited earlier and must be
	// discarded; it is never called again.
	ErrBroken = errors.New("host: instance is broken")
)

// CompileError reports bytes that are not a valid wasm module.
type CompileError struct {
	Err error
}

func (e *CompileError) Error() string { return "host: invalid wasm module: " + e.Err.Error() }
func (e *CompileError) Unwrap() error { return e.Err }

// ImportError reports an import the host does not provide, or provides with
// another type.
type ImportError struct {
	Module, Name string
	Reason       string
}

func (e *ImportError) Error() string {
	return fmt.Sprintf("host: module imports %s.%s: %s", e.Module, e.Name, e.Reason)
}

// ExportError reports a required export that is missing or has the wrong
// type.
type ExportError struct {
	Name   string
	Reason string
}

func (e *ExportError) Error() string {
	return fmt.Sprintf("host: module export %s: %s", e.Name, e.Reason)
}

// VersionError reports a module built for another ABI version.
type VersionError struct {
	Module, Host uint32
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("host: module was built for wasmpool ABI version %d, this host speaks version %d", e.Module, e.Host)
}

// TrapError reports a guest that trapped (unreachable, out-of-bounds access,
// stack overflow, ...). The instance is broken afterwards.
type TrapError struct {
	// Function is the guest function that was running, for a task or
	// process call.
	Function string
	// Message is the trap reason, such as "wasm error: unreachable".
	Message string
	// Stack is the wasm stack trace, one frame a line, innermost first.
	Stack string
	// Stderr is the end of what the instance wrote to its standard error
	// (a Go guest's runtime writes "fatal error: ..." there before it
	// aborts), at most StderrTail bytes.
	Stderr string
}

func (e *TrapError) Error() string {
	s := "guest trapped"
	if e.Function != "" {
		s += " in " + e.Function
	}
	s += ": " + e.Message
	if e.Stderr != "" {
		s += "\nguest stderr:\n" + e.Stderr
	}
	if e.Stack != "" {
		s += "\nwasm stack trace:\n" + e.Stack
	}
	return s
}

// GuestExitError reports a guest that ended its instance with proc_exit (in
// Go, os.Exit or an unrecovered runtime fatal error). The instance is broken
// afterwards. For a process function, Code is its exit code.
type GuestExitError struct {
	Function string
	Code     uint32
	// Stderr is the end of the instance's standard error, as in TrapError.
	Stderr string
}

func (e *GuestExitError) Error() string {
	s := fmt.Sprintf("guest exited with code %d", e.Code)
	if e.Function != "" {
		s += " in " + e.Function
	}
	if e.Stderr != "" {
		s += "\nguest stderr:\n" + e.Stderr
	}
	return s
}

// CallError reports a call the guest refused with an errno.
type CallError struct {
	Function string
	Errno    abi.Errno
}

func (e *CallError) Error() string {
	return fmt.Sprintf("host: guest refused call of %q: %v", e.Function, e.Errno)
}

// Unwrap maps the errno onto this package's sentinels.
func (e *CallError) Unwrap() error {
	switch e.Errno {
	case abi.ENOENT:
		return ErrUnknownFunction
	case abi.EMSGSIZE:
		return ErrTooLarge
	}
	return e.Errno
}

// StderrTail is how many bytes of an instance's standard error a
// TrapError or GuestExitError keeps.
const StderrTail = 2048

// newTrapError splits a wazero runtime error into reason and stack.
func newTrapError(fn string, err error) *TrapError {
	msg := err.Error()
	msg, stack, _ := strings.Cut(msg, "\nwasm stack trace:\n")
	return &TrapError{Function: fn, Message: msg, Stack: strings.TrimRight(stack, "\n")}
}
