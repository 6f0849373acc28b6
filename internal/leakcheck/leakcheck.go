// Package leakcheck finds goroutines, file descriptors and child processes
// that outlive their use: the TestMain of every package that starts
// workers checks with it, and the soak command checks that no worker
// outlives its pool. Linux only (it reads /proc).
package leakcheck

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Baseline is what a process holds before the code under check runs.
type Baseline struct {
	goroutines, fds int
}

// Take records the goroutines and descriptors held now. The runtime's
// network poller (an epoll and an eventfd) opens on first use and stays,
// so Take opens it first.
func Take() Baseline {
	if r, w, err := os.Pipe(); err == nil {
		r.SetReadDeadline(time.Now())
		r.Close()
		w.Close()
	}
	return Baseline{runtime.NumGoroutine(), countFDs()}
}

// Check returns an error, with a dump of every goroutine, if more
// goroutines or descriptors than at b, or any live child process, remain
// after wait (goroutines get that long to finish exiting).
func (b Baseline) Check(wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		g, f, kids := runtime.NumGoroutine(), countFDs(), Children()
		if g <= b.goroutines && f <= b.fds && len(kids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			return fmt.Errorf("goroutines %d (were %d), fds %d (were %d): %v, child processes %v\n%s",
				g, b.goroutines, f, b.fds, listFDs(), kids, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func countFDs() int {
	ents, _ := os.ReadDir("/proc/self/fd")
	return len(ents)
}

func listFDs() []string {
	ents, _ := os.ReadDir("/proc/self/fd")
	var out []string
	for _, e := range ents {
		l, _ := os.Readlink("/proc/self/fd/" + e.Name())
		out = append(out, e.Name()+"="+l)
	}
	return out
}

// Children lists the pids of this process's live (not zombie) children.
func Children() []int {
	var kids []int
	self := strconv.Itoa(os.Getpid())
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, st := range stats {
		state, ppid, ok := stat(st)
		if ok && ppid == self && state != "Z" {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(st)))
			kids = append(kids, pid)
		}
	}
	return kids
}

// Alive reports whether pid exists and is not a zombie.
func Alive(pid int) bool {
	state, _, ok := stat("/proc/" + strconv.Itoa(pid) + "/stat")
	return ok && state != "Z"
}

// stat returns the state and parent pid of a /proc/PID/stat file.
func stat(path string) (state, ppid string, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", "", false
	}
	// pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return "", "", false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return "", "", false
	}
	return f[0], f[1], true
}

// Main runs tests (a *testing.M) for a TestMain: with *dir set to a new
// temporary directory (a compilation cache the package's pools share),
// which it removes afterwards, and with a leak check after tests that
// passed. It returns the exit code for os.Exit.
func Main(tests interface{ Run() int }, dir *string) int {
	d, err := os.MkdirTemp("", "wasmpool-test-cache")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	*dir = d
	defer os.RemoveAll(d)
	base := Take()
	code := tests.Run()
	if code == 0 {
		if err := base.Check(5 * time.Second); err != nil {
			fmt.Fprintln(os.Stderr, "leak check:", err)
			code = 1
		}
	}
	return code
}
