package pool

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testCache is the compilation cache every test pool shares, so only the
// first pool compiles the test guest.
var testCache string

// helperEnv selects a helper role when the test binary is re-run by a test
// (the os/exec pattern); worker processes are handled by the package's init.
const helperEnv = "WASMPOOL_TEST_HELPER"

func TestMain(m *testing.M) {
	if role := os.Getenv(helperEnv); role != "" {
		os.Exit(runHelper(role))
	}
	dir, err := os.MkdirTemp("", "wasmpool-test-cache")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testCache = dir
	// The runtime's network poller (an epoll and an eventfd) opens on
	// first use and stays: open it before counting.
	if r, w, err := os.Pipe(); err == nil {
		r.SetReadDeadline(time.Now())
		r.Close()
		w.Close()
	}
	goroutines, fds := runtime.NumGoroutine(), countFDs()
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		if err := checkLeaks(goroutines, fds); err != nil {
			fmt.Fprintln(os.Stderr, "leak check:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// checkLeaks fails when goroutines, file descriptors or child processes
// outlive the tests. Goroutines get a moment to finish exiting.
func checkLeaks(goroutines, fds int) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		g, f, kids := runtime.NumGoroutine(), countFDs(), children()
		if g <= goroutines && f <= fds && len(kids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			return fmt.Errorf("goroutines %d (were %d), fds %d (were %d): %v, child processes %v\n%s", g, goroutines, f, fds, listFDs(), kids, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
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

func countFDs() int {
	ents, _ := os.ReadDir("/proc/self/fd")
	return len(ents)
}

// children lists the pids of this process's live children.
func children() []int {
	var kids []int
	self := strconv.Itoa(os.Getpid())
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, st := range stats {
		b, err := os.ReadFile(st)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[1] == self && f[0] != "Z" {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(st)))
			kids = append(kids, pid)
		}
	}
	return kids
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && !strings.HasPrefix(strings.TrimSpace(s[i+1:]), "Z")
}

// runHelper runs a role for a test that needs a separate parent process.
func runHelper(role string) int {
	switch role {
	case "parent":
		// Start a pool, report the workers' pids, then wait to be killed.
		wasm, err := os.ReadFile(os.Getenv("WASMPOOL_TEST_MODULE"))
		if err != nil {
			fmt.Println("error:", err)
			return 1
		}
		p, err := New(context.Background(), Config{Module: wasm, Workers: 2, CacheDir: os.Getenv("WASMPOOL_TEST_CACHE")})
		if err != nil {
			fmt.Println("error:", err)
			return 1
		}
		w := bufio.NewWriter(os.Stdout)
		for _, pid := range p.PIDs() {
			fmt.Fprintln(w, pid)
		}
		fmt.Fprintln(w, "ready")
		w.Flush()
		time.Sleep(time.Minute)
		return 0
	}
	fmt.Fprintln(os.Stderr, "unknown helper role", role)
	return 2
}
