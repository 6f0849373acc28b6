//go:build linux

package pool

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wasmpool/wasmpool/abi"
	"github.com/wasmpool/wasmpool/internal/worker/probe"
)

func chunkSizes(cs []chunk) []int {
	var ns []int
	for _, c := range cs {
		ns = append(ns, c.n)
	}
	return ns
}

func TestChunkInputs(t *testing.T) {
	items := func(n, size int) [][]byte {
		in := make([][]byte, n)
		for i := range in {
			in[i] = bytes.Repeat([]byte{byte(i)}, size)
		}
		return in
	}
	fixed := func(n int) func(int) int { return func(int) int { return n } }
	for name, tc := range map[string]struct {
		inputs [][]byte
		size   func(int) int
		limit  int
		want   []int
	}{
		// 64 ranges on two workers: never above 64/8, shrinking to 64/32 at the tail.
		"guided, 2 workers": {items(64, 16), guided(64, 2), 1 << 20, []int{8, 8, 8, 8, 8, 6, 5, 4, 3, 2, 1, 1, 1, 1}},
		"guided, 1 worker":  {items(10, 1), guided(10, 1), 1 << 20, []int{3, 3, 2, 1, 1}},
		"guided, one item":  {items(1, 1), guided(1, 8), 1 << 20, []int{1}},
		"fixed":             {items(10, 1), fixed(4), 1 << 20, []int{4, 4, 2}},
		// A List is 4 bytes of count, then 4 of length per item: 4+3*(4+8) = 40.
		"byte limit":          {items(7, 8), fixed(100), 40, []int{3, 3, 1}},
		"item over the limit": {[][]byte{make([]byte, 100), {1}, make([]byte, 100)}, fixed(10), 40, []int{1, 1, 1}},
		"none":                {nil, fixed(3), 40, nil},
	} {
		t.Run(name, func(t *testing.T) {
			cs := chunkInputs(tc.inputs, tc.size, tc.limit)
			require.Equal(t, tc.want, chunkSizes(cs))
			var got [][]byte
			for i, c := range cs {
				require.Equal(t, len(got), c.start, "chunk %d starts where the last ended", i)
				if len(cs) > 1 && c.n > 1 {
					require.LessOrEqual(t, len(c.input), tc.limit, "chunk %d within the byte limit", i)
				}
				parsed, err := abi.ParseList(c.input, c.n)
				require.NoError(t, err)
				got = append(got, parsed...)
			}
			require.True(t, slices.EqualFunc(tc.inputs, got, bytes.Equal), "chunks hold every item in order")
		})
	}
}

// warmMerge has p's workers merge one-item calls however slow the
// machine (the race detector, a loaded CI runner) makes them, runs enough
// of them that they do, and fails the test if they do not.
func warmMerge(t *testing.T, p *Pool) {
	t.Helper()
	p.mergeWithin = time.Hour
	inputs := make([][]byte, 4000)
	for i := range inputs {
		inputs[i] = []byte("x")
	}
	before := p.merged.Load()
	_, err := p.Map(context.Background(), "echo", inputs, ChunkSize(1))
	require.NoError(t, err)
	require.Greater(t, p.merged.Load(), before, "quick one-item calls were merged")
}

// afterMerges calls f once p has sent more than n merged calls, or
// after a minute (the test then fails on its own).
func afterMerges(p *Pool, n int64, f func()) {
	go func() {
		for end := time.Now().Add(time.Minute); p.merged.Load() <= n && time.Now().Before(end); {
			time.Sleep(time.Millisecond)
		}
		f()
	}()
}

