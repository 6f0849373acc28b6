package host

import (
	"fmt"
	"os"
	"sync"
	"unsafe"

	"github.com/tetratelabs/wazero/experimental"
	"golang.org/x/sys/unix"
)

// fixedMemory is a guest's linear memory at an address that never moves:
// the whole maximum is reserved at instantiation (PROT_NONE, no swap
// reserved) and growing makes more of it readable and writable. A stable
// base is what lets a segment be mapped over a window of the memory with
// MAP_FIXED: wazero's own allocator moves the memory when it grows.
type fixedMemory struct {
	mu        sync.Mutex
	res       []byte // the reservation, len = the maximum
	committed uint64 // bytes made readable and writable
	windows   map[uint64]uint64
	freed     bool
}

// memoryAllocator makes one fixedMemory per instance and remembers it, so
// the host functions of that instance can map segments into it.
type memoryAllocator struct{ mem *fixedMemory }

func newMemoryAllocator() *memoryAllocator { return &memoryAllocator{} }

func (a *memoryAllocator) Allocate(_, max uint64) experimental.LinearMemory {
	if max == 0 {
		max = SegmentWindowAlign // a memory that may never grow still needs a reservation
	}
	res, err := unix.Mmap(-1, 0, int(max), unix.PROT_NONE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		// No room for the reservation: the instance gets ordinary memory
		// that moves as it grows, and segment_map refuses (ENOSYS).
		return &heapMemory{max: max}
	}
	a.mem = &fixedMemory{res: res, windows: map[uint64]uint64{}}
	return a.mem
}

// Reallocate makes the first size bytes usable and returns them; nil if
// size is beyond the reservation or the kernel refuses.
func (m *fixedMemory) Reallocate(size uint64) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.freed || size > uint64(len(m.res)) {
		return nil
	}
	if size > m.committed {
		if err := unix.Mprotect(m.res[m.committed:size], unix.PROT_READ|unix.PROT_WRITE); err != nil {
			return nil
		}
		m.committed = size
	}
	return m.res[:size:size]
}

// Free releases the reservation and every segment mapped into it. wazero
// calls it when the instance is closed, never while the guest runs.
func (m *fixedMemory) Free() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.freed {
		return
	}
	m.freed = true
	unix.Munmap(m.res)
	m.res, m.windows = nil, nil
}

// SegmentWindowAlign is the alignment of a segment window in guest memory:
// one wasm page.
const SegmentWindowAlign = 64 << 10

// mapWindow maps size bytes of f over the guest memory at [addr,
// addr+size), which must be aligned, inside the committed memory and clear
// of other windows.
func (m *fixedMemory) mapWindow(f *os.File, addr, size uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.checkWindow(addr, size); err != nil {
		return err
	}
	p := unsafe.Pointer(&m.res[addr])
	if _, err := unix.MmapPtr(int(f.Fd()), 0, p, uintptr(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_FIXED); err != nil {
		// Older kernels may have unmapped the range before failing (at
		// vm.max_map_count, say): put zeroed memory back so the guest
		// finds no hole. Its old contents are lost either way.
		unix.MmapPtr(-1, 0, p, uintptr(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED)
		return fmt.Errorf("host: mapping segment window: %w", err)
	}
	m.windows[addr] = size
	return nil
}

func (m *fixedMemory) checkWindow(addr, size uint64) error {
	switch {
	case m.freed:
		return &windowError{reason: "the instance's memory is gone"}
	case addr%SegmentWindowAlign != 0:
		return &windowError{reason: fmt.Sprintf("address %#x is not aligned to %d", addr, SegmentWindowAlign)}
	case size == 0 || addr+size > m.committed || addr+size < addr:
		return &windowError{outside: true, reason: fmt.Sprintf("[%#x, %#x) runs past the guest's memory of %#x bytes", addr, addr+size, m.committed)}
	}
	for a, n := range m.windows {
		if addr < a+n && a < addr+size {
			return &windowError{reason: fmt.Sprintf("[%#x, %#x) overlaps the window at %#x", addr, addr+size, a)}
		}
	}
	return nil
}

// unmapWindow detaches the window at addr: private zeroed memory is mapped
// over it, so the guest's memory stays whole and nothing of the segment
// remains in it. A munmap would leave a hole the guest could fault on.
func (m *fixedMemory) unmapWindow(addr uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	size, ok := m.windows[addr]
	if !ok || m.freed {
		return nil
	}
	p := unsafe.Pointer(&m.res[addr])
	if _, err := unix.MmapPtr(-1, 0, p, uintptr(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED); err != nil {
		// Leaving the segment mapped is safe; the memory stays valid.
		return fmt.Errorf("host: detaching segment window: %w", err)
	}
	delete(m.windows, addr)
	return nil
}

// windowError is a window segment_map refuses: outside the guest's memory
// (EFAULT) or unaligned or overlapping another (EINVAL).
type windowError struct {
	reason  string
	outside bool
}

func (e *windowError) Error() string { return "host: segment window: " + e.reason }

// heapMemory is the fallback linear memory: Go heap that moves as it grows,
// like wazero's own.
type heapMemory struct {
	buf []byte
	max uint64
}

func (m *heapMemory) Reallocate(size uint64) []byte {
	switch {
	case size > m.max:
		return nil
	case size > uint64(cap(m.buf)):
		m.buf = append(m.buf[:cap(m.buf)], make([]byte, size-uint64(cap(m.buf)))...)
	}
	m.buf = m.buf[:size]
	return m.buf
}

func (m *heapMemory) Free() { m.buf = nil }
