package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/wasmpool/wasmpool/abi"
	"github.com/wasmpool/wasmpool/host"
)

// inspectTimeout bounds the module's start-up code under inspect.
const inspectTimeout = 10 * time.Second

func inspectCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wasmpool inspect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: wasmpool inspect MODULE.wasm\n\nShows a module's exports, imports, ABI version and functions, and whether the pool can run it (exit code 3 if not).\n")
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitUsage
	}
	wasm, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, "wasmpool:", err)
		return exitUsage
	}
	// Inspecting runs the module's start-up code: interruptible, and
	// bounded, so a module that never returns cannot hang the command.
	rt, err := host.NewRuntime(ctx, host.Config{Interruptible: true})
	if err != nil {
		fmt.Fprintln(stderr, "wasmpool:", err)
		return exitInternal
	}
	defer rt.Close(ctx)
	ictx, cancel := context.WithTimeout(ctx, inspectTimeout)
	defer cancel()
	rep := rt.Inspect(ictx, wasm)
	fmt.Fprintf(stdout, "module:   %s (%d bytes)\n", fs.Arg(0), len(wasm))
	if rep.ABIVersion != 0 {
		fmt.Fprintf(stdout, "abi:      version %d (this host: %d)\n", rep.ABIVersion, abi.Version)
	}
	section := func(name string, items []string) {
		fmt.Fprintf(stdout, "%s (%d):\n", name, len(items))
		for _, it := range items {
			fmt.Fprintf(stdout, "  %s\n", it)
		}
	}
	section("exports", rep.Exports)
	section("imports", rep.Imports)
	if len(rep.Functions) > 0 {
		fmt.Fprintf(stdout, "functions (%d):\n", len(rep.Functions))
		for _, f := range rep.Functions {
			fmt.Fprintf(stdout, "  %-24s %s\n", f.Name, f.Kind)
		}
	}
	if rep.Problem != nil {
		problem := rep.Problem
		if ictx.Err() != nil {
			problem = fmt.Errorf("its start-up code (start function, _initialize or function table) did not finish within %v", inspectTimeout)
		}
		fmt.Fprintf(stdout, "runnable: no: %v\n", problem)
		return exitModule
	}
	fmt.Fprintln(stdout, "runnable: yes")
	return exitOK
}
