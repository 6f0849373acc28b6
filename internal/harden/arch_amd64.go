//go:build linux

package harden

import "golang.org/x/sys/unix"

const auditArch = unix.AUDIT_ARCH_X86_64

// x32Bit marks x32-ABI syscall numbers, which would bypass the list.
const x32Bit = 0x40000000

var denied = []int{unix.SYS_EXECVE, unix.SYS_EXECVEAT, unix.SYS_FORK, unix.SYS_VFORK,
	unix.SYS_PTRACE, unix.SYS_SOCKET, unix.SYS_SOCKETPAIR}
