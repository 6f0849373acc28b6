package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/wasmpool/wasmpool/abi"
	"github.com/wasmpool/wasmpool/host"
)

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
	rt, err := host.NewRuntime(ctx, host.Config{})
	if err != nil {
		fmt.Fprintln(stderr, "wasmpool:", err)
		return exitInternal
	}
	defer rt.Close(ctx)
	rep := rt.Inspect(ctx, wasm)
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
		fmt.Fprintf(stdout, "runnable: no: %v\n", rep.Problem)
		return exitModule
	}
	fmt.Fprintln(stdout, "runnable: yes")
	return exitOK
}
