package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/wasmpool/wasmpool/modules"
	"github.com/wasmpool/wasmpool/pool"
)

// Each benchmark measures wasmpool, then runs its Python twin in
// baseline.py, then writes its rows. Calls run under a context without
// cancellation, so that the figures do not include the cost of watching
// a context; ctx is checked between runs.

// placement says where a roundtrip variant runs its processes.
type placement struct {
	name    string // baseline.py's name of the variant
	label   string // the row's name
	parent  []int  // CPUs of every thread of this process; nil: unpinned
	workers []int  // CPUs the workers start on
}

func (r *runner) placements() []placement {
	ps := []placement{{name: "unpinned", label: "roundtrip, unpinned"}}
	c := r.cpus
	if len(c) == 0 {
		return ps
	}
	ps = append(ps, placement{"1cpu", "roundtrip, pinned to 1 CPU", c[:1], c[:1]})
	if len(c) < 2 {
		r.table.note("roundtrip: one CPU only, so no variant pinned to 2 CPUs")
		return ps
	}
	return append(ps, placement{"2cpu", "roundtrip, pinned to 2 CPUs", c[:1], c[1:2]})
}

// roundtrip: the latency of one trivial call, Submit to result.
func (r *runner) roundtrip(ctx context.Context) error {
	ps := r.placements()
	ours := make([]float64, len(ps))
	names := make([]string, len(ps))
	for i, pl := range ps {
		samples, err := r.measureRoundtrip(ctx, pl)
		if err != nil {
			return fmt.Errorf("%s: %w", pl.name, err)
		}
		ours[i], names[i] = median(samples), pl.name
	}
	args := []string{"-n", fmt.Sprint(r.sizes.calls), "--variants", strings.Join(names, ",")}
	if len(r.cpus) > 0 {
		args = append(args, "--cpus", joinInts(r.cpus[:min(2, len(r.cpus))]))
	}
	py := r.baseline(ctx, "roundtrip", args...)
	for i, pl := range ps {
		r.table.add(row{name: pl.label, unit: micros, ours: ours[i], python: py.median("roundtrip/" + pl.name), target: &target{25}})
	}
	note := fmt.Sprintf("roundtrip: mean time per call over %d sequential Calls of \"echo\" with 8 bytes, Workers: 1 "+
		"(the median of the runs' means); Python: ProcessPoolExecutor(max_workers=1, fork).submit(echo, bytes(8)).result().", r.sizes.calls)
	if len(ps) > 1 {
		note += fmt.Sprintf(" Pinned to 1 CPU: every thread of parent and worker on CPU %d (GOMAXPROCS follows);", ps[1].parent[0])
	}
	if len(ps) > 2 {
		note += fmt.Sprintf(" to 2 CPUs: the parent on CPU %d, the worker on CPU %d.", ps[2].parent[0], ps[2].workers[0])
	}
	r.table.note("%s", note)
	return nil
}

func (r *runner) measureRoundtrip(ctx context.Context, pl placement) ([]float64, error) {
	p, restore, err := startPool(ctx, pool.Config{Module: modules.Bench, Workers: 1, CacheDir: r.warmDir}, pl)
	if err != nil {
		return nil, err
	}
	defer restore()
	defer p.Close()
	call := context.WithoutCancel(ctx)
	in := make([]byte, 8)
	for range 100 { // warm-up
		if _, err := p.Call(call, "echo", in); err != nil {
			return nil, err
		}
	}
	return repeat(ctx, r.sizes.runs, func() (float64, error) {
		start := time.Now()
		for range r.sizes.calls {
			if _, err := p.Call(call, "echo", in); err != nil {
				return 0, err
			}
		}
		return float64(time.Since(start).Nanoseconds()) / 1e3 / float64(r.sizes.calls), nil
	})
}

// startPool starts a pool for placement pl: its workers start on
// pl.workers (they inherit the mask of the thread that forks them), then
// this process moves to pl.parent. restore moves it back.
func startPool(ctx context.Context, cfg pool.Config, pl placement) (p *pool.Pool, restore func(), err error) {
	if pl.parent == nil {
		p, err := pool.New(ctx, cfg)
		return p, func() {}, err
	}
	orig, err := allowedCPUs()
	if err != nil {
		return nil, nil, err
	}
	restore = func() { setAffinity(0, orig) }
	if err := setAffinity(0, pl.workers); err != nil {
		restore()
		return nil, nil, err
	}
	if p, err = pool.New(ctx, cfg); err == nil {
		err = setAffinity(0, pl.parent)
		for _, pid := range p.PIDs() {
			if err == nil {
				err = checkAffinity(pid, pl.workers)
			}
		}
		if err != nil {
			p.Close()
		}
	}
	if err != nil {
		restore()
		return nil, nil, err
	}
	return p, restore, nil
}

