//go:build wasip1

package guest

import (
	"unsafe"

	"github.com/wasmpool/wasmpool/abi"
)

//go:wasmimport wasmpool call_input
func callInput(namePtr, inputPtr unsafe.Pointer) uint32

//go:wasmimport wasmpool call_output
func callOutput(ptr unsafe.Pointer, n uint32) uint32

//go:wasmimport wasmpool log
func hostLog(level uint32, ptr unsafe.Pointer, n uint32) uint32

//go:wasmexport wasmpool_abi
func exportVersion() uint32 { return abi.Version }

//go:wasmexport wasmpool_call
func exportCall(kind, nameLen, inputLen uint32) uint32 {
	// One allocation holds name and input; the input is handed to task
	// functions and never reused.
	buf := make([]byte, nameLen+inputLen)
	if errno := abi.Errno(callInput(ptr(buf[:nameLen]), ptr(buf[nameLen:]))); errno != abi.OK {
		return uint32(errno)
	}
	out, errno := dispatch(abi.CallKind(kind), buf[:nameLen], buf[nameLen:])
	if errno != abi.OK {
		return uint32(errno)
	}
	return callOutput(ptr(out), uint32(len(out)))
}

// ptr returns the address of b's first byte, or of a zero-length array
// when b is empty: the host only reads len bytes from it.
func ptr(b []byte) unsafe.Pointer {
	if cap(b) == 0 {
		return unsafe.Pointer(&zero)
	}
	return unsafe.Pointer(unsafe.SliceData(b))
}

var zero byte

func logMessage(level abi.LogLevel, msg string) {
	b := []byte(msg)
	hostLog(uint32(level), ptr(b), uint32(len(b)))
}
