//go:build !linux

package host

import (
	"errors"
	"os"
	"time"

	"github.com/tetratelabs/wazero/experimental"
)

// Outside Linux instances get wazero's own memory: segment_map answers
// ENOSYS, and atomic_wait only times out.

type memoryAllocator struct{ mem *fixedMemory }

func newMemoryAllocator() *memoryAllocator { return nil }

func (a *memoryAllocator) Allocate(_, max uint64) experimental.LinearMemory { return nil }

type fixedMemory struct{}

func (m *fixedMemory) mapWindow(f *os.File, addr, size uint64) error {
	return errors.New("host: segment windows need Linux")
}

func (m *fixedMemory) unmapWindow(addr uint64) error { return nil }

type windowError struct {
	reason  string
	outside bool
}

func (e *windowError) Error() string { return "host: segment window: " + e.reason }

func futexWaitShared(w *uint32, val uint32, d time.Duration) bool {
	time.Sleep(d)
	return false
}

func futexWakeShared(w *uint32, n int) int { return 0 }
