package pool

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// chaosDuration is how long TestChaos injects faults: 4 s by default,
// WASMPOOL_CHAOS (a Go duration) for soak runs.
func chaosDuration(t *testing.T) time.Duration {
	if s := os.Getenv("WASMPOOL_CHAOS"); s != "" {
		d, err := time.ParseDuration(s)
		require.NoError(t, err)
		return d
	}
	if testing.Short() {
		return time.Second
	}
	return 4 * time.Second
}

// chaosBound is how long any single operation may take, faults or not,
// before the test calls it a hang.
const chaosBound = 30 * time.Second

// chaosStats are the figures TestChaos reports (RELIABILITY.md).
type chaosStats struct {
	kills                           atomic.Int64
	mapItems, mapDone, mapFailed    atomic.Int64
	submits, submitDone, submitFail atomic.Int64
	produced, producersKilled       atomic.Int64
	pipeRounds, pipeEOFs            atomic.Int64 // EOFs: the echo's worker died
	longestRecovery                 atomic.Int64 // ns from a kill to the slot's new worker
}

// TestChaos: while Map, Submit, guest→parent queue traffic and
// parent↔guest pipe traffic run, workers are SIGKILLed at random. Every
// task ends done or with a typed error, no queue message is lost,
// duplicated or torn, a pipe whose peer died reads EOF, nothing waits past
// chaosBound, and Close leaves no process behind (TestMain checks
// goroutines and descriptors).
func TestChaos(t *testing.T) {
	for _, retries := range []int{3, 0} {
		t.Run("retries="+strconv.Itoa(retries), func(t *testing.T) { runChaos(t, retries) })
	}
}

