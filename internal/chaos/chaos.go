// Package chaos is the fault-injection workload behind `wasmpool soak` and
// TestChaos: while Map, Submit, guest→parent queue traffic and
// parent↔guest pipe traffic run on a pool of the bundled example modules,
// worker processes are SIGKILLed at random. Run checks the promises of
// RELIABILITY.md: every task ends done or with a typed error, no queue
// message is lost, duplicated or torn, a pipe whose peer died reads EOF,
// nothing waits past a bound, and no worker outlives Close.
package chaos

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wasmpool/wasmpool/internal/leakcheck"
	"github.com/wasmpool/wasmpool/modules"
	"github.com/wasmpool/wasmpool/pool"
)

// Config configures Run. The zero value runs 4 s of faults on two workers
// with no retries.
type Config struct {
	// Duration is how long faults are injected; 0 means 4 s.
	Duration time.Duration
	// Workers is pool.Config.Workers; 0 means 2.
	Workers int
	// Retries is pool.Config.Retries: with retries, tasks on a killed
	// worker mostly end done; without, they end with *pool.WorkerExitError.
	Retries int
	// Bound is how long any one operation may take, faults or not,
	// before Run calls it a hang; 0 means 30 s.
	Bound time.Duration
	// CacheDir is pool.Config.CacheDir.
	CacheDir string
}

// producerItems is how many numbers each producer guest puts.
const producerItems = 300

// Report is what one Run saw: RELIABILITY.md's figures.
type Report struct {
	Duration time.Duration
	Workers  int
	Retries  int
	// Kills is how many workers were SIGKILLed; LongestRecovery the
	// longest time from a kill to its slot's new worker answering.
	Kills           int64
	LongestRecovery time.Duration
	// Map items sent, items returned correct, and Maps that failed with a
	// typed error.
	MapItems, MapDone, MapFailed int64
	// Submits, done with the right output, and failed with a typed error;
	// Submits - SubmitDone - SubmitFailed is the count of lost tasks.
	Submits, SubmitDone, SubmitFailed int64
	// Messages the parent got from producer guests; Producers started,
	// ProducersKilled of them mid-run; ProducersDone ran to the end and
	// every message of theirs was there.
	Messages, Producers, ProducersKilled, ProducersDone int64
	// PipeRounds answered correctly; PipeEOFs, rounds that found the
	// peer's worker dead.
	PipeRounds, PipeEOFs int64
	// Violations are broken promises, at most 64 (see Run).
	Violations []string
}

// Lost is the number of tasks neither done nor failed with a typed error.
func (r *Report) Lost() int64 { return r.Submits - r.SubmitDone - r.SubmitFailed }

// String is the report in one paragraph.
func (r *Report) String() string {
	return fmt.Sprintf("chaos %v, %d workers, retries %d: %d workers killed, longest recovery %v; "+
		"Map %d items, %d done, %d maps failed typed; Submit %d, %d done, %d failed typed, %d lost; "+
		"queue %d messages from %d producers (%d killed mid-run, %d complete), 0 lost, 0 duplicated; "+
		"pipe %d round trips, %d EOFs on a dead peer; %d violations",
		r.Duration, r.Workers, r.Retries, r.Kills, r.LongestRecovery.Round(time.Millisecond),
		r.MapItems, r.MapDone, r.MapFailed, r.Submits, r.SubmitDone, r.SubmitFailed, r.Lost(),
		r.Messages, r.Producers, r.ProducersKilled, r.ProducersDone, r.PipeRounds, r.PipeEOFs, len(r.Violations))
}

// ErrViolated is returned, wrapped with the first violation, by a Run that
// saw a broken promise; the Report lists them all.
var ErrViolated = errors.New("chaos: promise broken")

// run is the state of one Run.
type run struct {
	cfg Config
	p   *pool.Pool
	ctx context.Context // ends when faults stop

	mu         sync.Mutex
	violations []string
	seen       map[int]bool // every worker pid seen, to check none outlives Close

	kills, longestRecovery               atomic.Int64
	mapItems, mapDone, mapFailed         atomic.Int64
	submits, submitDone, submitFailed    atomic.Int64
	producers, producersKilled, exitedOK atomic.Int64
	pipeRounds, pipeEOFs                 atomic.Int64
}

func (r *run) violate(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.violations) < 64 {
		r.violations = append(r.violations, fmt.Sprintf(format, args...))
	}
}

func (r *run) notePIDs() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, pid := range r.p.PIDs() {
		if pid != 0 {
			r.seen[pid] = true
		}
	}
}