// mapDefault: Map throughput with the default chunk size.
func (r *runner) mapDefault(ctx context.Context) error {
	n := r.sizes.mapItems
	samples, err := r.measureMap(ctx, 2, n)
	if err != nil {
		return err
	}
	py := r.baseline(ctx, "map", "-n", fmt.Sprint(n))
	r.table.add(row{name: fmt.Sprintf("map, %s items, default chunks", count(n)), unit: rate, ours: median(samples), python: py.median("map"), target: &target{5e6}})
	r.table.note("map: items/s of one Map of \"double\" over %s 8-byte items, Workers: 2, pool started beforehand; "+
		"Python: fork Pool(2).map(double, range(%s)).", count(n), count(n))
	return nil
}

// mapChunk1: Map throughput one item per guest call.
func (r *runner) mapChunk1(ctx context.Context) error {
	n, pyN := r.sizes.chunk1Items, r.sizes.pyChunk1Items
	samples, err := r.measureMap(ctx, 2, n, pool.ChunkSize(1))
	if err != nil {
		return err
	}
	py := r.baseline(ctx, "map", "-n", fmt.Sprint(pyN), "--chunksize", "1")
	r.table.add(row{name: "map, chunksize 1", unit: rate, ours: median(samples), python: py.median("map-chunk1"), target: &target{400e3}})
	r.table.note("map, chunksize 1: as map with pool.ChunkSize(1) over %s items; Python chunksize=1 over %s items.", count(n), count(pyN))
	return nil
}

func (r *runner) measureMap(ctx context.Context, workers, n int, opts ...pool.MapOption) ([]float64, error) {
	p, err := pool.New(ctx, pool.Config{Module: modules.Bench, Workers: workers, CacheDir: r.warmDir})
	if err != nil {
		return nil, err
	}
	defer p.Close()
	backing := make([]byte, 8*n)
	inputs := make([][]byte, n)
	for i := range inputs {
		b := backing[8*i : 8*i+8 : 8*i+8]
		binary.LittleEndian.PutUint64(b, uint64(i))
		inputs[i] = b
	}
	call := context.WithoutCancel(ctx)
	if _, err := p.Map(call, "double", inputs[:min(n, 1000)], opts...); err != nil { // warm-up
		return nil, err
	}
	return repeat(ctx, r.sizes.runs, func() (float64, error) {
		start := time.Now()
		outs, err := p.Map(call, "double", inputs, opts...)
		elapsed := time.Since(start)
		if err != nil {
			return 0, err
		}
		for i, out := range outs {
			if len(out) != 8 || binary.LittleEndian.Uint64(out) != 2*uint64(i) {
				return 0, fmt.Errorf("item %d: got %x, want %d", i, out, 2*i)
			}
		}
		return float64(n) / elapsed.Seconds(), nil
	})
}

// ready: from pool.New to a pool whose workers are all ready.
func (r *runner) ready(ctx context.Context) error {
	cfg := pool.Config{Module: modules.Bench, Workers: 2, CacheDir: r.warmDir}
	if _, err := timeNew(ctx, cfg); err != nil { // fills the cache
		return err
	}
	warm, err := repeat(ctx, r.sizes.runs, func() (float64, error) { return timeNew(ctx, cfg) })
	if err != nil {
		return err
	}
	cold, err := repeat(ctx, r.sizes.runs, func() (float64, error) {
		dir, err := os.MkdirTemp(r.tempDir, "cold-")
		if err != nil {
			return 0, err
		}
		defer os.RemoveAll(dir)
		c := cfg
		c.CacheDir = dir
		return timeNew(ctx, c)
	})
	if err != nil {
		return err
	}
	py := r.baseline(ctx, "ready")
	for _, method := range []string{"fork", "forkserver", "spawn"} {
		r.table.add(row{name: "ready, warm cache, vs Python " + method, unit: millis, ours: median(warm), python: py.median("ready/" + method), target: &target{40}})
	}
	r.table.add(row{name: "ready, cold cache", unit: millis, ours: median(cold), python: math.NaN()})
	r.table.note("ready: pool.New with Workers: 2 until it returns (every worker has compiled the module and answered), " +
		"Close not timed; warm: the compilation cache filled by an untimed run; cold: a new empty CacheDir each run. " +
		"Python: Pool(2) until both workers have run an initializer, per start method, after one untimed warm-up " +
		"(which starts the forkserver). wasmpool's workers are fork+exec'd binaries, like spawn.")
	return nil
}

// timeNew returns the milliseconds pool.New takes; Close is not timed.
func timeNew(ctx context.Context, cfg pool.Config) (float64, error) {
	start := time.Now()
	p, err := pool.New(ctx, cfg)
	elapsed := time.Since(start)
	if err != nil {
		return 0, err
	}
	p.Close()
	return float64(elapsed.Nanoseconds()) / 1e6, nil
}

