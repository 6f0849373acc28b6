package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/wasmpool/wasmpool/modules"
	"github.com/wasmpool/wasmpool/pool"
)

// The shared-memory benchmarks (issue #4): guests of modules/shmem map a
// segment into their own memory.

func (r *runner) shmemPool(ctx context.Context) (*pool.Pool, error) {
	return pool.New(ctx, pool.Config{Module: modules.Shmem, Workers: 2, CacheDir: r.warmDir, Output: func(pool.Output) {}})
}

// runOn runs a process of p to its end and returns what it printed and the
// PID of the worker that ran it.
func runOn(ctx context.Context, p *pool.Pool, fn string, args ...[]byte) (string, int, error) {
	var out bytes.Buffer
	pr := p.Process(fn, args...)
	pr.Stdout = &out
	if err := pr.Start(ctx); err != nil {
		return "", 0, err
	}
	if err := pr.Join(ctx); err != nil {
		return "", 0, err
	}
	if err := pr.Err(); err != nil {
		return "", 0, err
	}
	return out.String(), pr.PID(), nil
}

// segmentRW: a guest in one worker writes a whole segment, a guest in the
// other reads it and sums it, both through the mapped window.
func (r *runner) segmentRW(ctx context.Context) error {
	size := 256 << 20
	if r.cfg.Quick {
		size = 32 << 20
	}
	const rounds = "3"
	p, err := r.shmemPool(ctx)
	if err != nil {
		return err
	}
	defer p.Close()
	s, err := p.CreateSharedMemory("", size)
	if err != nil {
		return err
	}
	defer s.Close()
	defer s.Unlink()
	name := []byte(s.Name())
	var writes, reads []float64
	for range r.sizes.runs {
		out, wpid, err := runOn(ctx, p, "write", name, []byte(rounds))
		if err != nil {
			return err
		}
		wns, err := nanos(out)
		if err != nil {
			return err
		}
		var rpid int
		for range 5 { // the reader must run in the other worker
			if out, rpid, err = runOn(ctx, p, "sum", name, []byte(rounds)); err != nil || rpid != wpid {
				break
			}
		}
		if err != nil {
			return err
		}
		if rpid == wpid {
			return fmt.Errorf("the reader kept landing on the writer's worker")
		}
		f := strings.Fields(out)
		if len(f) != 3 {
			return fmt.Errorf("sum printed %q", out)
		}
		rns, _ := strconv.ParseFloat(f[0], 64)
		if want := expectedSum(s.Bytes()); f[2] != strconv.FormatUint(want, 10) {
			return fmt.Errorf("the reader summed %s, the parent %d", f[2], want)
		}
		writes = append(writes, float64(size)/wns)
		reads = append(reads, float64(size)/rns)
	}
	py := r.baseline(ctx, "segment-rw", "--size", fmt.Sprint(size))
	r.table.add(row{name: fmt.Sprintf("segment write %d MiB, guest (mapped)", size>>20), unit: gbps, ours: median(writes), python: py.median("segment-rw/write"), target: &target{8}})
	r.table.add(row{name: fmt.Sprintf("segment read+sum %d MiB, other worker", size>>20), unit: gbps, ours: median(reads), python: py.median("segment-rw/read"), target: &target{8}})
	r.table.note("segment-rw: a %d MiB segment; a guest in one worker fills it (a pattern in 4 KiB, then copy doubling: wasm memory.copy), "+
		"a guest in the other worker sums it as uint64s (four accumulators), each the best of %s rounds over a warm mapping; the parent checks the sum. "+
		"Python: a child writes shm.buf[:] from a bytes object, another child reads with zlib.crc32 (best of %s).", size>>20, rounds, rounds)
	return nil
}

// expectedSum is the sum of b's uint64s, as the sum guest computes it.
func expectedSum(b []byte) uint64 {
	var a uint64
	for i := 0; i+8 <= len(b); i += 8 {
		a += binary.LittleEndian.Uint64(b[i:])
	}
	return a
}

// segmentCreate: create + attach + unlink of a 4 KiB segment across two
// processes, timed inside a guest loop.
func (r *runner) segmentCreate(ctx context.Context) error {
	n := 2000
	if r.cfg.Quick {
		n = 200
	}
	p, err := r.shmemPool(ctx)
	if err != nil {
		return err
	}
	defer p.Close()
	samples, err := repeat(ctx, r.sizes.runs, func() (float64, error) {
		out, _, err := runOn(ctx, p, "cycle", []byte(strconv.Itoa(n)))
		if err != nil {
			return 0, err
		}
		ns, err := nanos(out)
		return ns / 1e3, err
	})
	if err != nil {
		return err
	}
	py := r.baseline(ctx, "segment-create", "-n", fmt.Sprint(n))
	r.table.add(row{name: "segment create+attach+unlink, 4 KiB", unit: micros, ours: median(samples), python: py.median("segment-create"), target: &target{50}})
	r.table.note("segment-create: a guest loops create (the parent sizes and seals a memfd and passes it over the worker's descriptor socket; the request and the answer travel on the worker's streams), "+
		"map over a window of its memory, write a byte, unmap, unlink, close; %d cycles, µs per cycle. "+
		"Python: the parent creates a SharedMemory, a child attaches by name and writes a byte (a Pipe round trip), the parent unlinks.", n)
	return nil
}

// atomicAdd: guests in both workers add 1 to one shared word.
func (r *runner) atomicAdd(ctx context.Context) error {
	n := 1_000_000
	if r.cfg.Quick {
		n = 100_000
	}
	var samples [2][]float64
	for i, module := range [][]byte{modules.Shmem, modules.CGuest} {
		p, err := pool.New(ctx, pool.Config{Module: module, Workers: 2, CacheDir: r.warmDir, Output: func(pool.Output) {}})
		if err != nil {
			return err
		}
		samples[i], err = repeat(ctx, r.sizes.runs, func() (float64, error) { return countPair(ctx, p, n) })
		p.Close()
		if err != nil {
			return err
		}
	}
	py := r.baseline(ctx, "atomic-add", "-n", fmt.Sprint(n/10))
	r.table.add(row{name: "atomic add, Go guests in 2 workers", unit: micros, ours: median(samples[0]), python: py.median("atomic-add")})
	r.table.add(row{name: "atomic add, C guests (wasm atomics)", unit: micros, ours: median(samples[1]), python: py.median("atomic-add")})
	r.table.note("atomic-add: two guests on different workers each add 1 to one uint64 of a segment %d times: Go guests through the atomic_add host call, "+
		"C guests (modules/cguest) with a wasm i64.atomic.rmw.add on their mapped window; "+
		"µs per add seen by each, and the counter ends exact (checked). Python has no shared atomics: a multiprocessing.Value('q') "+
		"incremented under its lock by two processes, %d times each.", n, n/10)
	return nil
}

// countPair runs the module's count process in both workers of p, n adds
// each on one fresh segment word, checks the count and returns µs per add.
func countPair(ctx context.Context, p *pool.Pool, n int) (float64, error) {
	s, err := p.CreateSharedMemory("", 8)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	defer s.Unlink()
	count := func() *pool.Process { return p.Process("count", []byte(s.Name()), []byte(strconv.Itoa(n))) }
	outs, err := pair(ctx, p, count, count)
	if err != nil {
		return 0, err
	}
	if got := binary.LittleEndian.Uint64(s.Bytes()); got%uint64(2*n) != 0 {
		return 0, fmt.Errorf("counter %d, want a multiple of %d", got, 2*n)
	}
	a, _ := nanos(outs[0])
	b, _ := nanos(outs[1])
	return (a + b) / 2 / 1e3, nil
}
