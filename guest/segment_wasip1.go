//go:build wasip1

package guest

import (
	"encoding/binary"
	"unsafe"
)

//go:wasmimport wasmpool segment_create
func hostSegmentCreate(ptr unsafe.Pointer, n uint32, size int64, hptr unsafe.Pointer) uint32

//go:wasmimport wasmpool segment_open
func hostSegmentOpen(ptr unsafe.Pointer, n uint32, hptr unsafe.Pointer) uint32

//go:wasmimport wasmpool segment_info
func hostSegmentInfo(h uint32, info unsafe.Pointer, name unsafe.Pointer, capacity uint32) uint32

//go:wasmimport wasmpool segment_map
func hostSegmentMap(h uint32, window unsafe.Pointer) uint32

//go:wasmimport wasmpool segment_unmap
func segmentUnmap(h uint32) uint32

//go:wasmimport wasmpool segment_read
func hostSegmentRead(h uint32, off int64, ptr unsafe.Pointer, n uint32) uint32

//go:wasmimport wasmpool segment_write
func hostSegmentWrite(h uint32, off int64, ptr unsafe.Pointer, n uint32) uint32

//go:wasmimport wasmpool segment_close
func segmentClose(h uint32) uint32

//go:wasmimport wasmpool segment_unlink
func segmentUnlink(h uint32) uint32

//go:wasmimport wasmpool atomic_load
func hostAtomicLoad(addr unsafe.Pointer, width uint32, out unsafe.Pointer) uint32

//go:wasmimport wasmpool atomic_store
func hostAtomicStore(addr unsafe.Pointer, width uint32, v uint64) uint32

//go:wasmimport wasmpool atomic_add
func hostAtomicAdd(addr unsafe.Pointer, width uint32, delta uint64, out unsafe.Pointer) uint32

//go:wasmimport wasmpool atomic_cas
func hostAtomicCAS(addr unsafe.Pointer, width uint32, old, nu uint64, out unsafe.Pointer) uint32

//go:wasmimport wasmpool atomic_wait
func hostAtomicWait(addr unsafe.Pointer, expected uint64, timeout int64) uint32

//go:wasmimport wasmpool atomic_notify
func hostAtomicNotify(addr unsafe.Pointer, n int32, out unsafe.Pointer) uint32

// out64 receives the u64 a host function writes back (see out).
var out64 uint64

func segmentCreate(name string, size int64) (uint32, uint32) {
	b := []byte(name)
	e := hostSegmentCreate(ptr(b), uint32(len(b)), size, outPtr())
	return out, e
}

func segmentOpen(name string) (uint32, uint32) {
	b := []byte(name)
	e := hostSegmentOpen(ptr(b), uint32(len(b)), outPtr())
	return out, e
}

func segmentInfo(h uint32) (size int64, name string, e uint32) {
	var info [12]byte
	buf := make([]byte, 256)
	if e = hostSegmentInfo(h, unsafe.Pointer(&info[0]), ptr(buf), uint32(len(buf))); e != 0 {
		return 0, "", e
	}
	size = int64(binary.LittleEndian.Uint64(info[:8]))
	n := min(int(binary.LittleEndian.Uint32(info[8:])), len(buf))
	return size, string(buf[:n]), 0
}

func segmentMap(h uint32, window []byte) uint32 { return hostSegmentMap(h, ptr(window)) }

func segmentRead(h uint32, off int64, p []byte) uint32 {
	return hostSegmentRead(h, off, ptr(p), uint32(len(p)))
}

func segmentWrite(h uint32, off int64, p []byte) uint32 {
	return hostSegmentWrite(h, off, ptr(p), uint32(len(p)))
}

func atomicLoad(p unsafe.Pointer, width uint32) (uint64, uint32) {
	e := hostAtomicLoad(p, width, unsafe.Pointer(&out64))
	return out64, e
}

func atomicStore(p unsafe.Pointer, width uint32, v uint64) uint32 {
	return hostAtomicStore(p, width, v)
}

func atomicAdd(p unsafe.Pointer, width uint32, delta uint64) (uint64, uint32) {
	e := hostAtomicAdd(p, width, delta, unsafe.Pointer(&out64))
	return out64, e
}

func atomicCAS(p unsafe.Pointer, width uint32, old, nu uint64) (uint64, uint32) {
	e := hostAtomicCAS(p, width, old, nu, unsafe.Pointer(&out64))
	return out64, e
}

func atomicWait(p unsafe.Pointer, expected uint32, timeout int64) uint32 {
	return hostAtomicWait(p, uint64(expected), timeout)
}

func atomicNotify(p unsafe.Pointer, n int32) (uint32, uint32) {
	e := hostAtomicNotify(p, n, outPtr())
	return out, e
}
