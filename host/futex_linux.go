package host

import (
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// futexWaitShared sleeps while *w == val, for at most d. It reports true
// when woken (or spuriously returned), false on timeout, a signal or a
// changed word. The futex is shared, not PRIVATE: the word may be in a
// segment mapped by several processes.
func futexWaitShared(w *uint32, val uint32, d time.Duration) bool {
	ts := unix.NsecToTimespec(int64(d))
	// Syscall6, not RawSyscall6: the Go scheduler hands this thread's P to
	// another goroutine while it sleeps.
	_, _, errno := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(w)), futexWait, uintptr(val), uintptr(unsafe.Pointer(&ts)), 0, 0)
	return errno == 0
}

// futexWakeShared wakes at most n sleepers on w and returns how many woke.
func futexWakeShared(w *uint32, n int) int {
	r, _, errno := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(w)), futexWake, uintptr(n), 0, 0, 0)
	if errno != 0 {
		return 0
	}
	return int(r)
}

// FUTEX_WAIT and FUTEX_WAKE without FUTEX_PRIVATE_FLAG.
const (
	futexWait = 0
	futexWake = 1
)
