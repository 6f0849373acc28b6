// Package bench compares wasmpool with Python's multiprocessing on the
// measurements that issue #2 sets targets for: the round trip of a trivial
// call, Map throughput, time to a ready pool, and the speedup of a
// CPU-bound job on two workers. It backs the `wasmpool bench` command.
//
// Every figure is the median of several runs. The Python side is
// baseline.py, embedded here and run with a python3 executable; it mirrors
// each Go measurement (see measure.go and baseline.py).
package bench

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
)

// Config configures Run. The zero value runs every benchmark at full size,
// 9 runs each, against the python3 in PATH.
type Config struct {
	// Runs is how many times each measurement is repeated; Run reports
	// the median. 0 means 9, or 3 with Quick. The Python prime count runs
	// at most 3 times (it takes seconds a run).
	Runs int
	// Quick uses smaller sizes and fewer runs, for CI smoke runs: the
	// whole of Run takes well under a minute on two cores.
	Quick bool
	// Python is the python3 executable for the baseline. "" means
	// "python3" from PATH; "off" skips the baseline.
	Python string
	// Only restricts Run to the named benchmarks (see Names), run in
	// Names order. Empty means all.
	Only []string
	// CacheDir is the pool.Config.CacheDir of every pool Run makes except
	// the cold-start ones, which each get a fresh empty directory. ""
	// means a temporary directory that Run removes when it returns.
	CacheDir string
}

// Names returns the benchmarks Run knows, in the order it runs them.
func Names() []string {
	return []string{"roundtrip", "map", "map-chunk1", "ready", "primes",
		"queue-pingpong", "queue-parent", "pipe-pingpong", "sem-pingpong", "queue-oneway", "lock-uncontended",
		"segment-rw", "segment-create", "atomic-add", "scaling"}
}

//go:embed baseline.py
var baselinePy []byte

// sizes are the workloads of one Run.
type sizes struct {
	runs          int
	pyPrimesRuns  int
	calls         int // roundtrip: calls per run
	mapItems      int // map: items, both sides
	chunk1Items   int // map-chunk1: items for wasmpool
	pyChunk1Items int // map-chunk1: items for Python
	primesBelow   int
	primesRanges  int
}

func newSizes(cfg Config) sizes {
	s := sizes{runs: 9, calls: 2000, mapItems: 1_000_000, chunk1Items: 200_000, pyChunk1Items: 50_000, primesBelow: 2_000_000, primesRanges: 64}
	if cfg.Quick {
		s = sizes{runs: 3, calls: 500, mapItems: 100_000, chunk1Items: 20_000, pyChunk1Items: 5_000, primesBelow: 200_000, primesRanges: 64}
	}
	if cfg.Runs > 0 {
		s.runs = cfg.Runs
	}
	s.pyPrimesRuns = min(s.runs, 3)
	return s
}

// runner is the state of one Run.
type runner struct {
	cfg      Config
	sizes    sizes
	table    *table
	warmDir  string // CacheDir of the pools that are not cold starts
	tempDir  string // removed at the end; holds baseline.py and cold caches
	python   string // "" when the baseline is off or failed to start
	pyVer    string
	pyErrs   []error
	cpus     []int // CPUs this process may run on
	selected map[string]bool
}

// Run runs the benchmarks and writes a table to out, a Markdown page that
// can be pasted into BENCHMARKS.md as it is: the command and machine, then
// one row per measurement with wasmpool's median, Python's, the ratio of
// the two and issue #2's target. Each benchmark's rows are written as soon
// as it finishes; notes on method follow the table.
//
// Run checks ctx between runs (a run under way finishes first). It returns
// an error if a wasmpool measurement fails; a Python baseline that fails
// leaves its cells empty, is noted under the table and is reported in the
// returned error once the table is complete. The pinned variants of
// roundtrip set the CPU affinity of every thread of this process for
// their duration.
func Run(ctx context.Context, out io.Writer, cfg Config) error {
	r, err := newRunner(ctx, out, cfg)
	if err != nil {
		return err
	}
	defer os.RemoveAll(r.tempDir)
	r.header(out)
	r.table.start()
	benchmarks := map[string]func(context.Context) error{
		"roundtrip":  r.roundtrip,
		"map":        r.mapDefault,
		"map-chunk1": r.mapChunk1,
		"ready":      r.ready,
		"primes":     r.primes,

		"queue-pingpong":   r.queuePingpong,
		"queue-parent":     r.queueParent,
		"pipe-pingpong":    r.pipePingpong,
		"sem-pingpong":     r.semPingpong,
		"queue-oneway":     r.queueOneway,
		"lock-uncontended": r.lockUncontended,

		"segment-rw":     r.segmentRW,
		"segment-create": r.segmentCreate,
		"atomic-add":     r.atomicAdd,

		"scaling": r.scaling,
	}
	for _, name := range Names() {
		if !r.selected[name] {
			continue
		}
		if err := benchmarks[name](ctx); err != nil {
			r.table.finish()
			return fmt.Errorf("bench: %s: %w", name, err)
		}
	}
	r.table.finish()
	if len(r.pyErrs) > 0 {
		return fmt.Errorf("bench: Python baseline: %w", errors.Join(r.pyErrs...))
	}
	return nil
}