// Run starts a pool of modules.Bench (with modules.IPC as "ipc"), runs the
// workload and the killer for cfg.Duration or until ctx ends, drains and
// closes the pool, and reports. It returns an error wrapping ErrViolated
// if a promise was broken, or the error that kept it from running.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Duration <= 0 {
		cfg.Duration = 4 * time.Second
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.Bound <= 0 {
		cfg.Bound = 30 * time.Second
	}
	p, err := pool.New(ctx, pool.Config{
		Module: modules.Bench, Modules: map[string][]byte{"ipc": modules.IPC},
		Workers: cfg.Workers, Retries: cfg.Retries, CacheDir: cfg.CacheDir,
		Output: func(pool.Output) {},
	})
	if err != nil {
		return nil, err
	}
	defer p.Close()
	q, err := p.NewQueue("", pool.QueueConfig{MaxBytes: 1 << 14})
	if err != nil {
		return nil, err
	}
	faults, stop := context.WithTimeout(ctx, cfg.Duration)
	defer stop()
	r := &run{cfg: cfg, p: p, ctx: faults, seen: map[int]bool{}}
	r.notePIDs()

	consumed := make(chan queueTally, 1)
	go func() { consumed <- r.consume(q) }()
	var wg sync.WaitGroup
	wg.Go(r.maps)
	for range 4 {
		wg.Go(r.submitLoop)
	}
	wg.Go(func() { r.produce(q) })
	wg.Go(r.pipes)
	wg.Go(r.killer)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(cfg.Duration + 2*cfg.Bound):
		r.violate("the workload did not finish within %v of the end of faults: something hangs", 2*cfg.Bound)
		return r.report(queueTally{}), r.err()
	}
	// Every producer's messages up to its last Put are in the queue.
	if err := q.Close(); err != nil {
		r.violate("closing the queue: %v", err)
	}
	var tally queueTally
	select {
	case tally = <-consumed:
	case <-time.After(cfg.Bound):
		r.violate("the consumer did not drain the queue within %v", cfg.Bound)
	}
	if tally.complete < r.exitedOK.Load() {
		r.violate("queue: %d producers exited 0 but only %d delivered all %d messages and the sentinel",
			r.exitedOK.Load(), tally.complete, producerItems)
	}
	r.notePIDs()
	if err := p.Close(); err != nil {
		r.violate("Close: %v", err)
	}
	for pid := range r.seen {
		if leakcheck.Alive(pid) {
			r.violate("worker %d outlived Close", pid)
		}
	}
	if r.kills.Load() == 0 && ctx.Err() == nil {
		r.violate("no worker was killed: no faults were injected")
	}
	if lost := r.submits.Load() - r.submitDone.Load() - r.submitFailed.Load(); lost != 0 {
		r.violate("%d Submits neither done nor failed", lost)
	}
	return r.report(tally), r.err()
}

func (r *run) report(t queueTally) *Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	return &Report{
		Duration: r.cfg.Duration, Workers: r.cfg.Workers, Retries: r.cfg.Retries,
		Kills: r.kills.Load(), LongestRecovery: time.Duration(r.longestRecovery.Load()),
		MapItems: r.mapItems.Load(), MapDone: r.mapDone.Load(), MapFailed: r.mapFailed.Load(),
		Submits: r.submits.Load(), SubmitDone: r.submitDone.Load(), SubmitFailed: r.submitFailed.Load(),
		Messages: t.messages, Producers: r.producers.Load(), ProducersKilled: r.producersKilled.Load(), ProducersDone: t.complete,
		PipeRounds: r.pipeRounds.Load(), PipeEOFs: r.pipeEOFs.Load(),
		Violations: append([]string(nil), r.violations...),
	}
}

func (r *run) err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.violations) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s (and %d more)", ErrViolated, r.violations[0], len(r.violations)-1)
}

// opContext bounds one operation by cfg.Bound.
func (r *run) opContext(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, r.cfg.Bound)
}

// maps runs Maps of "double" over uint64s with random chunk sizes: each
// must return every item doubled, or fail with a typed error.
func (r *run) maps() {
	for r.ctx.Err() == nil {
		n := 200 + rand.IntN(800)
		in := make([][]byte, n)
		for i := range in {
			in[i] = binary.LittleEndian.AppendUint64(nil, uint64(i))
		}
		ctx, cancel := r.opContext(context.Background())
		out, err := r.p.Map(ctx, "double", in, pool.ChunkSize(1+rand.IntN(50)))
		cancel()
		r.mapItems.Add(int64(n))
		var wx *pool.WorkerExitError
		switch {
		case err == nil:
			for i, o := range out {
				if len(o) != 8 || binary.LittleEndian.Uint64(o) != 2*uint64(i) {
					r.violate("map item %d: got %x", i, o)
				}
			}
			r.mapDone.Add(int64(n))
		case errors.As(err, &wx):
			r.mapFailed.Add(1)
		default:
			r.violate("map: untyped error %v", err)
		}
	}
}

// submitLoop submits "echo" four at a time and checks every result.
func (r *run) submitLoop() {
	for r.ctx.Err() == nil {
		fs := make([]*pool.Future, 4)
		for i := range fs {
			fs[i] = r.p.Submit(context.Background(), "echo", []byte("call "+strconv.Itoa(i)))
			r.submits.Add(1)
		}
		for i, f := range fs {
			ctx, cancel := r.opContext(context.Background())
			out, err := f.Wait(ctx)
			cancel()
			var wx *pool.WorkerExitError
			switch {
			case err == nil && string(out) == "call "+strconv.Itoa(i):
				r.submitDone.Add(1)
			case errors.As(err, &wx):
				r.submitFailed.Add(1)
			default:
				r.violate("submit %d: %q, %v", i, out, err)
			}
		}
	}
}

