package pool

import (
	"fmt"
	"math"
	"sync/atomic"
	"unsafe"

	"github.com/wasmpool/wasmpool/abi"
)

// Number is the type of Value and Array cells: Python's 'i', 'I', 'q',
// 'Q' and 'd'.
type Number = abi.Number

// Array is a fixed-length array of numbers in a shared-memory segment,
// after Python's multiprocessing.Array: every process of the pool sees the
// same cells (guests with guest.OpenArray). Load, Store and Add are atomic
// on each cell; the optional Lock is for updates that span cells. The
// methods are safe for concurrent use, except Close: it unmaps the cells
// and must be the last call on the Array.
type Array[T Number] struct {
	seg   *SharedMemory
	cells []T
	lock  *Lock
}

// NewArray creates an array of n zeroed cells in a new segment named name
// ("" for a unique one). With lock, it also creates a Lock named
// name+".lock" that Lock returns here and in every process that opens the
// array. Errors: those of CreateSharedMemory and NewLock.
func NewArray[T Number](p *Pool, name string, n int, lock bool) (*Array[T], error) {
	if n < 0 || n > abi.MaxCells {
		return nil, fmt.Errorf("pool: array of %d cells: %w", n, ErrBadSize)
	}
	ct := abi.CellTypeOf[T]()
	s, err := p.CreateSharedMemory(name, abi.CellsSize(ct, n))
	if err != nil {
		return nil, err
	}
	var l *Lock
	lockName := ""
	if lock {
		lockName = s.Name() + ".lock"
		if l, err = p.NewLock(lockName); err != nil {
			s.Unlink()
			s.Close()
			return nil, err
		}
	}
	if err := abi.InitCells(s.Bytes(), ct, n, lockName); err != nil {
		s.Unlink()
		s.Close()
		return nil, err
	}
	return openCells[T](p, s, l)
}

// OpenArray opens the array named name. ErrNotFound if there is none;
// ErrCorrupt if the segment does not hold cells of type T.
func OpenArray[T Number](p *Pool, name string) (*Array[T], error) {
	s, err := p.OpenSharedMemory(name)
	if err != nil {
		return nil, err
	}
	return openCells[T](p, s, nil)
}

func openCells[T Number](p *Pool, s *SharedMemory, l *Lock) (*Array[T], error) {
	c, err := abi.OpenCells(s.Bytes(), abi.CellTypeOf[T]())
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("pool: segment %q: %w", s.Name(), ErrCorrupt)
	}
	if l == nil && c.Lock != "" {
		if l, err = p.OpenLock(c.Lock); err != nil {
			s.Close()
			return nil, err
		}
	}
	var cells []T
	if c.Count > 0 {
		cells = unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(c.Data))), c.Count)
	}
	return &Array[T]{seg: s, cells: cells, lock: l}, nil
}

// Name returns the name of the array's segment.
func (a *Array[T]) Name() string { return a.seg.Name() }

// Len returns the number of cells.
func (a *Array[T]) Len() int { return len(a.cells) }

// Lock returns the array's lock, or nil if it was made without one.
func (a *Array[T]) Lock() *Lock { return a.lock }

// Cells returns the cells themselves, shared with every process: plain
// reads and writes of them are not atomic. Valid until Close.
func (a *Array[T]) Cells() []T { return a.cells }

// Load atomically reads cell i. It panics if i is out of range, as
// indexing does.
func (a *Array[T]) Load(i int) T {
	p := unsafe.Pointer(&a.cells[i])
	switch abi.CellTypeOf[T]().Size() {
	case 4:
		v := atomic.LoadUint32((*uint32)(p))
		return *(*T)(unsafe.Pointer(&v))
	}
	v := atomic.LoadUint64((*uint64)(p))
	return *(*T)(unsafe.Pointer(&v))
}

// Store atomically writes v to cell i.
func (a *Array[T]) Store(i int, v T) {
	p := unsafe.Pointer(&a.cells[i])
	switch abi.CellTypeOf[T]().Size() {
	case 4:
		atomic.StoreUint32((*uint32)(p), *(*uint32)(unsafe.Pointer(&v)))
	default:
		atomic.StoreUint64((*uint64)(p), *(*uint64)(unsafe.Pointer(&v)))
	}
}

// Add atomically adds delta to cell i and returns the new value; integers
// wrap. A float64 cell is updated by compare-and-swap.
func (a *Array[T]) Add(i int, delta T) T {
	p := unsafe.Pointer(&a.cells[i])
	switch abi.CellTypeOf[T]() {
	case abi.CellInt32, abi.CellUint32:
		v := atomic.AddUint32((*uint32)(p), *(*uint32)(unsafe.Pointer(&delta)))
		return *(*T)(unsafe.Pointer(&v))
	case abi.CellInt64, abi.CellUint64:
		v := atomic.AddUint64((*uint64)(p), *(*uint64)(unsafe.Pointer(&delta)))
		return *(*T)(unsafe.Pointer(&v))
	}
	w := (*uint64)(p)
	for {
		old := atomic.LoadUint64(w)
		nu := math.Float64bits(math.Float64frombits(old) + float64(delta))
		if atomic.CompareAndSwapUint64(w, old, nu) {
			f := math.Float64frombits(nu)
			return *(*T)(unsafe.Pointer(&f))
		}
	}
}

// Unlink removes the array's name (see SharedMemory.Unlink). Its lock, if
// any, lives as long as the pool.
func (a *Array[T]) Unlink() error { return a.seg.Unlink() }

// Close unmaps the array from the parent; Cells must not be used after.
func (a *Array[T]) Close() error {
	a.cells = nil
	return a.seg.Close()
}

// Value is one number in shared memory, after Python's
// multiprocessing.Value: an Array of one cell, with the same rules (Close
// is the last call).
type Value[T Number] struct{ a *Array[T] }

// NewValue creates a value holding initial; see NewArray for name and
// lock.
func NewValue[T Number](p *Pool, name string, initial T, lock bool) (*Value[T], error) {
	a, err := NewArray[T](p, name, 1, lock)
	if err != nil {
		return nil, err
	}
	a.Store(0, initial)
	return &Value[T]{a}, nil
}

// OpenValue opens the value named name.
func OpenValue[T Number](p *Pool, name string) (*Value[T], error) {
	a, err := OpenArray[T](p, name)
	if err != nil {
		return nil, err
	}
	if a.Len() != 1 {
		a.Close()
		return nil, fmt.Errorf("pool: %q is an array of %d: %w", name, a.Len(), ErrCorrupt)
	}
	return &Value[T]{a}, nil
}

// Name returns the name of the value's segment.
func (v *Value[T]) Name() string { return v.a.Name() }

// Load atomically reads the value.
func (v *Value[T]) Load() T { return v.a.Load(0) }

// Store atomically writes x.
func (v *Value[T]) Store(x T) { v.a.Store(0, x) }

// Add atomically adds delta and returns the new value.
func (v *Value[T]) Add(delta T) T { return v.a.Add(0, delta) }

// Lock returns the value's lock, or nil if it was made without one.
func (v *Value[T]) Lock() *Lock { return v.a.Lock() }

// Unlink removes the value's name.
func (v *Value[T]) Unlink() error { return v.a.Unlink() }

// Close unmaps the value from the parent.
func (v *Value[T]) Close() error { return v.a.Close() }