func newRunner(ctx context.Context, out io.Writer, cfg Config) (*runner, error) {
	r := &runner{cfg: cfg, sizes: newSizes(cfg), table: &table{w: out}, selected: map[string]bool{}}
	for _, name := range cfg.Only {
		if !slices.Contains(Names(), name) {
			return nil, fmt.Errorf("bench: unknown benchmark %q (have %s)", name, strings.Join(Names(), ", "))
		}
		r.selected[name] = true
	}
	if len(cfg.Only) == 0 {
		for _, name := range Names() {
			r.selected[name] = true
		}
	}
	var err error
	if r.tempDir, err = os.MkdirTemp("", "wasmpool-bench-"); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	r.warmDir = cfg.CacheDir
	if r.warmDir == "" {
		r.warmDir = filepath.Join(r.tempDir, "cache")
	}
	if r.cpus, err = allowedCPUs(); err != nil {
		r.table.note("CPU affinity unavailable (%v): pinned variants skipped", err)
	}
	r.startPython(ctx)
	return r, nil
}

// startPython writes baseline.py out and asks it for its version, which
// also checks that it runs.
func (r *runner) startPython(ctx context.Context) {
	if r.cfg.Python == "off" {
		return
	}
	r.python = r.cfg.Python
	if r.python == "" {
		r.python = "python3"
	}
	if err := os.WriteFile(filepath.Join(r.tempDir, "baseline.py"), baselinePy, 0o600); err != nil {
		r.pythonFailed("version", err)
		return
	}
	res, err := r.runPython(ctx, "version")
	if err != nil {
		r.pythonFailed("version", err)
		return
	}
	r.pyVer = res.Python
}

// pythonFailed records a failed baseline; a failure to start at all turns
// the baseline off for the rest of the Run.
func (r *runner) pythonFailed(bench string, err error) {
	r.pyErrs = append(r.pyErrs, fmt.Errorf("%s: %w", bench, err))
	if bench == "version" {
		r.table.note("Python baseline unavailable, Python cells left empty: %v", err)
		r.python = ""
		return
	}
	r.table.note("Python baseline for %s failed: %v", bench, err)
}

// header writes the page's title and the conditions of the measurement.
func (r *runner) header(out io.Writer) {
	py := "Python off"
	if r.cfg.Python != "off" {
		py = "Python unavailable"
	}
	if r.python != "" {
		py = fmt.Sprintf("Python %s (%s)", r.pyVer, r.python)
	}
	fmt.Fprintf(out, "## wasmpool bench\n\n")
	fmt.Fprintf(out, "    command:  %s\n", commandLine())
	fmt.Fprintf(out, "    machine:  nproc %d, GOMAXPROCS %d, %s %s/%s, %s\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH, py)
	if model := cpuModel(); model != "" {
		fmt.Fprintf(out, "    cpu:      %s\n", model)
	}
	runs := fmt.Sprintf("%d per figure, the median reported", r.sizes.runs)
	if r.selected["primes"] && r.python != "" && r.sizes.pyPrimesRuns != r.sizes.runs {
		runs += fmt.Sprintf(" (Python primes: %d)", r.sizes.pyPrimesRuns)
	}
	fmt.Fprintf(out, "    runs:     %s\n", runs)
	fmt.Fprintf(out, "    ratio:    wasmpool against Python on the same row: \"N× faster\" means wasmpool is better\n")
	fmt.Fprintf(out, "    target:   issue #2's target for wasmpool's figure, met (PASS) or not (MISS)\n\n")
}

// commandLine is this program's command line, quoted for a POSIX shell.
func commandLine() string {
	args := append([]string{filepath.Base(os.Args[0])}, os.Args[1:]...)
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`*?[]{}()<>|&;#~") {
			args[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(args, " ")
}

// cpuModel returns the first "model name" of /proc/cpuinfo, or "".
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
