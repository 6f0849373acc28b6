// Package abi is the contract between a wasmpool host and its guest modules:
// the import module name, every host function and guest export with its wasm
// signature, the byte layouts that cross the boundary, the Errno values and
// the ABI version. SPEC.md beside this file is the same contract written for
// guest authors in any language; this package is its Go form.
//
// The package uses only the standard library and builds for linux and wasip1,
// so the host and the Go guest SDK share one definition of every layout.
package abi

import "strconv"

// Version is the ABI version this package describes. A guest reports the
// version it was built for from its [ExportVersion] export; a host refuses a
// module whose version differs from its own, naming both.
//
// The version changes when the meaning of an existing import, export or
// layout changes. Adding a new import does not change it: a module that
// imports a function the host lacks is refused at instantiation by name.
const Version uint32 = 1

// ImportModule is the wasm module name under which the host provides every
// function in this contract.
const ImportModule = "wasmpool"

// Host functions, imported by guests from [ImportModule]. Their signatures,
// in wasm types, are in [HostFunctions].
const (
	// FuncCallInput copies the current call's function name and input into
	// guest memory: call_input(name_ptr, input_ptr i32) -> errno.
	FuncCallInput = "call_input"
	// FuncCallOutput hands the current call's output to the host, which
	// copies it: call_output(ptr, len i32) -> errno.
	FuncCallOutput = "call_output"
	// FuncLog writes one log record: log(level, ptr, len i32) -> errno.
	FuncLog = "log"
)

// Host functions of the shared objects (queues, pipes, locks and the rest).
// Handles are small numbers local to one instance, made by FuncObjectOpen
// or FuncObjectRef; timeouts are i64 nanoseconds, negative for none and 0
// for "do not block". SPEC.md gives each one's contract.
const (
	FuncObjectCreate  = "object_create"
	FuncObjectOpen    = "object_open"
	FuncObjectRef     = "object_ref"
	FuncObjectClose   = "object_close"
	FuncQueuePut      = "queue_put"
	FuncQueuePutBatch = "queue_put_batch"
	FuncQueueGet      = "queue_get"
	FuncQueueGetBatch = "queue_get_batch"
	FuncQueueInfo     = "queue_info"
	FuncQueueClose    = "queue_close"
	FuncQueueTaskDone = "queue_task_done"
	FuncQueueJoin     = "queue_join"
	FuncPipeSend      = "pipe_send"
	FuncPipeRecv      = "pipe_recv"
	FuncPipePoll      = "pipe_poll"
	FuncLockAcquire   = "lock_acquire"
	FuncLockRelease   = "lock_release"
	FuncSemAcquire    = "sem_acquire"
	FuncSemRelease    = "sem_release"
	FuncSemValue      = "sem_value"
	FuncEventSet      = "event_set"
	FuncEventClear    = "event_clear"
	FuncEventWait     = "event_wait"
	FuncEventIsSet    = "event_is_set"
	FuncCondWait      = "cond_wait"
	FuncCondNotify    = "cond_notify"
	FuncBarrierWait   = "barrier_wait"
	FuncBarrierAbort  = "barrier_abort"
	FuncBarrierReset  = "barrier_reset"
)

// Host functions of shared-memory segments. A segment is a memfd of a
// whole number of 64 KiB pages that guests map over a window of their own
// linear memory (segment_map) or read and write by copy. Handles are local
// to one instance, like object handles, in a table of their own.
const (
	FuncSegmentCreate = "segment_create"
	FuncSegmentOpen   = "segment_open"
	FuncSegmentInfo   = "segment_info"
	FuncSegmentMap    = "segment_map"
	FuncSegmentUnmap  = "segment_unmap"
	FuncSegmentRead   = "segment_read"
	FuncSegmentWrite  = "segment_write"
	FuncSegmentClose  = "segment_close"
	FuncSegmentUnlink = "segment_unlink"
)

// Host functions for atomic operations on words of guest memory, for guests
// (such as Go's) whose compiler emits no wasm atomics. Inside a mapped
// segment window they are atomic across processes; width is 32 or 64 and
// the address must be aligned to it.
const (
	FuncAtomicLoad   = "atomic_load"
	FuncAtomicStore  = "atomic_store"
	FuncAtomicAdd    = "atomic_add"
	FuncAtomicCAS    = "atomic_cas"
	FuncAtomicWait   = "atomic_wait"
	FuncAtomicNotify = "atomic_notify"
)

