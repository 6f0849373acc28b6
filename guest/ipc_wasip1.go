//go:build wasip1

package guest

import (
	"unsafe"

	"github.com/wasmpool/wasmpool/abi"
)

//go:wasmimport wasmpool object_create
func hostObjectCreate(kind uint32, spec unsafe.Pointer, specLen uint32, name unsafe.Pointer, nameLen uint32, hptr unsafe.Pointer) uint32

//go:wasmimport wasmpool object_open
func hostObjectOpen(kind uint32, ptr unsafe.Pointer, n uint32, hptr unsafe.Pointer) uint32

//go:wasmimport wasmpool object_ref
func hostObjectRef(kind uint32, ptr unsafe.Pointer, n uint32, hptr unsafe.Pointer) uint32

//go:wasmimport wasmpool object_close
func hostObjectClose(h uint32) uint32

//go:wasmimport wasmpool queue_put
func hostQueuePut(h uint32, ptr unsafe.Pointer, n uint32, timeout int64) uint32

//go:wasmimport wasmpool queue_put_batch
func hostQueuePutBatch(h uint32, ptr unsafe.Pointer, n uint32, timeout int64, nptr unsafe.Pointer) uint32

//go:wasmimport wasmpool queue_get
func hostQueueGet(h uint32, ptr unsafe.Pointer, capacity uint32, timeout int64, lenPtr unsafe.Pointer) uint32

//go:wasmimport wasmpool queue_get_batch
func hostQueueGetBatch(h uint32, ptr unsafe.Pointer, capacity uint32, max uint32, timeout int64, nptr unsafe.Pointer) uint32

//go:wasmimport wasmpool queue_info
func hostQueueInfo(h uint32, ptr unsafe.Pointer) uint32

//go:wasmimport wasmpool queue_close
func queueClose(h handle) uint32

//go:wasmimport wasmpool queue_task_done
func queueTaskDone(h handle) uint32

//go:wasmimport wasmpool queue_join
func queueJoin(h handle, timeout int64) uint32

//go:wasmimport wasmpool pipe_send
func hostPipeSend(h uint32, ptr unsafe.Pointer, n uint32, timeout int64) uint32

//go:wasmimport wasmpool pipe_recv
func hostPipeRecv(h uint32, ptr unsafe.Pointer, capacity uint32, timeout int64, lenPtr unsafe.Pointer) uint32

//go:wasmimport wasmpool pipe_poll
func pipePoll(h handle, timeout int64) uint32

//go:wasmimport wasmpool lock_acquire
func lockAcquire(h handle, timeout int64) uint32

//go:wasmimport wasmpool lock_release
func lockRelease(h handle) uint32

//go:wasmimport wasmpool sem_acquire
func semAcquire(h handle, timeout int64) uint32

//go:wasmimport wasmpool sem_release
func semRelease(h handle, n uint32) uint32

//go:wasmimport wasmpool sem_value
func hostSemValue(h uint32, ptr unsafe.Pointer) uint32

//go:wasmimport wasmpool event_set
func eventSet(h handle) uint32

//go:wasmimport wasmpool event_clear
func eventClear(h handle) uint32

//go:wasmimport wasmpool event_wait
func eventWait(h handle, timeout int64) uint32

//go:wasmimport wasmpool event_is_set
func hostEventIsSet(h uint32, ptr unsafe.Pointer) uint32

//go:wasmimport wasmpool cond_wait
func condWait(h handle, timeout int64) uint32

//go:wasmimport wasmpool cond_notify
func condNotify(h handle, n int32) uint32

//go:wasmimport wasmpool barrier_wait
func hostBarrierWait(h uint32, timeout int64, ptr unsafe.Pointer) uint32

//go:wasmimport wasmpool barrier_abort
func barrierAbort(h handle) uint32

//go:wasmimport wasmpool barrier_reset
func barrierReset(h handle) uint32

// out receives the u32 a host function writes back. An instance runs one
// goroutine at a time and a host call is never interrupted by another, so
// one word serves every call.
var out uint32

func outPtr() unsafe.Pointer { return unsafe.Pointer(&out) }

func objectOpen(kind abi.ObjectKind, b []byte, ref bool) (handle, uint32) {
	var e uint32
	if ref {
		e = hostObjectRef(uint32(kind), ptr(b), uint32(len(b)), outPtr())
	} else {
		e = hostObjectOpen(uint32(kind), ptr(b), uint32(len(b)), outPtr())
	}
	return handle(out), e
}

func objectClose(h handle) uint32 { return hostObjectClose(uint32(h)) }

func objectCreate(kind abi.ObjectKind, spec abi.ObjectSpec, name string) (handle, uint32) {
	s, n := abi.AppendObjectSpec(nil, spec), []byte(name)
	e := hostObjectCreate(uint32(kind), ptr(s), uint32(len(s)), ptr(n), uint32(len(n)), outPtr())
	return handle(out), e
}

func queuePut(h handle, msg []byte, timeout int64) uint32 {
	return hostQueuePut(uint32(h), ptr(msg), uint32(len(msg)), timeout)
}

func queuePutBatch(h handle, list []byte, timeout int64) (uint32, uint32) {
	out = 0
	e := hostQueuePutBatch(uint32(h), ptr(list), uint32(len(list)), timeout, outPtr())
	return out, e
}

func queueGet(h handle, buf []byte, timeout int64) (uint32, uint32) {
	out = 0
	e := hostQueueGet(uint32(h), ptr(buf), uint32(len(buf)), timeout, outPtr())
	return out, e
}

func queueGetBatch(h handle, buf []byte, max int, timeout int64) (uint32, uint32) {
	out = 0
	e := hostQueueGetBatch(uint32(h), ptr(buf), uint32(len(buf)), uint32(max), timeout, outPtr())
	return out, e
}

func queueInfo(h handle, b []byte) uint32 { return hostQueueInfo(uint32(h), ptr(b)) }

func pipeSend(h handle, msg []byte, timeout int64) uint32 {
	return hostPipeSend(uint32(h), ptr(msg), uint32(len(msg)), timeout)
}

func pipeRecv(h handle, buf []byte, timeout int64) (uint32, uint32) {
	out = 0
	e := hostPipeRecv(uint32(h), ptr(buf), uint32(len(buf)), timeout, outPtr())
	return out, e
}

func semValue(h handle) (uint32, uint32) {
	e := hostSemValue(uint32(h), outPtr())
	return out, e
}

func eventIsSet(h handle) (uint32, uint32) {
	e := hostEventIsSet(uint32(h), outPtr())
	return out, e
}

func barrierWait(h handle, timeout int64) (uint32, uint32) {
	e := hostBarrierWait(uint32(h), timeout, outPtr())
	return out, e
}
