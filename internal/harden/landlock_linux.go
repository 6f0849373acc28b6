//go:build linux && (amd64 || arm64)

package harden

import (
	"errors"
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Path is a directory Landlock leaves reachable.
type Path struct {
	Dir      string
	ReadOnly bool
}

// ErrNoLandlock is returned by Landlock when the kernel has no Landlock,
// or when the binary cannot restrict all its threads at once (a binary
// built with cgo, such as a race-detector build).
var ErrNoLandlock = errors.New("harden: Landlock is not available")

// Landlock confines the filesystem of every thread of the process to the
// given directories (and what is beneath them), read-only or read-write;
// everything else refuses to open with EACCES. Descriptors already open
// are not affected. Call it after Apply (Landlock needs no_new_privs on
// every thread, which Apply's filter synchronizes).
func Landlock(paths ...Path) error {
	abi, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if errno != 0 || int(abi) < 1 {
		return fmt.Errorf("%w: %v", ErrNoLandlock, errno)
	}
	handled := fsRights(int(abi))
	attr := unix.LandlockRulesetAttr{Access_fs: handled}
	fd, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr), 0)
	if errno != 0 {
		return fmt.Errorf("harden: landlock ruleset: %w", errno)
	}
	defer unix.Close(int(fd))
	const read = unix.LANDLOCK_ACCESS_FS_READ_FILE | unix.LANDLOCK_ACCESS_FS_READ_DIR
	for _, p := range paths {
		allowed := handled &^ (unix.LANDLOCK_ACCESS_FS_EXECUTE | unix.LANDLOCK_ACCESS_FS_IOCTL_DEV)
		if p.ReadOnly {
			allowed = read
		}
		if err := addRule(int(fd), p.Dir, allowed); err != nil {
			return err
		}
	}
	// Every thread, not just this one: Go runs goroutines on many.
	if _, _, errno := syscall.AllThreadsSyscall(unix.SYS_LANDLOCK_RESTRICT_SELF, fd, 0, 0); errno != 0 {
		if errno == syscall.ENOTSUP {
			return fmt.Errorf("%w: cannot reach every thread in a cgo binary", ErrNoLandlock)
		}
		return fmt.Errorf("harden: landlock_restrict_self: %w", errno)
	}
	return nil
}

func addRule(ruleset int, dir string, allowed uint64) error {
	d, err := unix.Open(dir, unix.O_PATH|unix.O_CLOEXEC|unix.O_DIRECTORY, 0)
	if err != nil {
		return fmt.Errorf("harden: landlock rule for %s: %w", dir, err)
	}
	defer unix.Close(d)
	rule := unix.LandlockPathBeneathAttr{Allowed_access: allowed, Parent_fd: int32(d)}
	if _, _, errno := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, uintptr(ruleset), unix.LANDLOCK_RULE_PATH_BENEATH,
		uintptr(unsafe.Pointer(&rule)), 0, 0, 0); errno != 0 {
		return fmt.Errorf("harden: landlock rule for %s: %w", dir, errno)
	}
	return nil
}

// fsRights are the filesystem rights Landlock ABI version abi knows.
func fsRights(abi int) uint64 {
	rights := uint64(unix.LANDLOCK_ACCESS_FS_MAKE_SYM<<1 - 1) // ABI 1: EXECUTE .. MAKE_SYM
	if abi >= 2 {
		rights |= unix.LANDLOCK_ACCESS_FS_REFER
	}
	if abi >= 3 {
		rights |= unix.LANDLOCK_ACCESS_FS_TRUNCATE
	}
	if abi >= 5 {
		rights |= unix.LANDLOCK_ACCESS_FS_IOCTL_DEV
	}
	return rights
}
