package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/wasmpool/wasmpool/modules"
	"github.com/wasmpool/wasmpool/pool"
)

// demoCmd counts the primes below a limit with the bundled primes module,
// one range per call, and shows how the calls spread over the workers.
func demoCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wasmpool", flag.ContinueOnError)
	fs.SetOutput(stderr)
	workers := fs.Int("workers", runtime.NumCPU(), "worker processes")
	limit := fs.Uint64("limit", 2_000_000, "count the primes below this")
	ranges := fs.Int("ranges", 64, "split the work into this many calls")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: wasmpool [--workers N] [--limit N] [--ranges N]\n\nRuns the bundled example: counts the primes below --limit on every core.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *workers < 1 || *ranges < 1 || *limit < 2 {
		fmt.Fprintln(stderr, "wasmpool: --workers, --ranges must be at least 1 and --limit at least 2")
		return exitUsage
	}

	start := time.Now()
	p, err := pool.New(ctx, pool.Config{Module: modules.Primes, Workers: *workers})
	if err != nil {
		fmt.Fprintln(stderr, "wasmpool:", err)
		return exitCodeFor(err)
	}
	defer p.Close()
	ready := time.Since(start)
	fmt.Fprintf(stdout, "wasmpool: %d worker processes (pids %v) ready in %v\n", *workers, p.PIDs(), ready.Round(time.Millisecond))
	fmt.Fprintf(stdout, "counting primes below %d in %d ranges with the bundled module modules/primes.wasm\n", *limit, *ranges)

	step := (*limit + uint64(*ranges) - 1) / uint64(*ranges)
	type call struct {
		f      *pool.Future
		lo, hi uint64
	}
	var calls []call
	work := time.Now()
	for lo := uint64(0); lo < *limit; lo += step {
		hi := min(lo+step, *limit)
		in, err := cborPair(lo, hi)
		if err != nil {
			fmt.Fprintln(stderr, "wasmpool:", err)
			return exitInternal
		}
		calls = append(calls, call{p.Submit(ctx, "count_primes", in), lo, hi})
	}
	var total uint64
	perWorker := make([]int, *workers)
	for _, c := range calls {
		out, err := c.f.Wait(ctx)
		if err != nil {
			fmt.Fprintf(stderr, "wasmpool: range [%d, %d): %v\n", c.lo, c.hi, err)
			return exitFailed
		}
		n, err := cborUint(out)
		if err != nil {
			fmt.Fprintln(stderr, "wasmpool:", err)
			return exitInternal
		}
		total += n
		if w := c.f.Worker(); w >= 0 {
			perWorker[w]++
		}
	}
	elapsed := time.Since(work)
	fmt.Fprintf(stdout, "primes below %d: %d\n", *limit, total)
	for w, n := range perWorker {
		fmt.Fprintf(stdout, "  worker %d ran %d of %d ranges\n", w, n, len(calls))
	}
	fmt.Fprintf(stdout, "work %v, start-up %v, total %v\n", elapsed.Round(time.Millisecond), ready.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	return exitOK
}