// TestMap_mergedItemsFailAlone: one-item calls merged on their way to a
// worker still run as a guest call each: an item that traps, exits or
// panics fails alone, with the error it would have had sent by itself,
// and the items beside it in the same merged call succeed.
func TestMap_mergedItemsFailAlone(t *testing.T) {
	p := newTestPool(t, Config{})
	warmMerge(t, p)
	inputs := make([][]byte, 3000)
	for i := range inputs {
		switch {
		case i%97 == 50:
			inputs[i] = []byte("trap")
		case i%89 == 40:
			inputs[i] = []byte("exit")
		case i%83 == 30:
			inputs[i] = []byte("panic")
		default:
			inputs[i] = []byte(strconv.Itoa(i))
		}
	}
	before := p.merged.Load()
	seen := 0
	for r := range p.MapUnordered(context.Background(), "maybe", slices.Values(inputs)) {
		seen++
		var (
			trap *TrapError
			exit *GuestExitError
			task *TaskError
		)
		switch in := string(inputs[r.Index]); in {
		case "trap":
			require.ErrorAs(t, r.Err, &trap, "item %d", r.Index)
		case "exit":
			require.ErrorAs(t, r.Err, &exit, "item %d", r.Index)
			require.Equal(t, uint32(3), exit.Code)
		case "panic":
			require.ErrorAs(t, r.Err, &task, "item %d", r.Index)
			require.Contains(t, task.Message, "panicked on purpose")
		default:
			require.NoError(t, r.Err, "item %d", r.Index)
			require.Equal(t, in, string(r.Output))
		}
	}
	require.Equal(t, len(inputs), seen)
	require.Greater(t, p.merged.Load(), before, "the calls were merged")

	// Map reports the first failed item itself, not the start of a chunk.
	out, err := p.Map(context.Background(), "maybe", inputs, ChunkSize(1))
	var ie *ItemError
	require.ErrorAs(t, err, &ie)
	require.Equal(t, 30, ie.Index)
	for i := range 30 {
		require.Equal(t, inputs[i], out[i], "item %d", i)
	}
}

// TestMap_mergedItemsLog: output from items of a merged call names each
// item's own call.
func TestMap_mergedItemsLog(t *testing.T) {
	var (
		mu  sync.Mutex
		ids = map[uint64]string{}
	)
	p := newTestPool(t, Config{Output: func(o Output) {
		if o.Stream == Stdout {
			mu.Lock()
			ids[o.CallID] = string(o.Data)
			mu.Unlock()
		}
	}})
	warmMerge(t, p)
	inputs := make([][]byte, 2000)
	for i := range inputs {
		inputs[i] = []byte(strconv.Itoa(i))
	}
	before := p.merged.Load()
	_, err := p.Map(context.Background(), "print", inputs, ChunkSize(1))
	require.NoError(t, err)
	require.Greater(t, p.merged.Load(), before, "the calls were merged")
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, ids, len(inputs), "one call ID per item")
	// Items get their IDs in input order: in ID order, the lines must
	// count up, each item's output under its own ID.
	order := slices.Sorted(maps.Keys(ids))
	for i, id := range order {
		require.Equal(t, fmt.Sprintf("out: %d\n", i), ids[id], "call %d", id)
	}
}

// TestMap_mergedSlowCallsAlone: calls that take fastCall or more are not
// merged.
func TestMap_mergedSlowCallsAlone(t *testing.T) {
	p := newTestPool(t, Config{})
	inputs := make([][]byte, 40)
	for i := range inputs {
		inputs[i] = []byte("2") // milliseconds
	}
	_, err := p.Map(context.Background(), "spin", inputs, ChunkSize(1))
	require.NoError(t, err)
	require.Zero(t, p.merged.Load())
}

// TestMap_mergedWorkerKilled kills a worker while it runs a merged call
// (items of a millisecond, merged however long they take): without
// retries its unanswered items fail with *WorkerExitError, with retries
// they run again, one call each, and Map completes; either way nothing
// is lost.
func TestMap_mergedWorkerKilled(t *testing.T) {
	inputs := make([][]byte, 400)
	for i := range inputs {
		inputs[i] = []byte("1") // milliseconds
	}
	for _, retries := range []int{0, 2} {
		t.Run(fmt.Sprintf("retries=%d", retries), func(t *testing.T) {
			p := newTestPool(t, Config{Retries: retries})
			warmMerge(t, p)
			victim := p.PIDs()[0]
			before := p.merged.Load()
			afterMerges(p, before+2, func() { syscall.Kill(victim, syscall.SIGKILL) })
			out, err := p.Map(context.Background(), "spin", inputs, ChunkSize(1))
			require.Greater(t, p.merged.Load(), before, "the calls were merged")
			if retries == 0 {
				var we *WorkerExitError
				require.ErrorAs(t, err, &we)
				require.Equal(t, victim, we.PID)
				return
			}
			require.NoError(t, err)
			require.Equal(t, inputs, out)
		})
	}
}

// TestMap_mergedCancel: a Map whose context ends while its calls are
// merged returns the context's error, and the pool serves the next call.
func TestMap_mergedCancel(t *testing.T) {
	p := newTestPool(t, Config{})
	warmMerge(t, p)
	inputs := make([][]byte, 200_000)
	for i := range inputs {
		inputs[i] = []byte("x")
	}
	before := p.merged.Load()
	ctx, cancel := context.WithCancel(context.Background())
	afterMerges(p, before+10, cancel)
	_, err := p.Map(ctx, "echo", inputs, ChunkSize(1))
	require.ErrorIs(t, err, context.Canceled)
	require.Greater(t, p.merged.Load(), before, "the calls were merged")
	out, err := p.Call(context.Background(), "upper", []byte("a"))
	require.NoError(t, err)
	require.Equal(t, "A", string(out))
}

