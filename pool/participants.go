package pool

import (
	"errors"
	"sync"

	"github.com/wasmpool/wasmpool/internal/shm"
)

// participants hands out the participant numbers of worker processes in
// the shared arena (shm.Token). A number is given back only after the
// arena was repaired from its process's death, so no token of a dead
// process is ever mistaken for a live one.
type participants struct {
	mu   sync.Mutex
	used map[uint32]bool
}

func (ps *participants) take() (uint32, error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.used == nil {
		ps.used = map[uint32]bool{}
	}
	for n := uint32(shm.ParentParticipant + 1); n <= shm.MaxParticipant; n++ {
		if !ps.used[n] {
			ps.used[n] = true
			return n, nil
		}
	}
	return 0, errors.New("pool: no participant number left for another worker")
}

func (ps *participants) give(n uint32) {
	ps.mu.Lock()
	delete(ps.used, n)
	ps.mu.Unlock()
}

// retire repairs the shared objects after the death of participant part's
// process, then frees the number.
func (p *Pool) retire(part uint32) {
	p.arena.Recover(func(t shm.Token) bool { return t.Participant() == part }, p.parentToken(0))
	p.parts.give(part)
}

// parentToken returns the parent's token with local id local.
func (p *Pool) parentToken(local uint32) shm.Token {
	return shm.MakeToken(shm.ParentParticipant, local)
}

// newLocal returns a fresh local id for a parent handle.
func (p *Pool) newLocal() shm.Token {
	return p.parentToken(p.locals.Add(1))
}
