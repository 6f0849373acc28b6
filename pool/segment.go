package pool

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/wasmpool/wasmpool/internal/shm"
)

// Errors of segments besides ErrNotFound, ErrExists, ErrNoSpace, ErrClosed.
var (
	// ErrBadSize is returned when creating a segment (or an Array) of size
	// 0 or less, or of more cells than an Array can hold.
	ErrBadSize = errors.New("pool: segment size must be positive")
	// ErrBadName is returned for a segment name longer than 255 bytes.
	ErrBadName = errors.New("pool: segment name longer than 255 bytes")
)

// SharedMemory is the parent's handle to a shared-memory segment: Python's
// multiprocessing.shared_memory.SharedMemory, with the segment's bytes as a
// []byte. Guests open the same segment by name (guest.OpenSharedMemory)
// and map it into their own memory, so a store by any of them is seen by
// all at once. Plain loads and stores are not atomic across processes:
// coordinate with a Lock, an Event or atomics on words of the segment.
//
// A segment lives until it is unlinked (Unlink, or the pool's Close) and
// every handle and mapping of it is gone; a process that dies takes only
// its own mappings with it. The methods are safe for concurrent use. Close
// releases this handle; it must be called.
type SharedMemory struct {
	info shm.SegmentInfo
	p    *Pool

	mu  sync.Mutex
	mem []byte // nil after Close
}

// CreateSharedMemory creates a segment of at least size bytes, zeroed. Its
// size is rounded up to whole 64 KiB pages (the granule of guest memory);
// Size reports it. An empty name asks for a unique one, which Name
// reports. Errors: ErrBadSize, ErrBadName, ErrNoSpace (size above
// Config.MaxSegmentSize, or Config.MaxSegments segments exist), ErrExists,
// ErrClosed.
func (p *Pool) CreateSharedMemory(name string, size int) (*SharedMemory, error) {
	if p.isClosed() {
		return nil, ErrClosed
	}
	info, f, err := p.segs.Create(name, int64(size))
	return p.mapSegment(name, info, f, err)
}

// OpenSharedMemory opens the segment of that name, made by the parent or
// by any guest. Errors: ErrNotFound (never made, or unlinked), ErrClosed.
func (p *Pool) OpenSharedMemory(name string) (*SharedMemory, error) {
	if p.isClosed() {
		return nil, ErrClosed
	}
	info, f, err := p.segs.Open(name)
	return p.mapSegment(name, info, f, err)
}

func (p *Pool) mapSegment(name string, info shm.SegmentInfo, f *os.File, err error) (*SharedMemory, error) {
	if err != nil {
		return nil, segmentError(name, err)
	}
	defer f.Close()
	mem, err := shm.MapSegment(f, info.Size)
	if err != nil {
		return nil, err
	}
	return &SharedMemory{info: info, p: p, mem: mem}, nil
}

// segmentError converts the errors of shm.Segments: the one place that does.
func segmentError(name string, err error) error {
	switch {
	case errors.Is(err, shm.ErrBadSize):
		return ErrBadSize
	case errors.Is(err, shm.ErrBadName):
		return ErrBadName
	case errors.Is(err, shm.ErrClosed):
		return ErrClosed
	}
	if e := objErr(nil, err, nil); e != err {
		return fmt.Errorf("pool: segment %q: %w", name, e)
	}
	return err
}

// Name returns the segment's name.
func (s *SharedMemory) Name() string { return s.info.Name }

// Size returns the segment's size in bytes: a whole number of 64 KiB pages.
func (s *SharedMemory) Size() int { return int(s.info.Size) }

// Bytes returns the segment's memory, shared with every process that maps
// it. It is valid until Close; using it after Close faults.
func (s *SharedMemory) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mem
}

// Unlink removes the segment's name: later opens fail with ErrNotFound,
// while this handle and every mapping already made keep working. Errors:
// ErrNotFound if it was unlinked already.
func (s *SharedMemory) Unlink() error {
	if err := s.p.segs.Unlink(s.info.Name); err != nil {
		return segmentError(s.info.Name, err)
	}
	return nil
}

// Close unmaps the segment from the parent. It does not unlink it. Close is
// idempotent.
func (s *SharedMemory) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mem == nil {
		return nil
	}
	err := shm.UnmapSegment(s.mem)
	s.mem = nil
	return err
}
