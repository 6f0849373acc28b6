//go:build linux

package harden

import "golang.org/x/sys/unix"

const auditArch = unix.AUDIT_ARCH_X86_64

// x32Bit marks x32-ABI syscall numbers, which would bypass the list.
const x32Bit = 0x40000000

var denied = []int{unix.SYS_EXECVE, unix.SYS_EXECVEAT, unix.SYS_FORK, unix.SYS_VFORK,
	unix.SYS_PTRACE, unix.SYS_SOCKET, unix.SYS_SOCKETPAIR,
	// io_uring can create sockets (IORING_OP_SOCKET) out of seccomp's sight.
	unix.SYS_IO_URING_SETUP, unix.SYS_IO_URING_ENTER, unix.SYS_IO_URING_REGISTER,
	unix.SYS_BPF, unix.SYS_USERFAULTFD, unix.SYS_UNSHARE, unix.SYS_SETNS, unix.SYS_MOUNT,
	// Other processes' memory and descriptors, where ptrace rules allow.
	unix.SYS_PROCESS_VM_READV, unix.SYS_PROCESS_VM_WRITEV, unix.SYS_PIDFD_GETFD, unix.SYS_KCMP}
