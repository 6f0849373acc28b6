//go:build linux

package pool

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/wasmpool/wasmpool/internal/leakcheck"
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
	os.Exit(leakcheck.Main(m, &testCache))
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
