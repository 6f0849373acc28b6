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
