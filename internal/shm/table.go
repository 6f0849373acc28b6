package shm

import (
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/wasmpool/wasmpool/abi"
)

// Arena header and object table layout. Only the parent writes the table
// (through a Directory); workers read it to open objects, and validate
// every entry they read.
const (
	hMagic   = 0  // u64
	hSlots   = 8  // u32
	hSize    = 16 // u64
	hData    = 24 // u64: where objects start
	tableOff = 64

	entrySize = 128
	eKind     = 0 // u32, stored last when an entry is published
	eGen      = 4
	eOff      = 8  // u64
	eSize     = 16 // u64
	eFlags    = 24
	eNameLen  = 28
	eName     = 32

	// MaxName is the longest object name in bytes.
	MaxName  = entrySize - eName
	maxSlots = 1 << 16

	arenaMagic = 0x31616e6572617077 // "wparena1"
	objAlign   = 64
)

// Object flags, in the table entry.
const (
	FlagJoinable = abi.FlagJoinable // queue: JoinableQueue
	FlagDuplex   = abi.FlagDuplex   // pipe: both ends send
	FlagBounded  = abi.FlagBounded  // semaphore: BoundedSemaphore
)

func dataStart(slots int) uint64 {
	return (tableOff + uint64(slots)*entrySize + objAlign - 1) &^ (objAlign - 1)
}

func (a *Arena) initHeader(slots int) {
	binary.LittleEndian.PutUint64(a.mem[hMagic:], arenaMagic)
	binary.LittleEndian.PutUint32(a.mem[hSlots:], uint32(slots))
	binary.LittleEndian.PutUint64(a.mem[hSize:], uint64(len(a.mem)))
	binary.LittleEndian.PutUint64(a.mem[hData:], dataStart(slots))
}

func (a *Arena) checkHeader() error {
	if len(a.mem) < tableOff ||
		binary.LittleEndian.Uint64(a.mem[hMagic:]) != arenaMagic ||
		binary.LittleEndian.Uint64(a.mem[hSize:]) != uint64(len(a.mem)) {
		return fmt.Errorf("shm: not a wasmpool arena")
	}
	if s := a.slots(); s < 1 || s > maxSlots || dataStart(s) >= uint64(len(a.mem)) {
		return fmt.Errorf("shm: arena table of %d slots does not fit", s)
	}
	return nil
}

func (a *Arena) slots() int { return int(binary.LittleEndian.Uint32(a.mem[hSlots:])) }

// Handle names an object: its table slot (low 16 bits) and the slot's
// generation (high 16 bits), so that a handle to a destroyed object never
// opens its successor. 0 is never a handle.
type Handle uint32

func makeHandle(slot int, gen uint32) Handle { return Handle(gen<<16 | uint32(slot)) }

func (h Handle) slot() int { return int(h & 0xffff) }

// Object is one validated table entry: what a handle or name refers to.
// Use the accessor of its kind (Queue, Lock, ...) to operate on it.
type Object struct {
	Kind   abi.ObjectKind
	Handle Handle
	Name   string
	Flags  uint32
	a      *Arena
	off    uint64
	size   uint64
}

// minSize is the smallest valid size of each kind.
var minSize = map[abi.ObjectKind]uint64{
	abi.KindQueue: qHeader + MinRing, abi.KindPipe: pHeader + qHeader + MinRing,
	abi.KindLock: lockSize, abi.KindRLock: lockSize, abi.KindSemaphore: semSize,
	abi.KindEvent: eventSize, abi.KindCondition: condSize, abi.KindBarrier: barrierSize,
}

// Open returns the object h names, validated: ErrBadHandle for a free or
// reused slot, ErrCorrupt for an entry that does not fit the arena.
func (a *Arena) Open(h Handle) (Object, error) {
	slot := h.slot()
	if h == 0 || slot >= a.slots() {
		return Object{}, ErrBadHandle
	}
	o, err := a.entry(slot)
	if err != nil {
		return Object{}, err
	}
	if o.Handle != h {
		return Object{}, ErrBadHandle
	}
	return o, nil
}