// SegmentPage is the granule of segment sizes and window addresses: one
// wasm page.
const SegmentPage = 64 << 10

// MaxSegmentName bounds a segment name in bytes.
const MaxSegmentName = 255

// Guest exports the host calls.
const (
	// ExportVersion is wasmpool_abi() -> i32: the ABI version the module
	// was built for.
	ExportVersion = "wasmpool_abi"
	// ExportCall is wasmpool_call(kind, name_len, input_len i32) -> errno:
	// run one call of the given [CallKind].
	ExportCall = "wasmpool_call"
	// ExportMemory is the guest's linear memory, which every pointer in
	// this contract addresses.
	ExportMemory = "memory"
	// ExportInitialize is the optional WASI reactor initializer. When the
	// module exports it, the host runs it once per instance before any
	// other export.
	ExportInitialize = "_initialize"
)

// ValueType is a wasm value type as it appears in [Signature].
type ValueType byte

// The wasm value types this contract uses.
const (
	I32 ValueType = 0x7f
	I64 ValueType = 0x7e
)

// Signature is the wasm type of a host function or guest export.
type Signature struct {
	Params  []ValueType
	Results []ValueType
	// Blocks says whether a call may block the calling instance (and, for a
	// Go guest, every goroutine in it) waiting for another process.
	Blocks bool
}

// HostFunctions lists every function the host provides under
// [ImportModule], by name.
var HostFunctions = map[string]Signature{
	FuncCallInput:  {Params: []ValueType{I32, I32}, Results: []ValueType{I32}},
	FuncCallOutput: {Params: []ValueType{I32, I32}, Results: []ValueType{I32}},
	FuncLog:        {Params: []ValueType{I32, I32, I32}, Results: []ValueType{I32}},

	FuncObjectCreate:  blocking(I32, I32, I32, I32, I32, I32),
	FuncObjectOpen:    sig(I32, I32, I32, I32),
	FuncObjectRef:     sig(I32, I32, I32, I32),
	FuncObjectClose:   sig(I32),
	FuncQueuePut:      blocking(I32, I32, I32, I64),
	FuncQueuePutBatch: blocking(I32, I32, I32, I64, I32),
	FuncQueueGet:      blocking(I32, I32, I32, I64, I32),
	FuncQueueGetBatch: blocking(I32, I32, I32, I32, I64, I32),
	FuncQueueInfo:     sig(I32, I32),
	FuncQueueClose:    sig(I32),
	FuncQueueTaskDone: sig(I32),
	FuncQueueJoin:     blocking(I32, I64),
	FuncPipeSend:      blocking(I32, I32, I32, I64),
	FuncPipeRecv:      blocking(I32, I32, I32, I64, I32),
	FuncPipePoll:      blocking(I32, I64),
	FuncLockAcquire:   blocking(I32, I64),
	FuncLockRelease:   sig(I32),
	FuncSemAcquire:    blocking(I32, I64),
	FuncSemRelease:    sig(I32, I32),
	FuncSemValue:      sig(I32, I32),
	FuncEventSet:      sig(I32),
	FuncEventClear:    sig(I32),
	FuncEventWait:     blocking(I32, I64),
	FuncEventIsSet:    sig(I32, I32),
	FuncCondWait:      blocking(I32, I64),
	FuncCondNotify:    sig(I32, I32),
	FuncBarrierWait:   blocking(I32, I64, I32),
	FuncBarrierAbort:  sig(I32),
	FuncBarrierReset:  sig(I32),

	FuncSegmentCreate: blocking(I32, I32, I64, I32),
	FuncSegmentOpen:   blocking(I32, I32, I32),
	FuncSegmentInfo:   sig(I32, I32, I32, I32),
	FuncSegmentMap:    sig(I32, I32),
	FuncSegmentUnmap:  sig(I32),
	FuncSegmentRead:   sig(I32, I64, I32, I32),
	FuncSegmentWrite:  sig(I32, I64, I32, I32),
	FuncSegmentClose:  sig(I32),
	FuncSegmentUnlink: blocking(I32),

	FuncAtomicLoad:   sig(I32, I32, I32),
	FuncAtomicStore:  sig(I32, I32, I64),
	FuncAtomicAdd:    sig(I32, I32, I64, I32),
	FuncAtomicCAS:    sig(I32, I32, I64, I64, I32),
	FuncAtomicWait:   blocking(I32, I64, I64),
	FuncAtomicNotify: sig(I32, I32, I32),
}

