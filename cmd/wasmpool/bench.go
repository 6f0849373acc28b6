package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/wasmpool/wasmpool/internal/bench"
)

func benchCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wasmpool bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg bench.Config
	fs.IntVar(&cfg.Runs, "runs", 0, "repetitions per measurement, reported as the median (0: 9, or 3 with --quick)")
	fs.BoolVar(&cfg.Quick, "quick", false, "smaller sizes, for a smoke run")
	fs.StringVar(&cfg.Python, "python", "", `python3 to run the multiprocessing baseline with ("off" skips it)`)
	only := fs.String("only", "", "comma-separated benchmarks to run: "+strings.Join(bench.Names(), ", "))
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: wasmpool bench [flags]\n\nMeasures wasmpool and Python's multiprocessing side by side on this machine and prints a table with ratios and the targets.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *only != "" {
		cfg.Only = strings.Split(*only, ",")
	}
	if err := bench.Run(ctx, stdout, cfg); err != nil {
		fmt.Fprintln(stderr, "wasmpool bench:", err)
		return exitFailed
	}
	return exitOK
}
