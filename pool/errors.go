package pool

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wasmpool/wasmpool/abi"
	"github.com/wasmpool/wasmpool/host"
	"github.com/wasmpool/wasmpool/internal/wire"
)

// Sentinel errors, for errors.Is.
var (
	// ErrClosed: the pool is closed, or closed while the call waited.
	ErrClosed = errors.New("pool: closed")
	// ErrNotSupported: worker processes are not supported on this
	// platform (wasmpool needs Linux).
	ErrNotSupported = errors.New("pool: not supported on this platform")
	// ErrUnknownFunction: the module has no function of that name, or not
	// of the kind the call needs (a task called as a process, or the
	// reverse). It is host.ErrUnknownFunction.
	ErrUnknownFunction = host.ErrUnknownFunction
	// ErrTooLarge: an input or output exceeds Config.MaxMessageSize. It is
	// host.ErrTooLarge.
	ErrTooLarge = host.ErrTooLarge
	// ErrTimeout: a call's deadline passed; *TimeoutError matches it, and
	// so does context.DeadlineExceeded.
	ErrTimeout = errors.New("pool: timed out")
)

// Guest failures, defined by package host and surfaced unchanged.
type (
	// TrapError: the guest trapped; it carries the wasm stack trace.
	TrapError = host.TrapError
	// GuestExitError: the guest ended its instance with proc_exit.
	GuestExitError = host.GuestExitError
	// CompileError, ImportError, ExportError and VersionError: New was
	// given a module the pool cannot run.
	CompileError = host.CompileError
	ImportError  = host.ImportError
	ExportError  = host.ExportError
	VersionError = host.VersionError
)

// FunctionError reports a call to a function the module does not have, or
// has with another kind. It matches ErrUnknownFunction.
type FunctionError struct {
	Name   string
	Reason string
}

func (e *FunctionError) Error() string {
	return fmt.Sprintf("pool: function %q: %s", e.Name, e.Reason)
}

// Unwrap returns ErrUnknownFunction.
func (e *FunctionError) Unwrap() error { return ErrUnknownFunction }

// TaskError reports a task function that returned an error, or panicked
// (Message then starts with "panic: " and holds the guest's stack). The
// instance it ran on stays in service.
type TaskError struct {
	Function string
	Message  string
}

func (e *TaskError) Error() string { return fmt.Sprintf("%s: %s", e.Function, e.Message) }

// InvalidInputError reports an input a typed task could not decode, or
// one a task function refused as invalid (guest.InvalidInputError).
type InvalidInputError struct {
	Function string
	Reason   string
}

func (e *InvalidInputError) Error() string {
	return fmt.Sprintf("%s: invalid input: %s", e.Function, e.Reason)
}

// TimeoutError reports a call whose deadline passed. If the call was running,
// its worker was stopped (see Config.Interruptible) and the work with it.
type TimeoutError struct {
	Function string
	Deadline time.Time
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("pool: %s: deadline %s exceeded", e.Function, e.Deadline.Format(time.RFC3339Nano))
}

// Is matches ErrTimeout and context.DeadlineExceeded.
func (e *TimeoutError) Is(target error) bool {
	return target == ErrTimeout || target == context.DeadlineExceeded
}

// WorkerExitError reports a worker process that ended while it held the
// call: killed, crashed, or stopped by the pool to end another call.
type WorkerExitError struct {
	// Worker is the worker's slot, 0 to Workers-1; PID its process id.
	Worker, PID int
	// ExitCode is the process's exit code, or -1 if a signal ended it.
	ExitCode int
	// Signal is the signal that ended it, such as "killed", or "".
	Signal string
	// Reason says why the pool knows it ended, when it caused the exit.
	Reason string
	// Attempts is how many times the call ran (1 + retries).
	Attempts int
	// Stderr is the end of the worker's own standard error (Go runtime
	// messages, not guest output).
	Stderr string
}

func (e *WorkerExitError) Error() string {
	how := fmt.Sprintf("exit code %d", e.ExitCode)
	if e.Signal != "" {
		how = "signal: " + e.Signal
	}
	s := fmt.Sprintf("pool: worker %d (pid %d) exited (%s)", e.Worker, e.PID, how)
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	if e.Attempts > 1 {
		s += fmt.Sprintf(" after %d attempts", e.Attempts)
	}
	if e.Stderr != "" {
		s += "\nworker stderr:\n" + e.Stderr
	}
	return s
}

// ItemError reports the failure of one item of a Map: Index is the item's
// position in the input.
type ItemError struct {
	Index int
	Err   error
}

func (e *ItemError) Error() string { return fmt.Sprintf("item %d: %v", e.Index, e.Err) }
func (e *ItemError) Unwrap() error { return e.Err }

// errCancelled marks a call the worker dropped unstarted because the pool
// cancelled it; its caller has been answered already.
var errCancelled = errors.New("pool: cancelled")

// fromWire converts a worker's error to the typed error it stands for: the
// one place parent-side errors are mapped.
func fromWire(e *wire.Error) error {
	switch e.Kind {
	case wire.KindTrap:
		return &TrapError{Function: e.Function, Message: e.Message, Stack: e.Stack, Stderr: e.Stderr}
	case wire.KindGuestExit:
		return &GuestExitError{Function: e.Function, Code: e.Code, Stderr: e.Stderr}
	case wire.KindCall:
		errno := abi.Errno(e.Code)
		if errno == abi.ENOENT {
			return &FunctionError{Name: e.Function, Reason: "the module has no such function"}
		}
		return &host.CallError{Function: e.Function, Errno: errno}
	case wire.KindTooLarge:
		return fmt.Errorf("pool: %s: %w", e.Function, ErrTooLarge)
	case wire.KindCancelled:
		return errCancelled
	case wire.KindDeadline:
		return &TimeoutError{Function: e.Function}
	case wire.KindInterrupt:
		return fmt.Errorf("pool: %s interrupted: %s", e.Function, e.Message)
	}
	return fmt.Errorf("pool: worker: %s", e.Message)
}

// resultError converts one item's status to an error, or nil for StatusOK.
func resultError(fn string, r abi.Result) error {
	switch r.Status {
	case abi.StatusOK:
		return nil
	case abi.StatusInvalidInput:
		return &InvalidInputError{Function: fn, Reason: string(r.Payload)}
	}
	return &TaskError{Function: fn, Message: string(r.Payload)}
}