// TestMap_mergedWithinMessageSize: merged calls keep their inputs within
// Config.MaxMessageSize, as any call does.
func TestMap_mergedWithinMessageSize(t *testing.T) {
	p := newTestPool(t, Config{MaxMessageSize: 1024})
	warmMerge(t, p)
	inputs := make([][]byte, 5000)
	for i := range inputs {
		inputs[i] = bytes.Repeat([]byte{byte(i)}, 300)
	}
	before := p.merged.Load()
	out, err := p.Map(context.Background(), "echo", inputs, ChunkSize(1))
	require.NoError(t, err)
	require.Equal(t, inputs, out)
	require.Greater(t, p.merged.Load(), before, "the calls were merged")
}

// TestMap_mergedItemKillsWorker: an item that gets its worker killed (it
// passes WorkerMemoryLimit) fails alone: the items merged with it are
// retried one call each, and only the culprit runs out of retries.
func TestMap_mergedItemKillsWorker(t *testing.T) {
	p := newTestPool(t, Config{WorkerMemoryLimit: 150 << 20, Retries: 1})
	warmMerge(t, p)
	inputs := make([][]byte, 400)
	for i := range inputs {
		inputs[i] = []byte(strconv.Itoa(i))
	}
	inputs[200] = []byte("hog")
	before := p.merged.Load()
	var culprit error
	for r := range p.MapUnordered(context.Background(), "maybe", slices.Values(inputs)) {
		if r.Index == 200 {
			culprit = r.Err
			continue
		}
		require.NoError(t, r.Err, "item %d", r.Index)
		require.Equal(t, inputs[r.Index], r.Output)
	}
	require.Greater(t, p.merged.Load(), before, "the calls were merged")
	var we *WorkerExitError
	require.ErrorAs(t, culprit, &we)
	require.Contains(t, we.Reason, "WorkerMemoryLimit")
	require.Equal(t, 2, we.Attempts)
}

// TestTakeMerge: takeMerge takes calls of one key from the front of the
// queue only, within its count and byte budget, and leaves the calls it
// is told to.
func TestTakeMerge(t *testing.T) {
	a, b := new(int), new(int)
	call := func(key any, size int) *task { return &task{mergeKey: key, input: make([]byte, size)} }
	var q taskQueue
	q.push(call(a, 10), call(a, 10), call(a, 10), call(b, 10), call(a, 10))
	require.Len(t, q.takeMerge(a, 8, 25, 0), 2, "the byte budget")
	require.Len(t, q.takeMerge(a, 8, 100, 0), 1, "a call of another key stops it")
	require.Empty(t, q.takeMerge(a, 8, 100, 0), "another key at the front")
	q.pop(nil, nil, func() int { return 1 }, func(*task) bool { return true })
	require.Empty(t, q.takeMerge(a, 8, 100, 1), "the call left for a worker")
	require.Len(t, q.takeMerge(a, 8, 100, 0), 1)
	q.push(call(a, 1), call(a, 1), call(a, 1))
	require.Len(t, q.takeMerge(a, 2, 100, 0), 2, "the count")
}

// TestMap_mergedOutOfTurn: a worker that answers a merged call's items
// out of turn, or ends it before answering them all, broke the protocol:
// it is killed, and the items it held fail with a *WorkerExitError that
// says so (or go back to the queue) instead of hanging.
func TestMap_mergedOutOfTurn(t *testing.T) {
	for _, tc := range []struct{ probe, reason string }{
		{probe.SkipItem, "out of turn"},
		{probe.EarlyResult, "answered after 0 of its"},
	} {
		t.Run(tc.probe, func(t *testing.T) {
			t.Setenv(probe.Env, tc.probe)
			p := newTestPool(t, Config{})
			p.mergeWithin = time.Hour
			inputs := make([][]byte, 2000)
			for i := range inputs {
				inputs[i] = []byte("x")
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, err := p.Map(ctx, "echo", inputs, ChunkSize(1))
			var we *WorkerExitError
			require.ErrorAs(t, err, &we)
			require.Contains(t, we.Reason, "broke the control protocol")
			require.Contains(t, we.Reason, tc.reason)
		})
	}
}
