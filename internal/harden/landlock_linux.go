//go:build linux && (amd64 || arm64)

package harden

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Path is a directory Landlock leaves reachable, with everything beneath
// it, or a single file (Dir then names the file). ReadOnly allows
// reading; Exec allows reading and executing (a program, or the
// libraries the dynamic loader maps); neither allows everything but
// executing. A rule holds the file or directory Dir names when the rule
// is made: one put in its place later (a rename over it) is not covered.
type Path struct {
	Dir      string
	ReadOnly bool
	Exec     bool
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
	fd, err := ruleset(paths)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	// Every thread, not just this one: Go runs goroutines on many.
	if _, _, errno := syscall.AllThreadsSyscall(unix.SYS_LANDLOCK_RESTRICT_SELF, uintptr(fd), 0, 0); errno != 0 {
		if errno == syscall.ENOTSUP {
			return fmt.Errorf("%w: cannot reach every thread in a cgo binary", ErrNoLandlock)
		}
		return fmt.Errorf("harden: landlock_restrict_self: %w", errno)
	}
	return nil
}

// RestrictThread confines the calling thread's filesystem to paths, as
// Landlock does a process's, and so every process the thread starts from
// now on: a Landlock domain passes to a child at fork and stays through
// execve, so the child is confined from its first instruction. It also
// sets no_new_privs on the thread (Landlock asks for it without
// CAP_SYS_ADMIN; a child inherits it too). It touches no other thread, so
// unlike Landlock it works in a cgo binary.
//
// The caller must be locked to its OS thread (runtime.LockOSThread) and
// stay locked until its goroutine ends, which ends the thread: the
// confinement cannot be undone, and no other goroutine may ever run
// there. What the thread itself does after it (os/exec opens /dev/null,
// say) needs a Path too.
func RestrictThread(paths ...Path) error {
	fd, err := ruleset(paths)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("harden: no_new_privs: %w", err)
	}
	if _, _, errno := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, uintptr(fd), 0, 0); errno != 0 {
		return fmt.Errorf("harden: landlock_restrict_self: %w", errno)
	}
	return nil
}

// Libraries returns, as Exec paths, the directories of the files this
// process has mapped executable besides its program: the dynamic loader
// and the shared libraries, which a child that runs the same program
// loads again. Directories rather than the files, so that a library
// upgraded since (a new file renamed over the old) still loads. A static
// program has none.
func Libraries() ([]Path, error) {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return nil, fmt.Errorf("harden: %w", err)
	}
	defer f.Close()
	exe, _ := os.Readlink("/proc/self/exe")
	seen := map[string]bool{}
	var paths []Path
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// address perms offset dev inode pathname (which may hold spaces)
		fields, rest := strings.Fields(sc.Text()), sc.Text()
		if len(fields) < 6 || !strings.Contains(fields[1], "x") {
			continue
		}
		for range 5 {
			rest = strings.TrimLeft(rest, " ")
			rest = rest[strings.IndexByte(rest, ' '):] // six fields: each of the five has a space after it
		}
		name := strings.TrimSuffix(strings.TrimSpace(rest), " (deleted)")
		if !strings.HasPrefix(name, "/") || name == strings.TrimSuffix(exe, " (deleted)") {
			continue
		}
		if dir := filepath.Dir(name); !seen[dir] {
			seen[dir] = true
			paths = append(paths, Path{Dir: dir, Exec: true})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("harden: reading /proc/self/maps: %w", err)
	}
	return paths, nil
}

// ruleset makes a Landlock ruleset that handles every filesystem right
// the kernel knows and allows paths their rights.
func ruleset(paths []Path) (int, error) {
	abi, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if errno != 0 || int(abi) < 1 {
		return -1, fmt.Errorf("%w: %v", ErrNoLandlock, errno)
	}
	handled := fsRights(int(abi))
	attr := unix.LandlockRulesetAttr{Access_fs: handled}
	fd, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr), 0)
	if errno != 0 {
		return -1, fmt.Errorf("harden: landlock ruleset: %w", errno)
	}
	const read = unix.LANDLOCK_ACCESS_FS_READ_FILE | unix.LANDLOCK_ACCESS_FS_READ_DIR
	for _, p := range paths {
		allowed := handled &^ (unix.LANDLOCK_ACCESS_FS_EXECUTE | unix.LANDLOCK_ACCESS_FS_IOCTL_DEV)
		switch {
		case p.Exec:
			allowed = read | unix.LANDLOCK_ACCESS_FS_EXECUTE
		case p.ReadOnly:
			allowed = read
		}
		if err := addRule(int(fd), p.Dir, allowed); err != nil {
			unix.Close(int(fd))
			return -1, err
		}
	}
	return int(fd), nil
}

// fileRights are the rights that apply to a file itself; a rule for a
// file (not a directory) may grant only these.
const fileRights = unix.LANDLOCK_ACCESS_FS_EXECUTE | unix.LANDLOCK_ACCESS_FS_WRITE_FILE |
	unix.LANDLOCK_ACCESS_FS_READ_FILE | unix.LANDLOCK_ACCESS_FS_TRUNCATE | unix.LANDLOCK_ACCESS_FS_IOCTL_DEV

func addRule(ruleset int, path string, allowed uint64) error {
	d, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("harden: landlock rule for %s: %w", path, err)
	}
	defer unix.Close(d)
	var st unix.Stat_t
	if err := unix.Fstat(d, &st); err != nil {
		return fmt.Errorf("harden: landlock rule for %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		allowed &= fileRights
	}
	rule := unix.LandlockPathBeneathAttr{Allowed_access: allowed, Parent_fd: int32(d)}
	if _, _, errno := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, uintptr(ruleset), unix.LANDLOCK_RULE_PATH_BENEATH,
		uintptr(unsafe.Pointer(&rule)), 0, 0, 0); errno != 0 {
		return fmt.Errorf("harden: landlock rule for %s: %w", path, errno)
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
