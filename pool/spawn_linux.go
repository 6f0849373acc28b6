package pool

import (
	"os"
	"os/exec"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// spawner forks every worker from one goroutine locked to its OS thread.
// PR_SET_PDEATHSIG fires when the thread that forked a child ends, not the
// process; Go ends threads whose goroutine exits locked, so forking from an
// arbitrary thread could kill workers at random. This thread lives until
// Close, and with the whole process: workers die with the parent.
type spawner struct {
	jobs chan func()
	done chan struct{}
}

func newSpawner() (*spawner, error) {
	s := &spawner{jobs: make(chan func()), done: make(chan struct{})}
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		defer close(s.done)
		for job := range s.jobs {
			job()
		}
	}()
	return s, nil
}

// start starts cmd on the spawner's thread, with the death signal set.
func (s *spawner) start(cmd *exec.Cmd) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	errc := make(chan error, 1)
	s.jobs <- func() { errc <- cmd.Start() }
	return <-errc
}

func (s *spawner) close() {
	close(s.jobs)
	<-s.done
}

// socketpair returns two connected stream sockets, close-on-exec.
func socketpair() (parent, child *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, os.NewSyscallError("socketpair", err)
	}
	return os.NewFile(uintptr(fds[0]), "wasmpool-control"), os.NewFile(uintptr(fds[1]), "wasmpool-control-child"), nil
}