// entry copies and validates table slot i; ErrBadHandle when it is free.
func (a *Arena) entry(i int) (Object, error) {
	base := tableOff + uint64(i)*entrySize
	kind := abi.ObjectKind(atomic.LoadUint32(a.u32(base + eKind)))
	if kind == 0 {
		return Object{}, ErrBadHandle
	}
	var e [entrySize]byte
	copy(e[:], a.mem[base:base+entrySize])
	o := Object{
		Kind:   kind,
		Handle: makeHandle(i, binary.LittleEndian.Uint32(e[eGen:])&0xffff),
		Flags:  binary.LittleEndian.Uint32(e[eFlags:]),
		a:      a,
		off:    binary.LittleEndian.Uint64(e[eOff:]),
		size:   binary.LittleEndian.Uint64(e[eSize:]),
	}
	nameLen := binary.LittleEndian.Uint32(e[eNameLen:])
	min, known := minSize[kind]
	data := binary.LittleEndian.Uint64(a.mem[hData:])
	if !known || nameLen > MaxName || o.size < min || o.off < data || o.off%objAlign != 0 ||
		o.off > uint64(len(a.mem)) || o.size > uint64(len(a.mem))-o.off {
		return Object{}, ErrCorrupt
	}
	o.Name = string(e[eName : eName+nameLen])
	return o, nil
}

// Lookup returns the object named name.
func (a *Arena) Lookup(name string) (Object, error) {
	if name == "" || len(name) > MaxName {
		return Object{}, ErrNotFound
	}
	for i := range a.slots() {
		if o, err := a.entry(i); err == nil && o.Name == name {
			return o, nil
		}
	}
	return Object{}, ErrNotFound
}

// Recover repairs every object after the tokens dead reports have ended:
// see the package documentation. self is the token recovery acts as (the
// parent's). Objects whose entries are corrupt are skipped.
func (a *Arena) Recover(dead Dead, self Token) {
	for i := range a.slots() {
		o, err := a.entry(i)
		if err != nil {
			continue
		}
		o.recoverFrom(dead, self)
	}
}

func (o Object) recoverFrom(dead Dead, self Token) {
	switch o.Kind {
	case abi.KindLock, abi.KindRLock:
		o.Lock().recoverFrom(dead, true)
	case abi.KindCondition:
		o.Condition().recoverFrom(dead)
	case abi.KindBarrier:
		o.Barrier().recoverFrom(dead, self)
	case abi.KindQueue:
		if q, err := o.Queue(); err == nil {
			q.recoverFrom(dead)
		}
	case abi.KindPipe:
		if p, err := o.Pipe(); err == nil {
			p.recoverFrom(dead)
		}
	}
}

// Lock returns the view of a Lock or RLock object.
func (o Object) Lock() Lock { return lockAt(o.a, o.off, o.Kind == abi.KindRLock) }

// Semaphore returns the view of a Semaphore object.
func (o Object) Semaphore() Semaphore { return semAt(o.a, o.off) }

// Event returns the view of an Event object.
func (o Object) Event() Event { return eventAt(o.a, o.off) }

// Condition returns the view of a Condition object.
func (o Object) Condition() Condition { return condAt(o.a, o.off) }

// Barrier returns the view of a Barrier object.
func (o Object) Barrier() Barrier { return barrierAt(o.a, o.off) }

// Queue returns the view of a Queue object.
func (o Object) Queue() (Queue, error) { return queueAt(o.a, o.off, o.size) }

// Pipe returns the view of a Pipe object.
func (o Object) Pipe() (Pipe, error) { return pipeAt(o.a, o.off, o.size, o.Flags&FlagDuplex != 0) }

// Spec describes an object to create. Fields that do not apply to Kind
// are ignored.
type Spec struct {
	Kind abi.ObjectKind
	// Name is empty for an anonymous object.
	Name  string
	Flags uint32
	// Queue and pipe: capacity in messages (queue only), ring bytes, the
	// largest message.
	MaxMessages, Ring, MaxMessage int
	// Semaphore: initial value, and the bound of a bounded one.
	Value, Bound uint32
	// Barrier: the number of parties.
	Parties int
}

// Directory allocates objects in an arena and publishes them in its table.
// Only the parent has one. It is safe for concurrent use. Objects live
// until the arena is closed.
type Directory struct {
	a *Arena

	mu    sync.Mutex
	next  uint64 // bump allocator over the data region
	slot  int    // next free table slot
	names map[string]bool
}

// NewDirectory returns the directory of a freshly created arena.
func NewDirectory(a *Arena) *Directory {
	return &Directory{a: a, next: dataStart(a.slots()), names: map[string]bool{}}
}

