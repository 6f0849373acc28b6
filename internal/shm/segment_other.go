//go:build !linux

package shm

import "os"

// MaxSegmentName is the longest segment name in bytes.
const MaxSegmentName = 255

// SegmentPage is the granule of segment sizes.
const SegmentPage = 64 << 10

// SegmentInfo describes a segment.
type SegmentInfo struct {
	Name string
	Size int64
}

// CheckSegmentFile returns ErrNotSupported outside Linux.
func CheckSegmentFile(f *os.File) (int64, error) { return 0, ErrNotSupported }

// Segments is the parent's table of named segments; outside Linux it
// holds none and every call fails with ErrNotSupported.
type Segments struct{}

// NewSegments returns an empty table.
func NewSegments(maxSize int64, maxCount int) *Segments { return &Segments{} }

// LimitTotal does nothing outside Linux.
func (s *Segments) LimitTotal(total int64) {}

// Create returns ErrNotSupported outside Linux.
func (s *Segments) Create(name string, size int64) (SegmentInfo, *os.File, error) {
	return SegmentInfo{}, nil, ErrNotSupported
}

// Open returns ErrNotSupported outside Linux.
func (s *Segments) Open(name string) (SegmentInfo, *os.File, error) {
	return SegmentInfo{}, nil, ErrNotSupported
}

// Unlink returns ErrNotSupported outside Linux.
func (s *Segments) Unlink(name string) error { return ErrNotSupported }

// Prepare does nothing outside Linux.
func (s *Segments) Prepare() {}

// Len returns 0 outside Linux.
func (s *Segments) Len() int { return 0 }

// Close does nothing outside Linux.
func (s *Segments) Close() {}

// MapSegment returns ErrNotSupported outside Linux.
func MapSegment(f *os.File, size int64) ([]byte, error) { return nil, ErrNotSupported }

// UnmapSegment returns ErrNotSupported outside Linux.
func UnmapSegment(b []byte) error { return ErrNotSupported }
