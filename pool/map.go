package pool

import (
	"context"
	"errors"
	"iter"
	"sync"

	"github.com/wasmpool/wasmpool/abi"
)

// MapOption adjusts one Map or MapUnordered call.
type MapOption func(*mapOptions)

type mapOptions struct {
	chunkSize int
	inFlight  int
}

// ChunkSize sets how many items go to the guest in one call. Map's
// default is guided: each chunk takes the items not yet chunked divided by
// twice the workers, but no more than the items divided by four times the
// workers (Python's chunk size) and no fewer than the items divided by
// sixty-four times the workers, so that the last chunks are small and the
// tail of uneven work balances; and a default chunk holds at most
// DefaultChunkBytes of input, since chunks that outgrow the CPU caches
// cost more per item (see RATIONALE.md). A ChunkSize of n is kept to
// exactly, up to half of Config.MaxMessageSize in bytes. For MapUnordered it is 1.
//
// With ChunkSize(1) every item is a guest call of its own, on a list of
// that one item: an item that traps, exits or panics fails alone, and the
// next item runs on a fresh instance. While a worker's calls take a few
// microseconds, the pool sends it several such calls in one message (as
// many as fit in 100 µs, up to 16; none with Config.MaxTasksPerWorker)
// and it answers their items every 100 µs or so, which costs both
// processes less per item. A worker that dies holding them has the items
// it had not answered retried one call each (each charged an attempt, as
// a chunk's items are). See RATIONALE.md, "Why are calls of one item
// merged on their way to a worker?".
func ChunkSize(n int) MapOption { return func(o *mapOptions) { o.chunkSize = n } }

// InFlight bounds how many items MapUnordered has submitted and not yet
// yielded; reading inputs pauses at the bound. The default is four chunks
// per worker.
func InFlight(n int) MapOption { return func(o *mapOptions) { o.inFlight = n } }

// Map calls task function fn on every input and returns the outputs in
// input order. Items travel in chunks, many to one guest call. ctx bounds
// the whole map as it bounds Submit.
//
// If an item fails, Map stops sending chunks that have not started and
// returns an *ItemError for the failed item with the lowest index (its Err
// is the item's error, as Submit would report it); outputs of items that
// succeeded are still filled in. The outputs belong to the caller.
func (p *Pool) Map(ctx context.Context, fn string, inputs [][]byte, opts ...MapOption) ([][]byte, error) {
	if err := p.checkFunction(fn, false); err != nil {
		return nil, err
	}
	o := mapOptions{}
	for _, opt := range opts {
		opt(&o)
	}
	size, limit := func(int) int { return o.chunkSize }, p.cfg.MaxMessageSize/2
	if o.chunkSize <= 0 {
		size, limit = guided(len(inputs), p.cfg.Workers), min(limit, DefaultChunkBytes)
	}
	out := make([][]byte, len(inputs))
	m := &mapRun{fn: fn, out: out, firstErr: len(inputs), done: make(chan struct{})}
	chunks := chunkInputs(inputs, size, limit)
	m.remaining = len(chunks)
	if m.remaining == 0 {
		return out, nil
	}
	tasks := make([]*task, len(chunks))
	for i, c := range chunks {
		start, n := c.start, c.n
		t := &task{kind: abi.CallBatch, fn: fn, retries: p.cfg.Retries, input: c.input}
		t.done = func(res []byte, err error, _ *workerProc) { m.chunkDone(start, n, res, err, tasks) }
		if n == 1 {
			t.mergeKey = m
		}
		tasks[i] = t
	}
	for _, t := range tasks {
		p.enqueue(ctx, t)
	}
	<-m.done
	if m.err != nil {
		return out, m.err
	}
	return out, nil
}

type chunk struct {
	start, n int
	input    []byte
}