// produce runs "ipc/producer" guests one after another, each putting
// 0..producerItems-1 and a nil sentinel into q, and joins each.
func (r *run) produce(q *pool.Queue) {
	for r.ctx.Err() == nil {
		pr := r.p.Process("ipc/producer", q.Ref(), []byte(strconv.Itoa(producerItems)))
		if err := pr.Start(context.Background()); err != nil {
			r.violate("start producer: %v", err)
			return
		}
		r.producers.Add(1)
		ctx, cancel := r.opContext(context.Background())
		err := pr.Join(ctx)
		cancel()
		switch {
		case err != nil:
			r.violate("producer: join: %v", err)
		case pr.ExitCode() == -int(syscall.SIGKILL):
			r.producersKilled.Add(1)
		case pr.ExitCode() != 0:
			r.violate("producer: exit %d, %v", pr.ExitCode(), pr.Err())
		default:
			r.exitedOK.Add(1)
		}
	}
}

// queueTally is what the consumer counted.
type queueTally struct {
	messages int64
	complete int64 // producers whose every message and sentinel arrived
}

// consume gets from q until it is closed and drained. Producers run one
// at a time, so the messages are runs of 0, 1, 2, ...: a run ends with the
// sentinel after producerItems-1, or is cut short where its producer was
// killed, and the next starts at 0. Anything else is a lost, duplicated or
// torn message.
func (r *run) consume(q *pool.Queue) queueTally {
	var t queueTally
	next := 0
	for {
		v, err := pool.GetValue[*int](context.Background(), q)
		switch {
		case errors.Is(err, pool.ErrQueueClosed), errors.Is(err, pool.ErrClosed):
			return t
		case err != nil:
			r.violate("queue: %v", err)
			continue
		}
		t.messages++
		switch {
		case v == nil && next == producerItems:
			t.complete++
			next = 0
		case v == nil:
			r.violate("queue: sentinel after %d of %d numbers", next, producerItems)
			next = 0
		case *v == next:
			next++
		case *v == 0: // the last producer was killed; a new one began
			next = 1
		default:
			r.violate("queue: %d where %d or 0 was due", *v, next)
			next = *v + 1
		}
	}
}

// pipes runs "ipc/doubler" guests: the parent sends numbers, the guest
// answers each doubled. When its worker dies the parent reads EOF, never
// hangs, and starts a new one.
func (r *run) pipes() {
	for r.ctx.Err() == nil {
		a, b, err := r.p.NewPipe(true, 1<<12)
		if err != nil {
			r.violate("pipe: %v", err)
			return
		}
		r.pipeSession(a, b)
		a.Close()
		b.Close()
	}
}

func (r *run) pipeSession(a, b *pool.Conn) {
	pr := r.p.Process("ipc/doubler", b.Ref())
	if err := pr.Start(context.Background()); err != nil {
		r.violate("start doubler: %v", err)
		return
	}
	// A guest killed before it opened its end never owned it: the
	// parent's handle b keeps it open, so watch the process too.
	gone, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-pr.Done():
			cancel()
		case <-gone.Done():
		}
	}()
	for i := 0; r.ctx.Err() == nil; i++ {
		ctx, cancelOp := r.opContext(gone)
		err := a.Send(ctx, []byte(strconv.Itoa(i)))
		var got []byte
		if err == nil {
			got, err = a.Recv(ctx)
		}
		cancelOp()
		if errors.Is(err, io.EOF) || errors.Is(err, pool.ErrPipeClosed) || gone.Err() != nil {
			r.pipeEOFs.Add(1)
			break
		}
		if err != nil || string(got) != strconv.Itoa(2*i) {
			r.violate("pipe round %d: %q, %v", i, got, err)
			break
		}
		r.pipeRounds.Add(1)
	}
	ctx, cancelOp := r.opContext(gone)
	a.Send(ctx, []byte("stop"))
	cancelOp()
	ctx, cancelOp = r.opContext(context.Background())
	defer cancelOp()
	if err := pr.Join(ctx); err != nil {
		r.violate("doubler join: %v", err)
	}
}

// killer SIGKILLs a random worker every 50–200 ms and times how long its
// slot takes to get a new one.
func (r *run) killer() {
	for r.ctx.Err() == nil {
		time.Sleep(time.Duration(50+rand.IntN(150)) * time.Millisecond)
		pids := r.p.PIDs()
		slot := rand.IntN(len(pids))
		victim := pids[slot]
		if victim == 0 {
			continue
		}
		r.mu.Lock()
		r.seen[victim] = true
		r.mu.Unlock()
		killed := time.Now()
		proc, err := os.FindProcess(victim)
		if err != nil {
			continue
		}
		err = proc.Kill()
		proc.Release()
		if err != nil {
			continue
		}
		r.kills.Add(1)
		for time.Since(killed) < r.cfg.Bound {
			if pid := r.p.PIDs()[slot]; pid != 0 && pid != victim {
				r.notePIDs()
				if d := int64(time.Since(killed)); d > r.longestRecovery.Load() {
					r.longestRecovery.Store(d)
				}
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
}
