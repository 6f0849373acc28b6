package shm

import (
	"fmt"
	"io"
	"sync/atomic"
)

// Region is a stretch of the arena that no table entry names: guests, who
// reach arena objects only through the table, cannot open it. The parent
// reserves regions for its own channels to each worker and tells the
// worker where they are.
type Region struct {
	Off, Size uint64
}

// Reserve allocates a region for a Stream whose ring holds at least ring
// bytes. Like every allocation it lasts until the arena is closed.
func (d *Directory) Reserve(ring int) (Region, error) {
	if ring < MinRing || ring > MaxRing {
		return Region{}, fmt.Errorf("shm: stream ring %d outside %d..%d", ring, MinRing, MaxRing)
	}
	size, _ := QueueSize(ring)
	d.mu.Lock()
	defer d.mu.Unlock()
	off := (d.next + objAlign - 1) &^ (objAlign - 1)
	if off > uint64(len(d.a.mem)) || size > uint64(len(d.a.mem))-off {
		return Region{}, ErrNoSpace
	}
	d.next = off + size
	q, err := queueAt(d.a, off, size)
	if err != nil {
		return Region{}, err
	}
	q.init(uint32(len(q.ring)/4), streamPiece(len(q.ring)))
	return Region{Off: off, Size: size}, nil
}

// StreamSize returns the arena bytes Reserve takes for a ring of ring
// bytes, so that the arena can be sized to hold them.
func StreamSize(ring int) uint64 {
	size, _ := QueueSize(ring)
	return size + objAlign
}

// Stream is a one-way byte stream from one writer to one reader, in
// different processes, over a queue in a reserved Region. Write cuts its
// bytes into messages of at most the queue's largest message; Read hands
// them back in order. A process killed while writing leaves only whole
// messages, so a reader sees a prefix of what was written, never bytes
// that were not.
//
// A Stream is not safe for concurrent use: one goroutine (or a caller
// holding a lock) writes, one reads. Close may be called from anywhere,
// by either side.
type Stream struct {
	q   Queue
	tok Token
	// Spin, if set, says whether a Read that finds the stream empty
	// should spin (go on spinning) before it sleeps; see Wait.SpinWhile.
	// Nil means always. A reader spins while it expects bytes within
	// microseconds (the answer to a call it just made) and sleeps when it
	// does not, leaving the CPU to the process that is to write them.
	Spin func() bool
	// buf holds a message too long for the caller's buffer; rest is the
	// part of it Read has not returned yet.
	buf, rest []byte
}

// StreamAt opens the stream in r for the participant holding tok. It
// validates r against the arena (a worker reads r from its parent): a
// region outside the arena or not shaped like a stream is ErrCorrupt.
func StreamAt(a *Arena, r Region, tok Token) (*Stream, error) {
	if r.Off%objAlign != 0 || r.Off > uint64(a.Size()) || r.Size > uint64(a.Size())-r.Off {
		return nil, fmt.Errorf("%w: stream region %d+%d outside the arena", ErrCorrupt, r.Off, r.Size)
	}
	q, err := queueAt(a, r.Off, r.Size)
	if err != nil {
		return nil, err
	}
	return &Stream{q: q, tok: tok}, nil
}

// streamPiece is the largest message a stream's queue carries: a quarter
// of its ring, so that a writer can fill one piece while the reader copies
// out another.
func streamPiece(ring int) uint32 { return uint32(ring / 4) }

// Reset empties the stream and opens it again after Close. Nobody may use
// the stream meanwhile: the parent resets a worker's streams only after
// that worker has died and before the next one starts.
func (s *Stream) Reset() {
	h := s.q.a.mem[s.q.off : s.q.off+qHeader]
	for i := range h {
		h[i] = 0
	}
	s.q.init(uint32(len(s.q.ring)/4), streamPiece(len(s.q.ring)))
	s.buf, s.rest = nil, nil
}

// Write puts p on the stream, blocking while the ring is full. It returns
// ErrClosed, wrapped, once the stream is closed, and ErrCorrupt for a ring
// the other side has broken; len(p) otherwise.
func (s *Stream) Write(p []byte) (int, error) {
	max := s.q.maxMsg()
	if max <= 0 {
		return 0, ErrCorrupt
	}
	var pieces [][]byte
	for rest := p; len(rest) > 0; {
		n := min(len(rest), max)
		pieces = append(pieces, rest[:n])
		rest = rest[n:]
	}
	done, err := 0, error(nil)
	for done < len(pieces) && err == nil {
		var n int
		n, err = s.q.Put(s.tok, Forever, pieces[done:]...)
		done += n
	}
	if err != nil {
		written := 0
		for _, m := range pieces[:done] {
			written += len(m)
		}
		return written, fmt.Errorf("shm: stream write: %w", err)
	}
	return len(p), nil
}

// Read fills p with the next bytes of the stream, blocking until there
// are some. It returns io.EOF once the stream is closed and everything
// written before was read, and ErrCorrupt for a ring the other side has
// broken.
func (s *Stream) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if len(s.rest) > 0 {
		n := copy(p, s.rest)
		s.rest = s.rest[n:]
		return n, nil
	}
	// Whole messages go straight into p, as many as fit.
	used := 0
	wt := Forever
	wt.SpinWhile = s.Spin
	_, err := s.q.Get(s.tok, wt, len(p), func(n int) []byte {
		if n > len(p)-used {
			return nil
		}
		used += n
		return p[used-n : used]
	})
	switch {
	case err == nil:
		return used, nil
	case err == ErrClosed:
		return 0, io.EOF
	case err != ErrTooLarge:
		return 0, fmt.Errorf("shm: stream read: %w", err)
	}
	// The next message is longer than p: take it into buf.
	_, err = s.q.Get(s.tok, NoWait, 1, func(n int) []byte {
		if cap(s.buf) < n {
			s.buf = make([]byte, n)
		}
		s.rest = s.buf[:n]
		return s.rest
	})
	if err != nil {
		return 0, fmt.Errorf("shm: stream read: %w", err)
	}
	n := copy(p, s.rest)
	s.rest = s.rest[n:]
	return n, nil
}

// Close ends the stream for both sides: Write fails, Read returns what
// is left and then io.EOF, and a side blocked in either wakes.
func (s *Stream) Close() error {
	s.q.Close()
	return nil
}

// Closed reports whether Close was called on either side.
func (s *Stream) Closed() bool { return atomic.LoadUint32(s.q.w32(qClosed)) != 0 }
