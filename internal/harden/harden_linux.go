//go:build linux && (amd64 || arm64)

package harden

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// MaxOpenFiles is the descriptor limit Apply sets (or the hard limit, if
// lower).
const MaxOpenFiles = 16384

// Apply hardens the calling process, every thread of it, for good: after
// it, exec, fork, vfork, clone of a new process, ptrace, socket,
// socketpair, io_uring, bpf, userfaultfd, unshare, setns, mount,
// process_vm_readv/writev, pidfd_getfd and kcmp fail with EPERM (clone3 with ENOSYS, so callers fall back to
// clone, which new threads still get); the process gains no privileges
// (no_new_privs), dumps no core and opens at most MaxOpenFiles files.
func Apply() error {
	if err := unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{}); err != nil {
		return fmt.Errorf("harden: RLIMIT_CORE: %w", err)
	}
	var nofile unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &nofile); err == nil {
		n := min(nofile.Max, MaxOpenFiles)
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: n, Max: n}); err != nil {
			return fmt.Errorf("harden: RLIMIT_NOFILE: %w", err)
		}
	}
	// no_new_privs is a thread's attribute, and seccomp's TSYNC copies
	// the caller's to every thread: both calls must come from one thread,
	// or a goroutine moved between them leaves every thread without it
	// (and, without CAP_SYS_ADMIN, the filter refused).
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("harden: no_new_privs: %w", err)
	}
	return installFilter()
}

// Leaky returns the descriptors of this process above stderr that lack
// close-on-exec: a program it starts now inherits them, under the same
// numbers, whether it asked for them or not. A parent lists them for a
// child that cannot list its own (Landlock keeps a worker out of /proc);
// the child gives the list to CloseInherited.
func Leaky() ([]int, error) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil, fmt.Errorf("harden: listing descriptors: %w", err)
	}
	var fds []int
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd <= 2 {
			continue
		}
		if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil && flags&unix.FD_CLOEXEC == 0 {
			fds = append(fds, fd)
		}
	}
	return fds, nil
}

// CloseInherited closes the descriptors in inherited (what the parent's
// Leaky listed) that are not in keep and still lack close-on-exec. Call
// it first thing: a number the parent listed and then closed before the
// fork may be this process's own by now (its runtime's poller, say),
// which Go opens close-on-exec and is left alone.
func CloseInherited(inherited []int, keep ...int) {
	for _, fd := range inherited {
		if fd <= 2 || contains(keep, fd) {
			continue
		}
		if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil && flags&unix.FD_CLOEXEC == 0 {
			unix.Close(fd)
		}
	}
}

func contains(xs []int, x int) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

// Offsets into struct seccomp_data.
const (
	dataNr   = 0
	dataArch = 4
	dataArg0 = 16 // low half on little-endian machines
)

const (
	retAllow = unix.SECCOMP_RET_ALLOW
	retKill  = 0x80000000 // SECCOMP_RET_KILL_PROCESS
	retEPERM = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	retNOSYS = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
)

func stmt(code uint16, k uint32) unix.SockFilter { return unix.SockFilter{Code: code, K: k} }

func jump(code uint16, k uint32, jt, jf uint8) unix.SockFilter {
	return unix.SockFilter{Code: code, K: k, Jt: jt, Jf: jf}
}

// program builds the filter: wrong architecture → kill; each denied
// syscall → EPERM; clone3 → ENOSYS; clone without CLONE_THREAD → EPERM;
// anything else allowed.
func program() []unix.SockFilter {
	const (
		ld   = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq  = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jge  = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
		jset = unix.BPF_JMP | unix.BPF_JSET | unix.BPF_K
		ret  = unix.BPF_RET | unix.BPF_K
	)
	p := []unix.SockFilter{
		stmt(ld, dataArch),
		jump(jeq, auditArch, 1, 0),
		stmt(ret, retKill),
		stmt(ld, dataNr),
	}
	if x32Bit != 0 {
		p = append(p, jump(jge, x32Bit, 0, 1), stmt(ret, retEPERM))
	}
	for _, nr := range denied {
		p = append(p, jump(jeq, uint32(nr), 0, 1), stmt(ret, retEPERM))
	}
	p = append(p,
		jump(jeq, unix.SYS_CLONE3, 0, 1), stmt(ret, retNOSYS),
		jump(jeq, unix.SYS_CLONE, 0, 3),
		stmt(ld, dataArg0),
		jump(jset, unix.CLONE_THREAD, 1, 0),
		stmt(ret, retEPERM),
		stmt(ret, retAllow),
	)
	return p
}

func installFilter() error {
	p := program()
	prog := unix.SockFprog{Len: uint16(len(p)), Filter: &p[0]}
	// TSYNC: every thread of the Go runtime gets the filter, not just
	// this one.
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&prog)))
	if errno != 0 {
		return fmt.Errorf("harden: seccomp: %w", errno)
	}
	return nil
}