// sig is the signature of a non-blocking host function returning an errno.
func sig(params ...ValueType) Signature {
	return Signature{Params: params, Results: []ValueType{I32}}
}

// blocking is the signature of a host function that may block.
func blocking(params ...ValueType) Signature {
	s := sig(params...)
	s.Blocks = true
	return s
}

// GuestExports lists the function exports a guest module must provide.
var GuestExports = map[string]Signature{
	ExportVersion: {Results: []ValueType{I32}},
	ExportCall:    {Params: []ValueType{I32, I32, I32}, Results: []ValueType{I32}},
}

// CallKind tells a guest what a [ExportCall] call asks for and how its input
// and output are laid out.
type CallKind uint32

const (
	// CallDescribe asks for the module's function table. Name and input
	// are empty; the output is a [List] of entries, each one byte of
	// [FuncKind] followed by the function's name.
	CallDescribe CallKind = 0
	// CallBatch runs a task function once per item. The input is a [List]
	// of items; the output is a [Results] with one result per item, in
	// order.
	CallBatch CallKind = 1
	// CallProcess runs a process function once with arguments. The input
	// is a [List] of arguments; the output is a [Results] with exactly one
	// result.
	CallProcess CallKind = 2
)

// FuncKind is the kind of a guest function in the function table.
type FuncKind byte

const (
	// FuncTask is a task function: one input, one output, both raw bytes.
	FuncTask FuncKind = 1
	// FuncProcess is a process entry: arguments in, an exit status out.
	FuncProcess FuncKind = 2
	// FuncTypedTask is a task function whose input and output are CBOR
	// (RFC 8949). It is called like FuncTask; the kind tells callers such
	// as the command line how to encode items.
	FuncTypedTask FuncKind = 3
)

// String returns "task", "process" or "typed task".
func (k FuncKind) String() string {
	switch k {
	case FuncTask:
		return "task"
	case FuncProcess:
		return "process"
	case FuncTypedTask:
		return "typed task"
	}
	return "unknown"
}

// IsTask reports whether k is a task kind, raw or typed.
func (k FuncKind) IsTask() bool { return k == FuncTask || k == FuncTypedTask }

// Status is the outcome of one item in a [Results] layout.
type Status byte

const (
	// StatusOK means the payload is the function's output.
	StatusOK Status = 0
	// StatusError means the function failed; the payload is its UTF-8
	// error message.
	StatusError Status = 1
	// StatusInvalidInput means the guest could not decode the item for a
	// typed function, or the function refused it as invalid; the payload
	// is the UTF-8 reason.
	StatusInvalidInput Status = 2
)

// LogLevel is the level argument of [FuncLog].
type LogLevel uint32

// Log levels, in increasing severity.
const (
	LogDebug LogLevel = 0
	LogInfo  LogLevel = 1
	LogWarn  LogLevel = 2
	LogError LogLevel = 3
)

// String returns the level's lower-case name.
func (l LogLevel) String() string {
	switch l {
	case LogDebug:
		return "debug"
	case LogInfo:
		return "info"
	case LogWarn:
		return "warn"
	case LogError:
		return "error"
	}
	return "unknown"
}

// ObjectKind is the kind of a shared object (queue, pipe, lock, ...). Its
// numbers are part of the ABI.
type ObjectKind uint32

// The object kinds.
const (
	KindQueue     ObjectKind = 1
	KindPipe      ObjectKind = 2
	KindLock      ObjectKind = 3
	KindRLock     ObjectKind = 4
	KindSemaphore ObjectKind = 5
	KindEvent     ObjectKind = 6
	KindCondition ObjectKind = 7
	KindBarrier   ObjectKind = 8
)

var kindNames = [...]string{
	KindQueue: "queue", KindPipe: "pipe", KindLock: "lock", KindRLock: "rlock",
	KindSemaphore: "semaphore", KindEvent: "event", KindCondition: "condition", KindBarrier: "barrier",
}

// String returns the kind's name, such as "queue".
func (k ObjectKind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "kind(" + strconv.FormatUint(uint64(k), 10) + ")"
}
