package shm

import "sync/atomic"

// Token identifies an owner: a participant (the parent, or one incarnation
// of a worker process) and a local id inside it (a guest instance, or a
// handle value in the parent). Bit 31 is never set: lock words use it.
type Token uint32

// Token limits.
const (
	// MaxParticipant is the largest participant number; participant 0 is
	// invalid and ParentParticipant is the parent's.
	MaxParticipant = 1<<12 - 1
	// MaxLocal is the largest local id.
	MaxLocal = 1<<19 - 1
	// ParentParticipant is the participant number of the parent process.
	ParentParticipant = 1
)

// MakeToken returns the token of local id local in participant part. Both
// must be in range and part nonzero; local may be zero.
func MakeToken(part, local uint32) Token {
	return Token(part&MaxParticipant<<19 | local&MaxLocal)
}

// Participant returns the token's participant number.
func (t Token) Participant() uint32 { return uint32(t) >> 19 & MaxParticipant }

// Dead reports whether a token belongs to a participant or instance that
// has ended. Recover calls it for every token found in the arena.
type Dead func(Token) bool

const waitersBit = 1 << 31

// lockSize is the size of a lock's words: state, died, count, spare.
const lockSize = 16

// Lock is a view of a cross-process mutex in the arena: a state word that
// holds the owner's token (and waitersBit when someone sleeps on it), a
// died flag set when an owner died holding it, and a recursion count used
// by RLock. Views are cheap values; the state lives in the arena.
type Lock struct {
	state, died, count *uint32
	recursive          bool
}

func lockAt(a *Arena, off uint64, recursive bool) Lock {
	return Lock{state: a.u32(off), died: a.u32(off + 4), count: a.u32(off + 8), recursive: recursive}
}

// Acquire takes the lock for tok. It returns nil, or ErrOwnerDied when the
// lock is now held by tok but its previous owner died holding it (what the
// lock protected may be half updated), or the Wait's error with the lock
// not taken. A recursive lock already held by tok is taken again.
func (l Lock) Acquire(tok Token, wt Wait) error {
	if l.recursive && Token(atomic.LoadUint32(l.state)&^waitersBit) == tok {
		atomic.AddUint32(l.count, 1)
		return nil
	}
	if atomic.CompareAndSwapUint32(l.state, 0, uint32(tok)) ||
		spin(func() bool { return atomic.CompareAndSwapUint32(l.state, 0, uint32(tok)) }) {
		return l.acquired()
	}
	for {
		s := atomic.LoadUint32(l.state)
		if s == 0 {
			// Having slept, take it with the waiters bit: others may
			// still sleep and the release must wake them.
			if atomic.CompareAndSwapUint32(l.state, 0, uint32(tok)|waitersBit) {
				return l.acquired()
			}
			continue
		}
		if s&waitersBit == 0 && !atomic.CompareAndSwapUint32(l.state, s, s|waitersBit) {
			continue
		}
		if err := wt.sleep(l.state, s|waitersBit); err != nil {
			return err
		}
	}
}

func (l Lock) acquired() error {
	if l.recursive {
		atomic.StoreUint32(l.count, 1)
	}
	if atomic.LoadUint32(l.died) != 0 && atomic.SwapUint32(l.died, 0) != 0 {
		return ErrOwnerDied
	}
	return nil
}

// Release releases the lock held by tok (one level of a recursive lock).
// It returns ErrNotOwner, changing nothing, when tok does not hold it.
func (l Lock) Release(tok Token) error {
	s := atomic.LoadUint32(l.state)
	if Token(s&^waitersBit) != tok {
		return ErrNotOwner
	}
	if l.recursive {
		if n := atomic.LoadUint32(l.count); n > 1 {
			atomic.StoreUint32(l.count, n-1)
			return nil
		}
		atomic.StoreUint32(l.count, 0)
	}
	if atomic.SwapUint32(l.state, 0)&waitersBit != 0 {
		futexWake(l.state, 1)
	}
	return nil
}

// Owner returns the token holding the lock, or 0.
func (l Lock) Owner() Token { return Token(atomic.LoadUint32(l.state) &^ waitersBit) }

// recoverFrom releases the lock if a dead token holds it, marking it so
// that the next owner gets ErrOwnerDied when mark is set. It reports
// whether it released it.
func (l Lock) recoverFrom(dead Dead, mark bool) bool {
	for {
		s := atomic.LoadUint32(l.state)
		owner := Token(s &^ waitersBit)
		if owner == 0 || !dead(owner) {
			return false
		}
		if mark {
			atomic.StoreUint32(l.died, 1)
		}
		if atomic.CompareAndSwapUint32(l.state, s, 0) {
			atomic.StoreUint32(l.count, 0)
			futexWake(l.state, 1)
			return true
		}
	}
}
