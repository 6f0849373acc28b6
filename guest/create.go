package guest

import (
	"github.com/wasmpool/wasmpool/abi"
	"github.com/wasmpool/wasmpool/internal/sfmt"
)

// Guests create shared objects by asking the parent (object_create), which
// keeps every object's name: another guest, or the parent with
// pool.OpenQueue and friends, then opens it by name. A create blocks the
// instance for one round trip to the parent. Objects live as long as the
// pool. Pipes are made by the parent only (pool.NewPipe), which hands out
// their ends. Errors: ErrExists for a name in use, ErrNoSpace when the
// pool's arena or table is full, abi.EINVAL for a bad limit.

func create(kind abi.ObjectKind, spec abi.ObjectSpec, name string) (handle, error) {
	h, e := objectCreate(kind, spec, name)
	if e != 0 {
		return 0, sfmt.Errorf("guest: creating %s %q: %w", kind, name, errorOf(e))
	}
	return h, nil
}

// QueueConfig configures a queue a guest creates; its zero value is the
// pool's default queue (1 MiB of messages).
type QueueConfig struct {
	MaxMessages    int  // bound on messages; 0: only bytes bound them
	MaxBytes       int  // bytes held, rounded up to a power of two; 0: 1 MiB
	MaxMessageSize int  // largest message; 0: as large as fits
	Joinable       bool // TaskDone and Join (Python's JoinableQueue)
}

// NewQueue creates a queue named name (anonymous when ""; only this
// instance can reach an anonymous one).
func NewQueue(name string, cfg QueueConfig) (*Queue, error) {
	if cfg.MaxMessages < 0 || cfg.MaxBytes < 0 || cfg.MaxMessageSize < 0 {
		return nil, sfmt.Errorf("guest: negative queue limit: %w", abi.EINVAL)
	}
	spec := abi.ObjectSpec{MaxMessages: uint32(cfg.MaxMessages), Ring: uint32(cfg.MaxBytes), MaxMessage: uint32(cfg.MaxMessageSize)}
	if cfg.Joinable {
		spec.Flags = abi.FlagJoinable
	}
	h, err := create(abi.KindQueue, spec, name)
	if err != nil {
		return nil, err
	}
	return &Queue{h: h}, nil
}

// NewLock creates a lock (an RLock when reentrant) named name.
func NewLock(name string, reentrant bool) (*Lock, error) {
	h, err := create(lockKind(reentrant), abi.ObjectSpec{}, name)
	if err != nil {
		return nil, err
	}
	return &Lock{h}, nil
}

// NewSemaphore creates a semaphore with value units; a bounded one refuses
// to be released above value.
func NewSemaphore(name string, value int, bounded bool) (*Semaphore, error) {
	if value < 0 || value > 1<<31 {
		return nil, sfmt.Errorf("guest: semaphore value %d: %w", value, abi.EINVAL)
	}
	spec := abi.ObjectSpec{Value: uint32(value)}
	if bounded {
		spec.Flags, spec.Bound = abi.FlagBounded, uint32(value)
	}
	h, err := create(abi.KindSemaphore, spec, name)
	if err != nil {
		return nil, err
	}
	return &Semaphore{h}, nil
}

// NewEvent creates an event named name, clear.
func NewEvent(name string) (*Event, error) {
	h, err := create(abi.KindEvent, abi.ObjectSpec{}, name)
	if err != nil {
		return nil, err
	}
	return &Event{h}, nil
}

// NewCondition creates a condition (with its own lock) named name.
func NewCondition(name string) (*Condition, error) {
	h, err := create(abi.KindCondition, abi.ObjectSpec{}, name)
	if err != nil {
		return nil, err
	}
	return &Condition{h}, nil
}

// NewBarrier creates a barrier for parties (1..64) parties named name.
func NewBarrier(name string, parties int) (*Barrier, error) {
	if parties < 1 {
		return nil, sfmt.Errorf("guest: barrier of %d parties: %w", parties, abi.EINVAL)
	}
	h, err := create(abi.KindBarrier, abi.ObjectSpec{Parties: uint32(parties)}, name)
	if err != nil {
		return nil, err
	}
	return &Barrier{h}, nil
}
