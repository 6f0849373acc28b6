package shm

import (
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// Region is a stretch of an arena that no table entry names, reserved for
// a Stream. The pool reserves a worker's streams in an arena of their own
// and tells the worker where they are.
type Region struct {
	Off, Size uint64
}

// Reserve allocates a region for a Stream whose ring holds at least ring
// bytes. Like every allocation it lasts until the arena is closed. Errors:
// ErrInvalid for a ring outside MinRing..MaxRing, ErrNoSpace.
func (d *Directory) Reserve(ring int) (Region, error) {
	if ring < MinRing || ring > MaxRing {
		return Region{}, fmt.Errorf("%w: stream ring %d outside %d..%d", ErrInvalid, ring, MinRing, MaxRing)
	}
	size, _ := QueueSize(ring)
	d.mu.Lock()
	defer d.mu.Unlock()
	off, ok := d.alloc(size)
	if !ok {
		return Region{}, ErrNoSpace
	}
	q, err := queueAt(d.a, off, size)
	if err != nil {
		return Region{}, err
	}
	initStream(q)
	return Region{Off: off, Size: size}, nil
}

// initStream sets a stream's queue limits: a message per 4 bytes of ring
// at most, and pieces of streamPiece.
func initStream(q Queue) { q.init(uint32(len(q.ring)/4), streamPiece(len(q.ring))) }

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
// by either side. Set Spin and the bell before first use. A Stream must
// not be copied.
type Stream struct {
	q   Queue
	tok Token
	// Spin, if set, says whether a Read that finds the stream empty
	// should spin (go on spinning) before it sleeps; see Wait.SpinWhile.
	// Nil means always. A reader spins while it expects bytes within
	// microseconds (the answer to a call it just made) and sleeps when it
	// does not, leaving the CPU to the process that is to write them.
	Spin func() bool
	// Awake, if set on a stream with a bell (SetBell), is called when a
	// Read that found the stream empty stops waiting, before it takes any
	// bytes.
	Awake func()
	// buf holds a message too long for the caller's buffer; rest is the
	// part of it Read has not returned yet.
	buf, rest []byte

	bell  Bell
	reads bool     // this end reads (it sleeps on bell) rather than writes
	ended bool     // the reader's bell failed: the writer is gone
	ding  [1]byte  // what a writer sends
	dings [64]byte // where a reader takes them
}

// Bell is how the two ends of a stream in different processes wake each
// other without a futex: a connected socket, each process holding one
// end. A reader that finds the stream empty, once it has spun, sleeps
// reading its Bell, and a writer that finds the reader asleep writes a
// byte to its own. Sleeping in a read parks only the goroutine, in the Go
// netpoller; a futex wait holds its OS thread and the scheduler's P until
// the runtime takes the P back, which it may do only 10 ms later, and
// until then the goroutines queued on that P wait too.
//
// net.Conn is a Bell. A read error (EOF: the other process closed its end
// or died) ends the stream for the reader: Read returns what is left, then
// io.EOF.
type Bell interface {
	Read(p []byte) (int, error)
	Write(p []byte) (int, error)
	SetReadDeadline(t time.Time) error
}

// SetBell makes b the stream's Bell; reads says whether this end reads
// the stream or writes it. Without a Bell, the ends sleep and wake with a
// futex, which suits goroutines that may hold their thread (tests, or a
// reader that is the process's only work). Call it before the stream is
// used, and again with each new pair of processes after Reset.
func (s *Stream) SetBell(b Bell, reads bool) {
	s.bell, s.reads, s.ended = b, reads, false
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
// the stream meanwhile, in any process. (The pool gives every worker
// process streams of its own instead of resetting a dead one's.)
func (s *Stream) Reset() {
	h := s.q.a.mem[s.q.off : s.q.off+qHeader]
	for i := range h {
		h[i] = 0
	}
	initStream(s.q)
	s.buf, s.rest, s.ended = nil, nil, false
}

// Write puts p on the stream, blocking while the ring is full. It returns
// ErrClosed, wrapped, once the stream is closed, and ErrCorrupt for a ring
// the other side has broken; len(p) otherwise.
func (s *Stream) Write(p []byte) (int, error) {
	piece := s.q.maxMsg()
	if piece <= 0 {
		return 0, fmt.Errorf("shm: stream write: %w", ErrCorrupt)
	}
	var pieces [][]byte
	for rest := p; len(rest) > 0; {
		n := min(len(rest), piece)
		pieces = append(pieces, rest[:n])
		rest = rest[n:]
	}
	done, err := 0, error(nil)
	for done < len(pieces) && err == nil {
		wt := Forever
		if s.bell != nil {
			// Ring before waiting for room: the reader that is to make
			// it may be asleep on the bell.
			wt = NoWait
		}
		var n int
		n, err = s.q.Put(s.tok, wt, pieces[done:]...)
		done += n
		if n > 0 {
			s.wake()
		}
		if err == ErrWouldBlock {
			n, err = s.q.Put(s.tok, Forever, pieces[done])
			done += n
			s.wake()
		}
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
	sink := func(n int) []byte {
		if n > len(p)-used {
			return nil
		}
		used += n
		return p[used-n : used]
	}
	var err error
	if s.bell == nil {
		wt := Forever
		wt.SpinWhile = s.Spin
		_, err = s.q.Get(s.tok, wt, len(p), sink)
	} else {
		for {
			if _, err = s.q.Get(s.tok, NoWait, len(p), sink); err != ErrWouldBlock {
				break
			}
			if s.q.Closed() || s.ended {
				err = ErrClosed
				break
			}
			s.sleep()
		}
	}
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

// sleep waits until the stream may have bytes for the reader: it spins,
// then sleeps on the bell. It may return early; the caller checks again.
func (s *Stream) sleep() {
	if s.Awake != nil {
		defer s.Awake()
	}
	ready := func() bool { return s.Pending() || s.q.Closed() }
	if spinWhile(ready, s.Spin, true) {
		return
	}
	// The writer commits a message and then looks at the flag; the
	// reader raises the flag and then looks at the queue: one of them
	// sees the other.
	flag := s.q.w32(qBellSleeper)
	atomic.StoreUint32(flag, 1)
	if ready() {
		atomic.StoreUint32(flag, 0)
		return
	}
	_, err := s.bell.Read(s.dings[:])
	atomic.StoreUint32(flag, 0)
	if err != nil {
		s.ended = true
	}
}

// wake rings the bell if the reader sleeps on it. It loads the flag
// before it swaps it, so that a writer whose reader is awake leaves the
// flag's cache line shared. A bell that cannot be rung (the other process
// is gone) closes the stream: a reader that slept through it then drains
// what is there and gets io.EOF instead of sleeping on.
func (s *Stream) wake() {
	flag := s.q.w32(qBellSleeper)
	if s.bell == nil || s.reads || atomic.LoadUint32(flag) != 1 || !atomic.CompareAndSwapUint32(flag, 1, 0) {
		return
	}
	if _, err := s.bell.Write(s.ding[:]); err != nil {
		s.q.Close()
	}
}

// Close ends the stream for both sides: Write fails, Read returns what
// is left and then io.EOF, and a side blocked in either wakes. Close on
// the reading end with a Bell also ends that Bell's reads. It is
// idempotent (a second Close may ring the bell once more, which only
// wakes the reader to find the stream closed) and returns nil.
func (s *Stream) Close() error {
	s.q.Close()
	if s.bell != nil {
		if s.reads {
			s.bell.SetReadDeadline(time.Now())
		} else {
			atomic.StoreUint32(s.q.w32(qBellSleeper), 1)
			s.wake()
		}
	}
	return nil
}

// Pending reports whether the stream holds bytes its reader has not taken.
// Unlike Read, it is safe to call from any goroutine or process.
func (s *Stream) Pending() bool { return s.q.Len() > 0 }

// Ended reports whether the stream has ended for its reader: Close was
// called on either side, or the reader's bell reported the writer gone.
func (s *Stream) Ended() bool { return s.ended || s.Closed() }

// Closed reports whether Close was called on either side.
func (s *Stream) Closed() bool { return s.q.Closed() }