// Create allocates, initializes and publishes an object. It returns
// ErrExists for a name in use, ErrNoSpace when the arena or its table is
// full, and an error describing an invalid Spec.
func (d *Directory) Create(s Spec) (Object, error) {
	size, err := s.size()
	if err != nil {
		return Object{}, err
	}
	if len(s.Name) > MaxName {
		return Object{}, fmt.Errorf("shm: name of %d bytes is longer than %d", len(s.Name), MaxName)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if s.Name != "" && d.names[s.Name] {
		return Object{}, ErrExists
	}
	if d.slot >= d.a.slots() {
		return Object{}, ErrNoSpace
	}
	off, ok := d.alloc(size)
	if !ok {
		return Object{}, ErrNoSpace
	}
	i := d.slot
	d.slot++
	if s.Name != "" {
		d.names[s.Name] = true
	}
	o := Object{Kind: s.Kind, Handle: makeHandle(i, 1), Name: s.Name, Flags: s.Flags, a: d.a, off: off, size: size}
	o.init(s)
	base := tableOff + uint64(i)*entrySize
	e := d.a.mem[base : base+entrySize]
	binary.LittleEndian.PutUint32(e[eGen:], 1)
	binary.LittleEndian.PutUint64(e[eOff:], off)
	binary.LittleEndian.PutUint64(e[eSize:], size)
	binary.LittleEndian.PutUint32(e[eFlags:], s.Flags)
	binary.LittleEndian.PutUint32(e[eNameLen:], uint32(len(s.Name)))
	copy(e[eName:], s.Name)
	atomic.StoreUint32(d.a.u32(base+eKind), uint32(s.Kind))
	return o, nil
}

// Size returns the arena bytes an object of this Spec takes, or the error
// Create would return for an invalid Spec.
func (s Spec) Size() (uint64, error) { return s.size() }

// alloc takes size bytes, aligned, from the data region; the caller holds
// d.mu. It reports false when they do not fit.
func (d *Directory) alloc(size uint64) (uint64, bool) {
	off := (d.next + objAlign - 1) &^ (objAlign - 1)
	if off > uint64(len(d.a.mem)) || size > uint64(len(d.a.mem))-off {
		return 0, false
	}
	d.next = off + size
	return off, true
}

func (s Spec) size() (uint64, error) {
	switch s.Kind {
	case abi.KindQueue, abi.KindPipe:
		if s.Ring < 0 || s.Ring > MaxRing || s.MaxMessage < 0 || s.MaxMessages < 0 {
			return 0, fmt.Errorf("shm: queue limits out of range")
		}
		if _, ring := QueueSize(s.Ring); s.MaxMessage > ring-4 {
			return 0, fmt.Errorf("shm: largest message %d does not fit a ring of %d bytes", s.MaxMessage, ring)
		}
		if s.Kind == abi.KindPipe {
			return PipeSize(s.Ring, s.Flags&FlagDuplex != 0), nil
		}
		size, _ := QueueSize(s.Ring)
		return size, nil
	case abi.KindBarrier:
		if s.Parties < 1 || s.Parties > MaxParties {
			return 0, fmt.Errorf("shm: barrier parties %d outside 1..%d", s.Parties, MaxParties)
		}
		return barrierSize, nil
	case abi.KindSemaphore:
		if s.Flags&FlagBounded != 0 && (s.Bound == 0 || s.Value > s.Bound) {
			return 0, fmt.Errorf("shm: semaphore value %d above its bound %d", s.Value, s.Bound)
		}
	}
	size, ok := minSize[s.Kind]
	if !ok {
		return 0, fmt.Errorf("shm: unknown object kind %d", s.Kind)
	}
	return size, nil
}

func (o Object) init(s Spec) {
	switch o.Kind {
	case abi.KindQueue:
		q, _ := o.Queue()
		_, ring, _ := q.Limits()
		capMsgs := uint32(s.MaxMessages)
		if capMsgs == 0 {
			capMsgs = uint32(ring / 4)
		}
		q.init(capMsgs, uint32(maxMsgOr(s.MaxMessage, ring)))
	case abi.KindPipe:
		p, _ := o.Pipe()
		_, ring, _ := p.q[1].Limits()
		p.init(uint32(maxMsgOr(s.MaxMessage, ring)))
	case abi.KindSemaphore:
		bound := uint32(0)
		if s.Flags&FlagBounded != 0 {
			bound = s.Bound
		}
		o.Semaphore().init(s.Value, bound)
	case abi.KindBarrier:
		atomic.StoreUint32(o.Barrier().parties, uint32(s.Parties))
	}
}

func maxMsgOr(m, ring int) int {
	if m <= 0 || m > ring-4 {
		return ring - 4
	}
	return m
}

// Recover repairs o after the tokens dead reports have ended; see
// Arena.Recover.
func (o Object) Recover(dead Dead, self Token) { o.recoverFrom(dead, self) }
