//go:build linux && (amd64 || arm64)

package harden

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

const helperEnv = "WASMPOOL_HARDEN_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "1":
		os.Exit(helper())
	case "landlock":
		os.Exit(landlockHelper())
	case "thread":
		os.Exit(threadHelper())
	case "confined":
		os.Exit(reportReach())
	}
	os.Exit(m.Run())
}

// helper hardens this process, then tries what a compromised worker would,
// printing one line per attempt.
func helper() int {
	leaky, err := Leaky() // fd 3, from the test's ExtraFiles
	if err != nil {
		fmt.Println("leaky:", err)
		return 1
	}
	CloseInherited(leaky)
	if err := Apply(); err != nil {
		fmt.Println("apply:", err)
		return 1
	}
	report := func(what string, err error) {
		fmt.Printf("%s: %v\n", what, errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOSYS))
	}
	report("exec", exec.Command("/bin/true").Run())
	_, err = syscall.ForkExec("/bin/true", []string{"true"}, nil)
	report("forkexec", err)
	_, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	report("socket", err)
	_, err = unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	report("unix socket", err)
	_, err = unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	report("socketpair", err)
	_, err = net.Dial("tcp", "127.0.0.1:9")
	report("dial", err)
	report("ptrace", unix.PtraceAttach(os.Getppid()))
	var params [120]byte // struct io_uring_params
	_, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&params)), 0)
	report("io_uring", errno)
	report("unshare", unix.Unshare(unix.CLONE_NEWUSER))
	_, err = unix.FcntlInt(3, unix.F_GETFD, 0)
	fmt.Println("inherited fd closed:", errors.Is(err, unix.EBADF))

	// New threads still start: lock goroutines to threads so the runtime
	// must clone more of them.
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			f, err := os.Open("/proc/self/status")
			if err == nil {
				f.Close()
			}
		}()
	}
	wg.Wait()
	status, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "Seccomp:") || strings.HasPrefix(l, "NoNewPrivs:") {
			fmt.Println(strings.Join(strings.Fields(l), " "))
		}
	}
	var core unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_CORE, &core)
	fmt.Println("core limit:", core.Cur)
	return 0
}

// TestApply runs the helper in a child process (seccomp cannot be undone)
// and checks every attempt failed while threads kept working.
func TestApply(t *testing.T) {
	leak, err := os.Open(os.DevNull)
	require.NoError(t, err)
	defer leak.Close()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	cmd.ExtraFiles = []*os.File{leak} // fd 3 in the child, not kept
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Equal(t, `exec: true
forkexec: true
socket: true
unix socket: true
socketpair: true
dial: true
ptrace: true
io_uring: true
unshare: true
inherited fd closed: true
NoNewPrivs: 1
Seccomp: 2
core limit: 0
`, string(out))
}

func TestProgramShape(t *testing.T) {
	p := program()
	require.Less(t, len(p), 64)
	last := p[len(p)-1]
	require.Equal(t, uint32(retAllow), last.K, "anything not listed is allowed")
}

// landlockHelper hardens itself, confines its filesystem to the two
// directories in its environment (read-only, read-write) and reports what
// it can still reach, from this thread and from a new one.
func landlockHelper() int {
	ro, rw := os.Getenv("HARDEN_RO"), os.Getenv("HARDEN_RW")
	if err := Apply(); err != nil {
		fmt.Println("apply:", err)
		return 1
	}
	if err := Landlock(Path{Dir: ro, ReadOnly: true}, Path{Dir: rw}); err != nil {
		if errors.Is(err, ErrNoLandlock) {
			fmt.Println("no landlock:", err)
			return 0
		}
		fmt.Println("landlock:", err)
		return 1
	}
	return reportReach()
}

// reportReach prints what this process can reach of the directories in
// its environment (read-only, read-write) and elsewhere, from this
// thread and from another.
func reportReach() int {
	ro, rw := os.Getenv("HARDEN_RO"), os.Getenv("HARDEN_RW")
	ok := func(what string, err error) { fmt.Printf("%s: %v\n", what, err == nil) }
	_, err := os.ReadFile(ro + "/in.txt")
	ok("read ro", err)
	ok("write ro", os.WriteFile(ro+"/new.txt", nil, 0o644))
	ok("write rw", os.WriteFile(rw+"/new.txt", []byte("x"), 0o644))
	_, err = os.ReadFile("/etc/passwd")
	ok("read elsewhere", err)
	done := make(chan error)
	go func() {
		runtime.LockOSThread() // a thread of its own, maybe a new one
		_, err := os.ReadFile("/etc/passwd")
		done <- err
	}()
	ok("read elsewhere, other thread", <-done)
	return 0
}

// threadHelper confines one locked thread of its own to the directories
// in its environment, starts a copy of itself from that thread, and
// reports what the copy reached, then what its other threads still can.
func threadHelper() int {
	ro, rw := os.Getenv("HARDEN_RO"), os.Getenv("HARDEN_RW")
	libs, err := Libraries()
	if err != nil {
		fmt.Println("libraries:", err)
		return 1
	}
	out := make(chan string)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		paths := append(libs, Path{Dir: "/proc/self/exe", Exec: true}, Path{Dir: ro, ReadOnly: true}, Path{Dir: rw}, Path{Dir: os.DevNull})
		if err := RestrictThread(paths...); err != nil {
			if errors.Is(err, ErrNoLandlock) {
				out <- "no landlock: " + err.Error() + "\n"
			} else {
				out <- "restrict: " + err.Error() + "\n"
			}
			return
		}
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), helperEnv+"=confined")
		b, err := cmd.CombinedOutput()
		if err != nil {
			b = append(b, "child: "+err.Error()+"\n"...)
		}
		out <- string(b)
	}()
	fmt.Print(<-out)
	_, err = os.ReadFile("/etc/passwd")
	fmt.Printf("parent reads elsewhere: %v\n", err == nil)
	return 0
}

// TestLandlock and TestRestrictThread: what a process confined to a
// read-only and a read-write directory can reach, from any of its threads.
const confined = `read ro: true
write ro: false
write rw: true
read elsewhere: false
read elsewhere, other thread: false
`

// TestLibraries: the directories of the loader and libraries, as Exec
// rules (none in a static binary).
func TestLibraries(t *testing.T) {
	libs, err := Libraries()
	require.NoError(t, err)
	for _, l := range libs {
		require.True(t, l.Exec)
		st, err := os.Stat(l.Dir)
		require.NoError(t, err)
		require.True(t, st.IsDir(), l.Dir)
	}
}

// TestRestrictThread: a child started from a confined thread is confined
// from its first instruction, every thread of it, in a cgo binary too,
// while the parent's other threads are not.
func TestRestrictThread(t *testing.T) {
	require.Equal(t, confined+"parent reads elsewhere: true\n", runLandlockHelper(t, "thread"))
}

// TestLandlock: a process confines all its threads (without cgo only).
func TestLandlock(t *testing.T) {
	require.Equal(t, confined, runLandlockHelper(t, "landlock"))
}

// runLandlockHelper runs this binary as the helper mode names, with a
// read-only and a read-write directory, and returns what it printed; it
// skips the test where Landlock is not available.
func runLandlockHelper(t *testing.T, mode string) string {
	t.Helper()
	ro, rw := t.TempDir(), t.TempDir()
	require.NoError(t, os.WriteFile(ro+"/in.txt", []byte("in"), 0o644))
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, "HARDEN_RO="+ro, "HARDEN_RW="+rw)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	if strings.HasPrefix(string(out), "no landlock") {
		t.Skipf("%s", out)
	}
	return string(out)
}