// primes: a CPU-bound job on one worker and on two.
func (r *runner) primes(ctx context.Context) error {
	limit, k := r.sizes.primesBelow, r.sizes.primesRanges
	ranges := splitRanges(limit, k)
	want := primesBelow(limit)
	one, err := r.measurePrimes(ctx, 1, ranges, want)
	if err != nil {
		return fmt.Errorf("workers=1: %w", err)
	}
	two, err := r.measurePrimes(ctx, 2, ranges, want)
	if err != nil {
		return fmt.Errorf("workers=2: %w", err)
	}
	py := r.baseline(ctx, "primes", "-n", fmt.Sprint(limit), "--ranges", fmt.Sprint(k))
	if py != nil {
		if res, _ := py.get("primes/1"); res.Count != want {
			r.pythonFailed("primes", fmt.Errorf("counted %d primes below %d, want %d", res.Count, limit, want))
			py = nil
		}
	}
	label := "primes < " + count(limit)
	r.table.add(row{name: label + ", workers=1 / 1 process", unit: seconds, ours: median(one), python: py.median("primes/1")})
	r.table.add(row{name: label + ", workers=2 / Pool(2)", unit: seconds, ours: median(two), python: py.median("primes/2")})
	r.table.add(row{name: "primes speedup, workers=2 over 1", unit: factor, ours: median(one) / median(two),
		python: py.median("primes/speedup"), target: &target{1.9}, noRatio: true})
	pyRuns := ""
	if r.sizes.pyPrimesRuns != r.sizes.runs {
		pyRuns = fmt.Sprintf(", %d runs", r.sizes.pyPrimesRuns)
	}
	r.table.note("primes: count_primes over [0, %s) in %d equal ranges, one pool.MapTyped with default chunks, pool started beforehand; "+
		"speedup = median(workers=1) / median(workers=2). Python: the same trial division in this process, then in a fork Pool(2).map%s.",
		count(limit), k, pyRuns)
	return nil
}

func (r *runner) measurePrimes(ctx context.Context, workers int, ranges [][2]uint64, want int) ([]float64, error) {
	p, err := pool.New(ctx, pool.Config{Module: modules.Primes, Workers: workers, CacheDir: r.warmDir})
	if err != nil {
		return nil, err
	}
	defer p.Close()
	call := context.WithoutCancel(ctx)
	if _, err := pool.MapTyped[uint64](call, p, "count_primes", [][2]uint64{{0, 1000}, {1000, 2000}}); err != nil { // warm-up
		return nil, err
	}
	return repeat(ctx, r.sizes.runs, func() (float64, error) {
		start := time.Now()
		counts, err := pool.MapTyped[uint64](call, p, "count_primes", ranges)
		elapsed := time.Since(start)
		if err != nil {
			return 0, err
		}
		total := 0
		for _, c := range counts {
			total += int(c)
		}
		if total != want {
			return 0, fmt.Errorf("counted %d primes, want %d", total, want)
		}
		return elapsed.Seconds(), nil
	})
}

// splitRanges splits [0, limit) into k ranges as baseline.py's split does.
func splitRanges(limit, k int) [][2]uint64 {
	rs := make([][2]uint64, k)
	for i := range rs {
		rs[i] = [2]uint64{uint64(limit * i / k), uint64(limit * (i + 1) / k)}
	}
	return rs
}

// primesBelow counts the primes below n with a sieve, to check both sides.
func primesBelow(n int) int {
	composite := make([]bool, n)
	count := 0
	for i := 2; i < n; i++ {
		if composite[i] {
			continue
		}
		count++
		for j := i * i; j < n; j += i {
			composite[j] = true
		}
	}
	return count
}

// repeat calls run n times and returns its results, checking ctx before
// each call.
func repeat(ctx context.Context, n int, run func() (float64, error)) ([]float64, error) {
	samples := make([]float64, 0, n)
	for range n {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		v, err := run()
		if err != nil {
			return nil, err
		}
		samples = append(samples, v)
	}
	return samples, nil
}

// median returns the median of xs, NaN for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// count prints n as 200k or 2M when it is round.
func count(n int) string {
	switch {
	case n >= 1e6 && n%1e5 == 0:
		return trimZero(fmt.Sprintf("%.1f", float64(n)/1e6)) + "M"
	case n >= 1e3 && n%100 == 0:
		return trimZero(fmt.Sprintf("%.1f", float64(n)/1e3)) + "k"
	}
	return fmt.Sprint(n)
}

func trimZero(s string) string { return strings.TrimSuffix(s, ".0") }

func joinInts(xs []int) string {
	var b bytes.Buffer
	for i, x := range xs {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprint(&b, x)
	}
	return b.String()
}