// guided returns Map's default chunk size for n items on workers workers,
// as a function of the items not yet chunked: that remainder over twice
// the workers, between n over sixty-four and n over four times the
// workers, rounded up.
func guided(n, workers int) func(remaining int) int {
	least, most := ceilDiv(n, 64*workers), ceilDiv(n, 4*workers)
	return func(remaining int) int { return min(most, max(least, ceilDiv(remaining, 2*workers))) }
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// DefaultChunkBytes bounds the input bytes of a chunk that Map sizes
// itself (an abi.List of the items, 4 bytes a length each). Measured with
// 8-byte items on two workers: a bound of 64 KiB ran at 5.9–6.0 M items/s,
// 128 KiB at 5.6, 256 KiB at 5.2, and Python's chunks (125 000 items, 1.5
// MB) at 3.3–4.1 M/s.
const DefaultChunkBytes = 64 << 10

// chunkInputs splits inputs into abi.List chunks of at most size(items
// left) items and at most limit bytes (a larger item goes alone). Map
// passes half the message limit or less, so that outputs of a similar
// size fit too.
func chunkInputs(inputs [][]byte, size func(remaining int) int, limit int) []chunk {
	var chunks []chunk
	for start := 0; start < len(inputs); {
		size := size(len(inputs) - start)
		n, bytes := 0, 4
		for start+n < len(inputs) && n < size {
			item := 4 + len(inputs[start+n])
			if n > 0 && bytes+item > limit {
				break
			}
			bytes += item
			n++
		}
		items := inputs[start : start+n]
		chunks = append(chunks, chunk{start: start, n: n, input: abi.AppendList(make([]byte, 0, abi.ListSize(items)), items)})
		start += n
	}
	return chunks
}

// mapRun collects the chunks of one Map.
type mapRun struct {
	fn        string
	out       [][]byte
	done      chan struct{}
	mu        sync.Mutex
	remaining int
	firstErr  int // index of the earliest failed item
	err       error
	abandoned bool
}

func (m *mapRun) chunkDone(start, n int, res []byte, err error, tasks []*task) {
	var results []abi.Result
	if err == nil {
		results, err = abi.ParseResults(res, n)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	fail := func(i int, err error) {
		if i < m.firstErr {
			m.firstErr, m.err = i, &ItemError{Index: i, Err: err}
		}
	}
	if err != nil {
		if !errors.Is(err, errAbandoned) {
			fail(start, err)
		}
	} else {
		for j, r := range results {
			if e := resultError(m.fn, r); e != nil {
				fail(start+j, e)
				continue
			}
			m.out[start+j] = r.Payload
		}
	}
	if m.err != nil && !m.abandoned {
		m.abandoned = true
		go abandon(tasks)
	}
	m.remaining--
	if m.remaining == 0 {
		close(m.done)
	}
}

// errAbandoned finishes a queued chunk that its Map no longer needs.
var errAbandoned = errors.New("pool: abandoned")

// abandon finishes the tasks that are still queued; running ones go on.
func abandon(tasks []*task) {
	for _, t := range tasks {
		t.mu.Lock()
		queued := t.state == stateQueued
		t.mu.Unlock()
		if queued {
			t.finish(nil, errAbandoned)
		}
	}
}

// Result is one item's outcome from MapUnordered.
type Result struct {
	// Index is the item's position in the input sequence.
	Index int
	// Output is the item's output; it belongs to the caller.
	Output []byte
	// Err is the item's error, as Submit would report it.
	Err error
}

// MapUnordered calls task function fn on every item of inputs and yields
// each outcome as soon as it is ready, in any order. It reads inputs as
// it goes, keeping at most InFlight items submitted and not yet yielded, so
// inputs may be endless. ctx bounds the whole run as it bounds Submit;
// items not run when ctx ends yield its error.
//
// Stopping the iteration early drops the items not yet started; items that
// are running finish and their outputs are discarded.
func (p *Pool) MapUnordered(ctx context.Context, fn string, inputs iter.Seq[[]byte], opts ...MapOption) iter.Seq[Result] {
	o := mapOptions{chunkSize: 1}
	for _, opt := range opts {
		opt(&o)
	}
	o.chunkSize = max(o.chunkSize, 1)
	if o.inFlight <= 0 {
		o.inFlight = 4 * p.cfg.Workers * o.chunkSize
	}
	maxChunks := max(1, o.inFlight/o.chunkSize)
	return func(yield func(Result) bool) {
		if err := p.checkFunction(fn, false); err != nil {
			yield(Result{Index: -1, Err: err})
			return
		}
		type chunkResult struct {
			start, n int
			res      []byte
			err      error
		}
		results := make(chan chunkResult, maxChunks)
		room := make(chan struct{}, maxChunks)
		stop := make(chan struct{})
		var (
			mu          sync.Mutex
			outstanding = map[*task]bool{}
			total       = -1 // chunks submitted, once inputs are exhausted
		)
		produced := make(chan int, 1)
		submit := func(start int, items [][]byte) bool {
			select {
			case room <- struct{}{}:
			case <-stop:
				return false
			case <-ctx.Done():
				return false
			}
			t := &task{kind: abi.CallBatch, fn: fn, retries: p.cfg.Retries, input: abi.AppendList(nil, items)}
			n := len(items)
			if n == 1 {
				t.mergeKey = results
			}
			t.done = func(res []byte, err error, _ *workerProc) {
				mu.Lock()
				delete(outstanding, t)
				mu.Unlock()
				results <- chunkResult{start, n, res, err}
			}
			mu.Lock()
			outstanding[t] = true
			mu.Unlock()
			p.enqueue(ctx, t)
			return true
		}
		go func() {
			chunks, index := 0, 0
			var pending [][]byte
			start := 0
			for in := range inputs {
				pending = append(pending, append([]byte(nil), in...))
				index++
				if len(pending) == o.chunkSize {
					if !submit(start, pending) {
						produced <- chunks
						return
					}
					chunks++
					start, pending = index, nil
				}
			}
			if len(pending) > 0 && submit(start, pending) {
				chunks++
			}
			produced <- chunks
		}()
		defer func() {
			close(stop)
			mu.Lock()
			ts := make([]*task, 0, len(outstanding))
			for t := range outstanding {
				ts = append(ts, t)
			}
			mu.Unlock()
			abandon(ts)
		}()
		received := 0
		for total < 0 || received < total {
			var cr chunkResult
			select {
			case total = <-produced:
				continue
			case cr = <-results:
			}
			received++
			<-room
			var rs []abi.Result
			err := cr.err
			if err == nil {
				rs, err = abi.ParseResults(cr.res, cr.n)
			}
			for j := range cr.n {
				r := Result{Index: cr.start + j, Err: err}
				if err == nil {
					r.Err = resultError(fn, rs[j])
					if r.Err == nil {
						r.Output = rs[j].Payload
					}
				}
				if !yield(r) {
					return
				}
			}
		}
	}
}
