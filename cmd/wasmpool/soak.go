package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/wasmpool/wasmpool/internal/chaos"
)

// soakCmd runs the chaos workload (internal/chaos) for as long as asked
// and prints its report: the long form of TestChaos, for soak runs.
func soakCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wasmpool soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg chaos.Config
	fs.DurationVar(&cfg.Duration, "duration", 30*time.Second, "how long to inject faults")
	fs.IntVar(&cfg.Workers, "workers", runtime.NumCPU(), "worker processes")
	fs.IntVar(&cfg.Retries, "retries", 3, "pool.Config.Retries: retries of a task whose worker died")
	fs.DurationVar(&cfg.Bound, "bound", 30*time.Second, "longest any one operation may take before it counts as a hang")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: wasmpool soak [flags]\n\n"+
			"Runs Map, Submit, queue and pipe traffic on the bundled example modules while SIGKILLing\n"+
			"random workers every 50-200 ms, then checks that every task is accounted for, no queue\n"+
			"message was lost, nothing hung and no worker outlived the pool. Exit status 1 if a\n"+
			"promise was broken.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 || cfg.Duration <= 0 || cfg.Workers <= 0 || cfg.Retries < 0 || cfg.Bound <= 0 {
		fs.Usage()
		return exitUsage
	}
	fmt.Fprintf(stderr, "wasmpool soak: %v of faults on %d workers, retries %d\n", cfg.Duration, cfg.Workers, cfg.Retries)
	rep, err := chaos.Run(ctx, cfg)
	if rep == nil {
		fmt.Fprintln(stderr, "wasmpool soak:", err)
		return exitCodeFor(err)
	}
	fmt.Fprintln(stdout, rep)
	for _, v := range rep.Violations {
		fmt.Fprintln(stdout, "violation:", v)
	}
	if errors.Is(err, chaos.ErrViolated) {
		return exitFailed
	}
	return exitOK
}
