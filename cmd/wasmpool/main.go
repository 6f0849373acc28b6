// Command wasmpool runs WebAssembly guest modules on a pool of worker
// processes, one per core.
//
//	wasmpool                          run the bundled example: primes below 2,000,000 on every core
//	wasmpool run MODULE.wasm --fn F   call task F on every input line, print results in input order
//	wasmpool inspect MODULE.wasm      show exports, imports, ABI version, functions, and whether it can run
//	wasmpool bench                    compare with Python's multiprocessing on this machine
//	wasmpool soak --duration 10m      kill workers at random under load; check nothing is lost or hangs
//
// Exit codes: 0 success; 1 some items failed; 2 bad usage; 3 the module
// cannot be run; 4 the pool failed.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/wasmpool/wasmpool/pool"
)

// Exit codes.
const (
	exitOK       = 0
	exitFailed   = 1
	exitUsage    = 2
	exitModule   = 3
	exitInternal = 4
)

const usage = `wasmpool runs WebAssembly guest modules on a pool of worker processes.

Usage:
  wasmpool [--workers N]                 run the bundled example (primes below 2,000,000)
  wasmpool run MODULE.wasm --fn NAME     call a task function on every input
  wasmpool inspect MODULE.wasm           describe a module and say whether the pool can run it
  wasmpool bench [--quick]               benchmarks against Python multiprocessing
  wasmpool soak [--duration 30s]         chaos test: kill workers at random under load, check nothing is lost

Run "wasmpool COMMAND --help" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is the whole command, with its streams passed in so tests can drive
// it.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "run":
			return runCmd(ctx, args[1:], stdin, stdout, stderr)
		case "inspect":
			return inspectCmd(ctx, args[1:], stdout, stderr)
		case "bench":
			return benchCmd(ctx, args[1:], stdout, stderr)
		case "soak":
			return soakCmd(ctx, args[1:], stdout, stderr)
		case "demo":
			return demoCmd(ctx, args[1:], stdout, stderr)
		case "help", "-h", "--help", "-help":
			fmt.Fprint(stdout, usage)
			return exitOK
		}
		if len(args[0]) > 0 && args[0][0] != '-' {
			fmt.Fprintf(stderr, "wasmpool: unknown command %q\n\n%s", args[0], usage)
			return exitUsage
		}
	}
	return demoCmd(ctx, args, stdout, stderr)
}

// exitCodeFor maps a pool.New error to an exit code and a message.
func exitCodeFor(err error) int {
	var (
		ce *pool.CompileError
		ie *pool.ImportError
		ee *pool.ExportError
		ve *pool.VersionError
	)
	if errors.As(err, &ce) || errors.As(err, &ie) || errors.As(err, &ee) || errors.As(err, &ve) {
		return exitModule
	}
	return exitInternal
}
