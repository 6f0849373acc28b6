package shm

import "sync/atomic"

// Pipe layout: end owners and closed flags, then the queue that carries
// end 1 → end 0, then (duplex only) the queue end 0 → end 1.
const (
	pOwner  = 0 // u32 × 2
	pClosed = 8 // u32 × 2
	pDuplex = 16
	pHeader = 64
)

// PipeSize returns the arena bytes of a pipe whose directions each have a
// ring of at least ring bytes.
func PipeSize(ring int, duplex bool) uint64 {
	q, _ := QueueSize(ring)
	if duplex {
		return pHeader + 2*q
	}
	return pHeader + q
}

// Pipe is a view of a connected pair of ends, 0 and 1. A duplex pipe
// carries messages both ways; a one-way pipe carries them from end 1 (the
// sender) to end 0 (the receiver), as Python's Pipe(duplex=False) returns
// (receiver, sender). Closing an end — or the death of the guest instance
// or process that owns it — lets the other end read what was sent and
// then get ErrClosed, and makes its sends fail with ErrClosed. Its
// methods are safe for concurrent use by any goroutines and processes;
// copies of a view are views of the same pipe, and the zero Pipe is not
// one (views come from Object.Pipe).
type Pipe struct {
	a      *Arena
	off    uint64
	duplex bool
	q      [2]Queue // q[e] carries what end e sends
	hasQ   [2]bool
}

func pipeAt(a *Arena, off, size uint64, duplex bool) (Pipe, error) {
	p := Pipe{a: a, off: off, duplex: duplex}
	if size < pHeader {
		return Pipe{}, ErrCorrupt
	}
	qsize := size - pHeader
	if duplex {
		qsize /= 2
	}
	var err error
	if p.q[1], err = queueAt(a, off+pHeader, qsize); err != nil {
		return Pipe{}, err
	}
	p.hasQ[1] = true
	if duplex {
		if p.q[0], err = queueAt(a, off+pHeader+qsize, qsize); err != nil {
			return Pipe{}, err
		}
		p.hasQ[0] = true
	}
	return p, nil
}

func (p *Pipe) init(maxMsg uint32) {
	atomic.StoreUint32(p.a.u32(p.off+pDuplex), b2u(p.duplex))
	for e := range 2 {
		if p.hasQ[e] {
			p.q[e].init(1<<31, maxMsg)
		}
	}
}

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// Duplex reports whether both ends can send.
func (p *Pipe) Duplex() bool { return p.duplex }

// CanSend reports whether end e can send.
func (p *Pipe) CanSend(e int) bool { return p.hasQ[e&1] }

// CanRecv reports whether end e can receive.
func (p *Pipe) CanRecv(e int) bool { return p.hasQ[1-e&1] }

// Own makes tok the owner of end e: when tok dies, Recover closes the end.
func (p *Pipe) Own(e int, tok Token) {
	atomic.StoreUint32(p.a.u32(p.off+pOwner+4*uint64(e&1)), uint32(tok))
}

// Owner returns the owner of end e.
func (p *Pipe) Owner(e int) Token {
	return Token(atomic.LoadUint32(p.a.u32(p.off + pOwner + 4*uint64(e&1))))
}

// Send sends msg from end e. It fails with ErrClosed when either end is
// closed, ErrNotSupported on the receiving end of a one-way pipe.
func (p *Pipe) Send(e int, tok Token, wt Wait, msg []byte) error {
	if !p.CanSend(e) {
		return ErrNotSupported
	}
	_, err := p.q[e&1].Put(tok, wt, msg)
	return err
}

// Recv receives one message at end e into the buffer sink gives; see
// Queue.Get. It fails with ErrClosed once the other end is closed and
// everything it sent was received.
func (p *Pipe) Recv(e int, tok Token, wt Wait, sink Sink) (int, error) {
	if !p.CanRecv(e) {
		return 0, ErrNotSupported
	}
	return p.q[1-e&1].Get(tok, wt, 1, sink)
}

// Poll blocks until end e has a message to receive or will never have one
// (ErrClosed).
func (p *Pipe) Poll(e int, wt Wait) error {
	if !p.CanRecv(e) {
		return ErrNotSupported
	}
	return p.q[1-e&1].WaitReadable(wt)
}

// CloseEnd closes end e; see Pipe.
func (p *Pipe) CloseEnd(e int) {
	atomic.StoreUint32(p.a.u32(p.off+pClosed+4*uint64(e&1)), 1)
	for i := range 2 {
		if p.hasQ[i] {
			p.q[i].Close()
		}
	}
}

// EndClosed reports whether end e was closed.
func (p *Pipe) EndClosed(e int) bool {
	return atomic.LoadUint32(p.a.u32(p.off+pClosed+4*uint64(e&1))) != 0
}

func (p *Pipe) recoverFrom(dead Dead) {
	for e := range 2 {
		if p.hasQ[e] {
			p.q[e].recoverFrom(dead)
		}
		if o := p.Owner(e); o != 0 && dead(o) {
			p.CloseEnd(e)
		}
	}
}