func runChaos(t *testing.T, retries int) {
	p := newTestPool(t, Config{Workers: 2, Retries: retries})
	var st chaosStats
	ctx, stop := context.WithTimeout(context.Background(), chaosDuration(t))
	defer stop()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	fail := func(format string, args ...any) {
		select {
		case errs <- fmt.Errorf(format, args...):
		default:
		}
	}
	seen := sync.Map{} // every worker pid seen, to check none outlives Close
	notePIDs := func() {
		for _, pid := range p.PIDs() {
			if pid != 0 {
				seen.Store(pid, true)
			}
		}
	}
	notePIDs()

	// Map: items are uint64s; "double" must return each doubled, or the
	// Map fails with a typed error.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			n := 200 + rand.IntN(800)
			in := make([][]byte, n)
			for i := range in {
				in[i] = binary.LittleEndian.AppendUint64(nil, uint64(i))
			}
			opCtx, cancel := context.WithTimeout(context.Background(), chaosBound)
			out, err := p.Map(opCtx, "double", in, ChunkSize(1+rand.IntN(50)))
			cancel()
			st.mapItems.Add(int64(n))
			var wx *WorkerExitError
			switch {
			case err == nil:
				for i, o := range out {
					if binary.LittleEndian.Uint64(o) != 2*uint64(i) {
						fail("map item %d: got %x", i, o)
					}
				}
				st.mapDone.Add(int64(n))
			case errors.As(err, &wx):
				st.mapFailed.Add(1)
			default:
				fail("map: untyped error %v", err)
			}
		}
	}()

	// Submit: 16 at a time.
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				fs := make([]*Future, 4)
				for i := range fs {
					fs[i] = p.Submit(context.Background(), "upper", []byte("call "+strconv.Itoa(i)))
					st.submits.Add(1)
				}
				for i, f := range fs {
					wctx, cancel := context.WithTimeout(context.Background(), chaosBound)
					out, err := f.Wait(wctx)
					cancel()
					var wx *WorkerExitError
					switch {
					case err == nil && string(out) == "CALL "+strconv.Itoa(i):
						st.submitDone.Add(1)
					case errors.As(err, &wx):
						st.submitFail.Add(1)
					default:
						fail("submit %d: %q, %v", i, out, err)
					}
				}
			}
		}()
	}

	// Queue: producer guests put "id:0".."id:n-1"; the parent gets them
	// and checks each producer's sequence has no gap, duplicate or torn
	// message, whenever its worker dies.
	q, err := p.NewQueue("", QueueConfig{MaxBytes: 1 << 14})
	require.NoError(t, err)
	next := map[string]int{}
	var nextMu sync.Mutex
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		for {
			msg, err := q.Get(context.Background())
			if err != nil {
				return // closed and drained
			}
			id, seq, ok := strings.Cut(string(msg), ":")
			i, err := strconv.Atoi(seq)
			nextMu.Lock()
			if !ok || err != nil || i != next[id] {
				fail("queue: %q after %s:%d", msg, id, next[id]-1)
			}
			next[id] = i + 1
			nextMu.Unlock()
		}
	}()
	producers := map[string]*Process{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for k := 0; ctx.Err() == nil; k++ {
			id := "p" + strconv.Itoa(k)
			pr := p.Process("produce", q.Ref(), []byte(id), []byte("300"))
			if err := pr.Start(context.Background()); err != nil {
				fail("start producer: %v", err)
				return
			}
			producers[id] = pr
			jctx, cancel := context.WithTimeout(context.Background(), chaosBound)
			err := pr.Join(jctx)
			cancel()
			switch {
			case err != nil:
				fail("producer %s: join: %v", id, err)
			case pr.ExitCode() == -9:
				st.producersKilled.Add(1)
			case pr.ExitCode() != 0:
				fail("producer %s: exit %d, %v", id, pr.ExitCode(), pr.Err())
			}
		}
	}()

	// Pipe: a guest echoes what the parent sends; when its worker dies,
	// the parent's Recv reads EOF (never hangs) and a new echo starts.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			a, b, err := p.NewPipe(true, 1<<12)
			if err != nil {
				fail("pipe: %v", err)
				return
			}
			pr := p.Process("pipe-echo", b.Ref())
			if err := pr.Start(context.Background()); err != nil {
				fail("start echo: %v", err)
				return
			}
			// A guest killed before it opened its end never owned it: the
			// parent's handle b keeps it open, so wait on the process too.
			procCtx, procGone := context.WithCancel(context.Background())
			go func() {
				select {
				case <-pr.Done():
					procGone()
				case <-procCtx.Done():
				}
			}()
			for i := 0; ctx.Err() == nil; i++ {
				msg := []byte("m" + strconv.Itoa(i))
				opCtx, cancel := context.WithTimeout(procCtx, chaosBound)
				err := a.Send(opCtx, msg)
				var got []byte
				if err == nil {
					got, err = a.Recv(opCtx)
				}
				cancel()
				if errors.Is(err, io.EOF) || errors.Is(err, ErrPipeClosed) || procCtx.Err() != nil {
					st.pipeEOFs.Add(1)
					break
				}
				if err != nil || !bytes.Equal(got, msg) {
					fail("pipe round %d: %q, %v", i, got, err)
					break
				}
				st.pipeRounds.Add(1)
			}
			opCtx, cancel := context.WithTimeout(procCtx, chaosBound)
			a.Send(opCtx, []byte("stop"))
			cancel()
			jctx, cancel := context.WithTimeout(context.Background(), chaosBound)
			if err := pr.Join(jctx); err != nil {
				fail("echo join: %v", err)
			}
			cancel()
			procGone()
			a.Close()
			b.Close()
		}
	}()

	// The killer.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			time.Sleep(time.Duration(50+rand.IntN(150)) * time.Millisecond)
			pids := p.PIDs()
			slot := rand.IntN(len(pids))
			victim := pids[slot]
			if victim == 0 {
				continue
			}
			seen.Store(victim, true)
			killed := time.Now()
			if syscall.Kill(victim, syscall.SIGKILL) != nil {
				continue
			}
			st.kills.Add(1)
			for time.Since(killed) < chaosBound {
				if pid := p.PIDs()[slot]; pid != 0 && pid != victim {
					seen.Store(pid, true)
					if d := int64(time.Since(killed)); d > st.longestRecovery.Load() {
						st.longestRecovery.Store(d)
					}
					break
				}
				time.Sleep(time.Millisecond)
			}
		}
	}()

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(chaosDuration(t) + 2*chaosBound):
		t.Fatal("the chaos loops did not finish: something hangs")
	}
	// Drain: every producer's messages up to its last Put are in the
	// queue; a producer that ran to the end delivered all 300.
	require.NoError(t, q.Close())
	select {
	case <-consumed:
	case <-time.After(chaosBound):
		t.Fatal("the consumer did not drain the queue")
	}
	for id, pr := range producers {
		st.produced.Add(int64(next[id]))
		if pr.ExitCode() == 0 {
			require.Equal(t, 300, next[id], "producer %s finished; its messages are all there", id)
		}
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	notePIDs()
	require.NoError(t, p.Close())
	seen.Range(func(k, _ any) bool {
		require.False(t, alive(k.(int)), "worker %d outlived Close", k)
		return true
	})
	require.Positive(t, st.kills.Load(), "faults were injected")
	require.Zero(t, st.submits.Load()-st.submitDone.Load()-st.submitFail.Load(), "every Submit accounted for")
	t.Logf("chaos %v, retries %d: %d workers killed; Map %d items, %d done, %d maps failed typed; Submit %d, %d done, %d failed typed, 0 lost; "+
		"queue %d messages from %d producers (%d killed mid-run), 0 lost, 0 duplicated; pipe %d round trips, %d EOFs on a dead peer; "+
		"longest recovery %v",
		chaosDuration(t), retries, st.kills.Load(), st.mapItems.Load(), st.mapDone.Load(), st.mapFailed.Load(),
		st.submits.Load(), st.submitDone.Load(), st.submitFail.Load(),
		st.produced.Load(), len(producers), st.producersKilled.Load(), st.pipeRounds.Load(), st.pipeEOFs.Load(),
		time.Duration(st.longestRecovery.Load()).Round(time.Millisecond))
}
