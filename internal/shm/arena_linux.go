package shm

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Arena is one shared mapping of a sealed memfd. The parent creates it with
// [Create] and hands the file to workers, which map it with [Map]. The size
// never changes: the memfd is sealed against growing and shrinking, so no
// access inside the mapping can fault. An Arena is safe for concurrent use;
// Close unmaps it and must be the last use.
type Arena struct {
	mem  []byte
	file *os.File
}

// Create makes an arena of size bytes (rounded up to whole pages), zeroed,
// with an empty object table of slots entries.
func Create(size int, slots int) (*Arena, error) {
	if slots < 1 || slots > maxSlots {
		return nil, fmt.Errorf("shm: table slots %d outside 1..%d", slots, maxSlots)
	}
	page := os.Getpagesize()
	size = (size + page - 1) &^ (page - 1)
	if size < int(dataStart(slots))+page {
		return nil, fmt.Errorf("shm: arena of %d bytes is too small for %d table slots", size, slots)
	}
	fd, err := unix.MemfdCreate("wasmpool-arena", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("shm: memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "wasmpool-arena")
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		f.Close()
		return nil, fmt.Errorf("shm: sizing arena: %w", err)
	}
	seals := unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_SEAL
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
		f.Close()
		return nil, fmt.Errorf("shm: sealing arena: %w", err)
	}
	a, err := mapFile(f, size)
	if err != nil {
		f.Close()
		return nil, err
	}
	a.initHeader(slots)
	return a, nil
}

// Map maps an arena made by Create in another process, from its inherited
// file. It refuses a file that is not sealed against resizing or whose
// header does not describe it.
func Map(f *os.File) (*Arena, error) {
	seals, err := unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0)
	if err != nil {
		return nil, fmt.Errorf("shm: arena seals: %w", err)
	}
	if seals&(unix.F_SEAL_SHRINK|unix.F_SEAL_GROW) != unix.F_SEAL_SHRINK|unix.F_SEAL_GROW {
		return nil, fmt.Errorf("shm: arena file is not sealed against resizing")
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return nil, fmt.Errorf("shm: arena stat: %w", err)
	}
	a, err := mapFile(f, int(st.Size))
	if err != nil {
		return nil, err
	}
	if err := a.checkHeader(); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

func mapFile(f *os.File, size int) (*Arena, error) {
	mem, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("shm: mapping arena: %w", err)
	}
	return &Arena{mem: mem, file: f}, nil
}

// File returns the memfd, to be inherited by worker processes. It stays
// owned by the Arena.
func (a *Arena) File() *os.File { return a.file }

// Size returns the arena's size in bytes.
func (a *Arena) Size() int { return len(a.mem) }

// Close unmaps the arena and closes its file. Nothing may use the arena or
// any object view made from it afterwards.
func (a *Arena) Close() error {
	err := unix.Munmap(a.mem)
	if cerr := a.file.Close(); err == nil {
		err = cerr
	}
	return err
}

// u32 returns the word at off. Callers validate off (objects are checked
// against the arena bounds once, when opened; fields are constant offsets
// inside them).
func (a *Arena) u32(off uint64) *uint32 { return (*uint32)(unsafe.Pointer(&a.mem[off])) }

func (a *Arena) u64(off uint64) *uint64 { return (*uint64)(unsafe.Pointer(&a.mem[off])) }

// futexWait sleeps while *w == val, for at most timeout (negative: no
// limit). It returns early on a wake, a signal or a changed word; callers
// re-check their condition in a loop. The futex is shared (not PRIVATE):
// the word is in a MAP_SHARED mapping of several processes.
func futexWait(w *uint32, val uint32, timeout int64) {
	var tsp unsafe.Pointer
	var ts unix.Timespec
	if timeout >= 0 {
		ts = unix.NsecToTimespec(timeout)
		tsp = unsafe.Pointer(&ts)
	}
	// Syscall6, not RawSyscall6: the Go scheduler hands this thread's P to
	// another goroutine while it sleeps.
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(w)), futexWaitOp, uintptr(val), uintptr(tsp), 0, 0)
}

// futexWake wakes at most n sleepers on w.
func futexWake(w *uint32, n int) {
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(w)), futexWakeOp, uintptr(n), 0, 0, 0)
}

// osYield gives the CPU to another runnable thread, if any. RawSyscall:
// it does not block, so the Go scheduler need not hand off the P.
func osYield() { unix.RawSyscall(unix.SYS_SCHED_YIELD, 0, 0, 0) }

// FUTEX_WAIT and FUTEX_WAKE without FUTEX_PRIVATE_FLAG.
const (
	futexWaitOp = 0
	futexWakeOp = 1
)
