package guest

import (
	"time"
	"unsafe"

	"github.com/wasmpool/wasmpool/abi"
	"github.com/wasmpool/wasmpool/internal/sfmt"
)

// Errors of segment calls, besides ErrNotFound and ErrBadHandle.
var (
	ErrExists  error = abi.EEXIST // a segment of that name exists
	ErrNoSpace error = abi.ENOSPC // size or count beyond the pool's maximum
	// ErrMapped is returned by Map when this handle's window is mapped.
	ErrMapped error = abi.EBUSY
)

// SharedMemory is a handle to a shared-memory segment of the pool: bytes
// that every worker process and the parent see at once. Map places the
// segment over a window of this guest's own memory, after which plain
// loads and stores (copy, indexing, encoding/binary) read and write it
// with no host call; ReadAt and WriteAt copy instead. Loads and stores are
// not atomic across processes: use the Atomic functions on words of the
// window, or a pool Lock.
//
// The segment lives until it is unlinked (Unlink, or the pool's Close) and
// the last handle and mapping of it are gone. A SharedMemory is used by one
// goroutine at a time; Close releases it.
type SharedMemory struct {
	h      uint32
	name   string
	size   int
	window []byte // nil when not mapped
}

// CreateSharedMemory creates a segment of at least size bytes. Its size is
// rounded up to whole 64 KiB pages (Size reports it); its bytes start at
// zero. An empty name asks the pool for a unique one (Name reports it).
// Errors: ErrExists, ErrNoSpace (size or count beyond the pool's limits),
// an error wrapping abi.EINVAL for size <= 0 or a name over 255 bytes.
func CreateSharedMemory(name string, size int) (*SharedMemory, error) {
	if size <= 0 || len(name) > abi.MaxSegmentName {
		return nil, sfmt.Errorf("guest: segment %q of %d bytes: %w", name, size, abi.EINVAL)
	}
	h, e := segmentCreate(name, int64(size))
	if e != 0 {
		return nil, sfmt.Errorf("guest: creating segment %q: %w", name, errorOf(e))
	}
	return describe(h)
}

// OpenSharedMemory opens the segment of that name, made by any guest or by
// the parent. Errors: ErrNotFound (never made, or unlinked).
func OpenSharedMemory(name string) (*SharedMemory, error) {
	h, e := segmentOpen(name)
	if e != 0 {
		return nil, sfmt.Errorf("guest: opening segment %q: %w", name, errorOf(e))
	}
	return describe(h)
}

// openMapped opens the segment named name and maps it.
func openMapped(name string) (*SharedMemory, []byte, error) {
	s, err := OpenSharedMemory(name)
	if err != nil {
		return nil, nil, err
	}
	b, err := s.Map()
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	return s, b, nil
}

func describe(h uint32) (*SharedMemory, error) {
	size, name, e := segmentInfo(h)
	if e != 0 {
		segmentClose(h)
		return nil, errorOf(e)
	}
	return &SharedMemory{h: h, name: name, size: int(size)}, nil
}

// Name returns the segment's name.
func (s *SharedMemory) Name() string { return s.name }

// Size returns the segment's size in bytes: a whole number of 64 KiB
// pages, at least what was asked for.
func (s *SharedMemory) Size() int { return s.size }

// Map maps the segment over a window of this guest's memory and returns
// the window, len Size. The window is memory the SDK owns and never frees;
// after Unmap or Close it holds zeros, and the SDK reuses it for the next
// Map of the same size. Calling Map again returns the same window.
func (s *SharedMemory) Map() ([]byte, error) {
	if s.window != nil {
		return s.window, nil
	}
	w := takeWindow(s.size)
	if e := segmentMap(s.h, w); e != 0 {
		giveWindow(w)
		return nil, sfmt.Errorf("guest: mapping segment %q: %w", s.name, errorOf(e))
	}
	s.window = w
	return w, nil
}

// Unmap detaches the window Map returned; the slice must not be used to
// reach the segment afterwards (it reads zeros).
func (s *SharedMemory) Unmap() error {
	if s.window == nil {
		return nil
	}
	if e := segmentUnmap(s.h); e != 0 {
		return sfmt.Errorf("guest: unmapping segment %q: %w", s.name, errorOf(e))
	}
	giveWindow(s.window)
	s.window = nil
	return nil
}

// ReadAt copies len(p) bytes of the segment from off into p. It reads the
// whole of p or fails (an error wrapping abi.EINVAL past the end).
func (s *SharedMemory) ReadAt(p []byte, off int64) (int, error) {
	if e := segmentRead(s.h, off, p); e != 0 {
		return 0, sfmt.Errorf("guest: reading segment %q: %w", s.name, errorOf(e))
	}
	return len(p), nil
}

// WriteAt copies p into the segment at off, all of it or nothing.
func (s *SharedMemory) WriteAt(p []byte, off int64) (int, error) {
	if e := segmentWrite(s.h, off, p); e != 0 {
		return 0, sfmt.Errorf("guest: writing segment %q: %w", s.name, errorOf(e))
	}
	return len(p), nil
}

// Unlink removes the segment's name from the pool: later opens fail with
// ErrNotFound, while every handle and mapping already made keeps working.
// By convention the creator unlinks; any holder may.
func (s *SharedMemory) Unlink() error {
	if e := segmentUnlink(s.h); e != 0 {
		return sfmt.Errorf("guest: unlinking segment %q: %w", s.name, errorOf(e))
	}
	return nil
}

