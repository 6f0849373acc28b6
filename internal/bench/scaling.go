package bench

import (
	"context"
	"fmt"
	"github.com/wasmpool/wasmpool/pool"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmpool/wasmpool/modules/primes/trial"
)

// scalingWorkers are the worker counts scaling measures: powers of two up
// to the CPUs this process may use, and that count itself.
func (r *runner) scalingWorkers() []int {
	n := len(r.cpus)
	if n == 0 {
		n = runtime.NumCPU()
	}
	var ws []int
	for w := 1; w <= n; w *= 2 {
		ws = append(ws, w)
	}
	if ws[len(ws)-1] != n {
		ws = append(ws, n)
	}
	return ws
}

// scaling: the prime count and Map at every worker count from 1 to the
// CPUs available, each against Python's Pool of the same size. On the
// 2-vCPU development machine it is the primes benchmark again; it exists
// for the 16-core machine that is sometimes lent.
func (r *runner) scaling(ctx context.Context) error {
	limit, k := r.sizes.primesBelow, 4*r.sizes.primesRanges
	ranges := splitRanges(limit, k)
	want := primesBelow(limit)
	ws := r.scalingWorkers()
	primes := make([]float64, len(ws))
	native := make([]float64, len(ws))
	maps := make([]float64, len(ws))
	chunk1 := make([]float64, len(ws))
	for i, w := range ws {
		samples, err := repeat(ctx, r.sizes.runs, func() (float64, error) { return nativePrimes(w, ranges, want) })
		if err != nil {
			return fmt.Errorf("native Go, %d goroutines: %w", w, err)
		}
		native[i] = median(samples)
	}
	for i, w := range ws {
		samples, err := r.measurePrimes(ctx, w, ranges, want)
		if err != nil {
			return fmt.Errorf("primes, workers=%d: %w", w, err)
		}
		primes[i] = median(samples)
		if samples, err = r.measureMap(ctx, w, r.sizes.mapItems); err != nil {
			return fmt.Errorf("map, workers=%d: %w", w, err)
		}
		maps[i] = median(samples)
		if samples, err = r.measureMap(ctx, w, r.sizes.chunk1Items, pool.ChunkSize(1)); err != nil {
			return fmt.Errorf("map chunksize 1, workers=%d: %w", w, err)
		}
		chunk1[i] = median(samples)
	}
	list := joinInts(ws)
	py := r.baseline(ctx, "scaling", "-n", fmt.Sprint(limit), "--ranges", fmt.Sprint(k),
		"--map-items", fmt.Sprint(r.sizes.mapItems), "--chunk1-items", fmt.Sprint(r.sizes.pyChunk1Items), "--workers", list)
	if py != nil {
		if res, _ := py.get("scaling/primes/1"); res.Count != want {
			r.pythonFailed("scaling", fmt.Errorf("counted %d primes below %d, want %d", res.Count, limit, want))
			py = nil
		}
	}
	label := "primes < " + count(limit)
	for i, w := range ws {
		r.table.add(row{name: fmt.Sprintf("%s, workers=%d / Pool(%d)", label, w, w), unit: seconds,
			ours: primes[i], python: py.median(fmt.Sprintf("scaling/primes/%d", w))})
	}
	pyOne := py.median("scaling/primes/1")
	for i, w := range ws[1:] {
		r.table.add(row{name: fmt.Sprintf("primes speedup, workers=%d over 1", w), unit: factor,
			ours: primes[0] / primes[i+1], python: pyOne / py.median(fmt.Sprintf("scaling/primes/%d", w)), noRatio: true})
	}
	for i, w := range ws[1:] {
		r.table.add(row{name: fmt.Sprintf("native Go speedup, %d goroutines over 1", w), unit: factor,
			ours: native[0] / native[i+1], python: math.NaN(), noRatio: true})
	}
	for i, w := range ws {
		r.table.add(row{name: fmt.Sprintf("map, %s items, workers=%d / Pool(%d)", count(r.sizes.mapItems), w, w), unit: rate,
			ours: maps[i], python: py.median(fmt.Sprintf("scaling/map/%d", w))})
	}
	for i, w := range ws {
		r.table.add(row{name: fmt.Sprintf("map chunksize 1, workers=%d / Pool(%d)", w, w), unit: rate,
			ours: chunk1[i], python: py.median(fmt.Sprintf("scaling/map-chunk1/%d", w))})
	}
	pyRuns := ""
	if r.python != "" && r.sizes.pyPrimesRuns != r.sizes.runs {
		pyRuns = fmt.Sprintf(" (%d runs for its primes)", r.sizes.pyPrimesRuns)
	}
	r.table.note("scaling: workers %s. primes: count_primes over [0, %s) in %d equal ranges, one pool.MapTyped with default chunks, "+
		"pool started beforehand; speedup = median(workers=1) / median(workers=N). map and map chunksize 1: as their rows, with N workers. "+
		"Python%s: fork Pool(N).map of the same trial division and of double, speedup over Pool(1). "+
		"native Go: the same trial division compiled natively, N goroutines taking ranges in order from a shared counter "+
		"(%.3f s on one): the ceiling this machine's cores allow.",
		list, count(limit), k, pyRuns, native[0])
	if slices.Max(ws) < 4 {
		r.table.note("scaling: %d CPUs only; the figures that matter need a machine with more", slices.Max(ws))
	}
	return nil
}

// nativePrimes counts the primes in ranges on workers goroutines with the
// trial division of modules/primes (package trial) compiled natively, and returns the
// seconds it took. Goroutines take ranges in order, as workers take chunks.
func nativePrimes(workers int, ranges [][2]uint64, want int) (float64, error) {
	var next, total atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(len(ranges)) {
					return
				}
				n := 0
				for v := ranges[i][0]; v < ranges[i][1]; v++ {
					if trial.IsPrime(v) {
						n++
					}
				}
				total.Add(int64(n))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if int(total.Load()) != want {
		return 0, fmt.Errorf("counted %d primes, want %d", total.Load(), want)
	}
	return elapsed.Seconds(), nil
}
