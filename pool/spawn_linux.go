package pool

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"github.com/wasmpool/wasmpool/internal/harden"
	"golang.org/x/sys/unix"
)

// spawner forks every worker from one goroutine locked to its OS thread.
// PR_SET_PDEATHSIG fires when the thread that forked a child ends, not the
// process; Go ends threads whose goroutine exits locked, so forking from an
// arbitrary thread could kill workers at random. This thread lives until
// Close, and with the whole process: workers die with the parent.
//
// Unless the pool is Unhardened, the thread is also confined by Landlock
// (harden.RestrictThread) before it forks anything, so that every worker
// is confined from its first instruction, in a cgo binary too; see
// spawnPaths for what it may reach. The thread is never the process's
// main thread, whose no_new_privs /proc shows as the process's.
//
// Workers run the very program the parent runs: the spawner holds it open
// (prog) and execs it through /proc/self/fd, so a new file renamed over
// it since (an upgrade) neither runs in a worker nor meets a Landlock
// rule made for the old one.
type spawner struct {
	jobs  chan func()
	done  chan struct{}
	moved chan struct{} // closed once run holds a thread that is not the main one
	prog  *os.File      // O_PATH, at progFD or above; nil: exec by path
}

// progFD is the least descriptor number of spawner.prog: above those
// os/exec's child reuses while it moves ExtraFiles into place (3 + 5, then
// a few more), which would replace it before the exec.
const progFD = 64

// newSpawner starts the spawner's thread and confines it to paths, unless
// paths is nil. A kernel without Landlock leaves it unconfined; a failure
// to confine it where Landlock exists is an error.
func newSpawner(paths []harden.Path) (*spawner, error) {
	s := &spawner{jobs: make(chan func()), done: make(chan struct{}), moved: make(chan struct{})}
	if fd, err := unix.Open("/proc/self/exe", unix.O_PATH|unix.O_CLOEXEC, 0); err == nil {
		if high, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, progFD); err == nil {
			s.prog = os.NewFile(uintptr(high), "wasmpool-program")
		}
		unix.Close(fd)
	}
	ready := make(chan error, 1)
	go s.run(paths, ready)
	if err := <-ready; err != nil {
		<-s.done
		s.prog.Close()
		return nil, err
	}
	return s, nil
}

// run is the spawner's goroutine. It never unlocks its thread, which
// therefore ends with it; on the main thread, which cannot end, it hands
// over to a goroutine of its own on another thread first.
func (s *spawner) run(paths []harden.Path, ready chan<- error) {
	runtime.LockOSThread()
	if unix.Gettid() == unix.Getpid() {
		// The new goroutine cannot run on this thread while it is locked
		// here; once it has a thread of its own, this one is free again.
		go s.run(paths, ready)
		<-s.moved
		runtime.UnlockOSThread()
		return
	}
	close(s.moved)
	defer close(s.done)
	if paths != nil {
		if err := harden.RestrictThread(paths...); err != nil && !errors.Is(err, harden.ErrNoLandlock) {
			ready <- fmt.Errorf("pool: confining the worker spawner: %w", err)
			return
		}
	}
	ready <- nil
	for job := range s.jobs {
		job()
	}
}

// spawnPaths is what a worker may reach of the filesystem from its first
// instruction, or nil where that cannot be worked out (no /proc, a
// platform without Landlock support here): the program (through
// /proc/self/exe, the file this process runs from), the directories of
// the dynamic loader and the libraries (harden.Libraries) and the
// loader's cache, to read and run; /dev/null, which os/exec opens for
// the child's stdin and stdout; the compilation cache, read-only; and the
// preopened directories as the capabilities grant them. Nothing else, not
// even /proc: another process's /proc files lead to its environment, and
// to its memory where ptrace rules allow.
func spawnPaths(cfg *Config) ([]harden.Path, error) {
	paths, err := harden.Libraries()
	if err != nil {
		return nil, nil
	}
	paths = append(paths, harden.Path{Dir: "/proc/self/exe", Exec: true})
	if _, err := os.Stat("/etc/ld.so.cache"); err == nil {
		paths = append(paths, harden.Path{Dir: "/etc/ld.so.cache", ReadOnly: true})
	}
	paths = append(paths, harden.Path{Dir: os.DevNull})
	if cfg.CacheDir != "" {
		if err := os.MkdirAll(cfg.CacheDir, 0o700); err != nil {
			return nil, fmt.Errorf("pool: cache directory: %w", err)
		}
		paths = append(paths, harden.Path{Dir: cfg.CacheDir, ReadOnly: true})
	}
	for _, d := range cfg.Capabilities.Dirs {
		paths = append(paths, harden.Path{Dir: d.Host, ReadOnly: d.ReadOnly})
	}
	return paths, nil
}

// start starts cmd on the spawner's thread, with the death signal set,
// running the program the spawner holds (cmd.Args[0] keeps its name).
func (s *spawner) start(cmd *exec.Cmd) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	if s.prog != nil {
		cmd.Path = "/proc/self/fd/" + strconv.Itoa(int(s.prog.Fd()))
	}
	errc := make(chan error, 1)
	s.jobs <- func() { errc <- cmd.Start() }
	return <-errc
}

func (s *spawner) close() {
	close(s.jobs)
	<-s.done
	s.prog.Close()
}

// socketpair returns two connected stream sockets, close-on-exec.
func socketpair() (parent, child *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, os.NewSyscallError("socketpair", err)
	}
	return os.NewFile(uintptr(fds[0]), "wasmpool-control"), os.NewFile(uintptr(fds[1]), "wasmpool-control-child"), nil
}

// leaky lists, for worker.EnvInherited, the descriptors of this process
// that a worker started now would inherit by accident.
func leaky() string {
	fds, _ := harden.Leaky() // best effort: without the list nothing is closed
	s := make([]string, len(fds))
	for i, fd := range fds {
		s[i] = strconv.Itoa(fd)
	}
	return strings.Join(s, ",")
}