// Close unmaps the segment if it is mapped and releases the handle. It does
// not unlink. Close is idempotent.
func (s *SharedMemory) Close() error {
	if s.h == 0 {
		return nil
	}
	if e := segmentClose(s.h); e != 0 {
		// The window may still be mapped: keep it, and the handle.
		return sfmt.Errorf("guest: closing segment %q: %w", s.name, errorOf(e))
	}
	if s.window != nil {
		giveWindow(s.window) // segment_close detached it
		s.window = nil
	}
	s.h = 0
	return nil
}

// windows are the SDK's segment windows by size: memory taken from the Go
// heap once, aligned to 64 KiB, referenced here forever so the garbage
// collector never frees or reuses it while a segment may be mapped there.
var windows = map[int][][]byte{}

// kept holds every allocation windows were cut from.
var kept [][]byte

func takeWindow(size int) []byte {
	if free := windows[size]; len(free) > 0 {
		w := free[len(free)-1]
		windows[size] = free[:len(free)-1]
		return w
	}
	raw := make([]byte, size+abi.SegmentPage)
	kept = append(kept, raw)
	off := 0
	if r := int(uintptr(unsafe.Pointer(unsafe.SliceData(raw))) % abi.SegmentPage); r != 0 {
		off = abi.SegmentPage - r
	}
	return raw[off : off+size : off+size]
}

func giveWindow(w []byte) { windows[len(w)] = append(windows[len(w)], w) }

// Word64 returns a pointer to the aligned 64-bit word at off in b (a mapped
// window), for the Atomic functions. It panics if off is misaligned or out
// of range.
func Word64(b []byte, off int) *uint64 {
	if off%8 != 0 || off < 0 || off+8 > len(b) {
		panic(sfmt.Sprintf("guest: Word64 at %d of %d bytes", off, len(b)))
	}
	return (*uint64)(unsafe.Pointer(&b[off]))
}

// Word32 is Word64 for a 32-bit word.
func Word32(b []byte, off int) *uint32 {
	if off%4 != 0 || off < 0 || off+4 > len(b) {
		panic(sfmt.Sprintf("guest: Word32 at %d of %d bytes", off, len(b)))
	}
	return (*uint32)(unsafe.Pointer(&b[off]))
}

// The Atomic functions operate on a word of guest memory through the host,
// because Go's wasm compiler emits no atomic instructions. On a word inside
// a mapped segment window they are atomic across every process mapping the
// segment (guests in C or Rust get the same from wasm atomics). Each is a
// host call (tens of nanoseconds). Like sync/atomic they panic on a
// misaligned pointer.

// AtomicLoad32 atomically loads *p.
func AtomicLoad32(p *uint32) uint32 { v := must(atomicLoad(unsafe.Pointer(p), 32)); return uint32(v) }

// AtomicLoad64 atomically loads *p.
func AtomicLoad64(p *uint64) uint64 { return must(atomicLoad(unsafe.Pointer(p), 64)) }

// AtomicStore32 atomically stores v into *p.
func AtomicStore32(p *uint32, v uint32) { mustOK(atomicStore(unsafe.Pointer(p), 32, uint64(v))) }

// AtomicStore64 atomically stores v into *p.
func AtomicStore64(p *uint64, v uint64) { mustOK(atomicStore(unsafe.Pointer(p), 64, v)) }

// AtomicAdd32 atomically adds delta to *p and returns the new value.
func AtomicAdd32(p *uint32, delta int32) uint32 {
	return uint32(must(atomicAdd(unsafe.Pointer(p), 32, uint64(uint32(delta)))))
}

// AtomicAdd64 atomically adds delta to *p and returns the new value.
func AtomicAdd64(p *uint64, delta int64) uint64 {
	return must(atomicAdd(unsafe.Pointer(p), 64, uint64(delta)))
}

// AtomicCompareAndSwap32 stores nu into *p if it holds old, and reports
// whether it did.
func AtomicCompareAndSwap32(p *uint32, old, nu uint32) bool {
	return uint32(must(atomicCAS(unsafe.Pointer(p), 32, uint64(old), uint64(nu)))) == old
}

// AtomicCompareAndSwap64 stores nu into *p if it holds old, and reports
// whether it did.
func AtomicCompareAndSwap64(p *uint64, old, nu uint64) bool {
	return must(atomicCAS(unsafe.Pointer(p), 64, old, nu)) == old
}

// AtomicWait32 sleeps while *p holds expected, until AtomicNotify on the
// same word in any process or the timeout (Forever: none). It returns nil
// when woken, ErrWouldBlock at once if *p did not hold expected, and
// ErrTimeout. It may return nil early, like a futex: callers re-check
// their condition in a loop. It blocks the whole instance.
func AtomicWait32(p *uint32, expected uint32, timeout time.Duration) error {
	e := atomicWait(unsafe.Pointer(p), expected, ns(timeout))
	if e == uint32(abi.EINVAL) || e == uint32(abi.EFAULT) {
		panic("guest: AtomicWait32: " + abi.Errno(e).Error())
	}
	return errorOf(e)
}

// AtomicNotify wakes at most n (negative: all) waiters on *p in every
// process and returns how many it woke.
func AtomicNotify(p *uint32, n int) int {
	woken, e := atomicNotify(unsafe.Pointer(p), int32(max(min(n, 1<<30), -1)))
	mustOK(e)
	return int(woken)
}

func must(v uint64, e uint32) uint64 {
	mustOK(e)
	return v
}

func mustOK(e uint32) {
	if e != 0 {
		panic("guest: atomic operation: " + abi.Errno(e).Error())
	}
}
