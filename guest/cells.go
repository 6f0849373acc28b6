package guest

import (
	"math"
	"unsafe"

	"github.com/wasmpool/wasmpool/abi"
	"github.com/wasmpool/wasmpool/internal/sfmt"
)

// Number is the type of Value and Array cells: Python's 'i', 'I', 'q',
// 'Q' and 'd'.
type Number = abi.Number

// Array is a pool Array (the parent's pool.NewArray, Python's
// multiprocessing.Array) mapped into this guest: Cells are the shared
// cells themselves; Load, Store and Add are atomic across processes (host
// calls). Used by one goroutine at a time; Close releases it.
type Array[T Number] struct {
	seg   *SharedMemory
	cells []T
	lock  string
}

// OpenArray opens and maps the array named name. Errors: ErrNotFound;
// abi.ErrCellsCorrupt if the segment does not hold cells of type T.
func OpenArray[T Number](name string) (*Array[T], error) {
	s, b, err := openMapped(name)
	if err != nil {
		return nil, err
	}
	c, err := abi.OpenCells(b, abi.CellTypeOf[T]())
	if err != nil {
		s.Close()
		return nil, sfmt.Errorf("guest: segment %q: %w", name, err)
	}
	var cells []T
	if c.Count > 0 {
		cells = unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(c.Data))), c.Count)
	}
	return &Array[T]{seg: s, cells: cells, lock: c.Lock}, nil
}

// Len returns the number of cells.
func (a *Array[T]) Len() int { return len(a.cells) }

// Cells returns the shared cells; plain reads and writes are not atomic.
func (a *Array[T]) Cells() []T { return a.cells }

// Lock opens the array's lock, or returns nil, nil if it has none.
func (a *Array[T]) Lock() (*Lock, error) {
	if a.lock == "" {
		return nil, nil
	}
	return OpenLock(a.lock, false)
}

func (a *Array[T]) size() uint32 { return uint32(abi.CellTypeOf[T]().Size()) * 8 }

// Load atomically reads cell i.
func (a *Array[T]) Load(i int) T {
	v := must(atomicLoad(unsafe.Pointer(&a.cells[i]), a.size()))
	return fromBits[T](v)
}

// Store atomically writes v to cell i.
func (a *Array[T]) Store(i int, v T) {
	mustOK(atomicStore(unsafe.Pointer(&a.cells[i]), a.size(), toBits(v)))
}

// Add atomically adds delta to cell i and returns the new value.
func (a *Array[T]) Add(i int, delta T) T {
	p := unsafe.Pointer(&a.cells[i])
	if abi.CellTypeOf[T]() != abi.CellFloat64 {
		return fromBits[T](must(atomicAdd(p, a.size(), toBits(delta))))
	}
	for {
		old := must(atomicLoad(p, 64))
		nu := math.Float64bits(math.Float64frombits(old) + float64(delta))
		if must(atomicCAS(p, 64, old, nu)) == old {
			return fromBits[T](nu)
		}
	}
}

// Close unmaps the array and releases its handle.
func (a *Array[T]) Close() error {
	a.cells = nil
	return a.seg.Close()
}

// toBits returns v's bits, zero-extended to 64.
func toBits[T Number](v T) uint64 {
	if unsafe.Sizeof(v) == 4 {
		return uint64(*(*uint32)(unsafe.Pointer(&v)))
	}
	return *(*uint64)(unsafe.Pointer(&v))
}

func fromBits[T Number](b uint64) T {
	var v T
	if unsafe.Sizeof(v) == 4 {
		u := uint32(b)
		return *(*T)(unsafe.Pointer(&u))
	}
	return *(*T)(unsafe.Pointer(&b))
}

// Value is a pool Value (Python's multiprocessing.Value) mapped into this
// guest: an Array of one cell.
type Value[T Number] struct{ a *Array[T] }

// OpenValue opens and maps the value named name.
func OpenValue[T Number](name string) (*Value[T], error) {
	a, err := OpenArray[T](name)
	if err != nil {
		return nil, err
	}
	if a.Len() != 1 {
		a.Close()
		return nil, sfmt.Errorf("guest: %q is an array of %d: %w", name, a.Len(), abi.ErrCellsCorrupt)
	}
	return &Value[T]{a}, nil
}

// Load atomically reads the value.
func (v *Value[T]) Load() T { return v.a.Load(0) }

// Store atomically writes x.
func (v *Value[T]) Store(x T) { v.a.Store(0, x) }

// Add atomically adds delta and returns the new value.
func (v *Value[T]) Add(delta T) T { return v.a.Add(0, delta) }

// Lock opens the value's lock, or returns nil, nil if it has none.
func (v *Value[T]) Lock() (*Lock, error) { return v.a.Lock() }

// Close unmaps the value.
func (v *Value[T]) Close() error { return v.a.Close() }

// ShareableList is a pool ShareableList (Python's
// shared_memory.ShareableList) mapped into this guest; see the parent's
// pool.ShareableList for its items and limits. Reads and writes go straight
// to the shared memory and are not atomic.
type ShareableList struct {
	seg  *SharedMemory
	list abi.SharedList
}

// CreateShareableList creates a list of items (int, int64, float64, bool,
// string, []byte, nil) in a new segment named name ("" for a unique one).
func CreateShareableList(name string, items []any) (*ShareableList, error) {
	size, err := abi.SharedListSize(items)
	if err != nil {
		return nil, err
	}
	s, err := CreateSharedMemory(name, max(size, 1))
	if err != nil {
		return nil, err
	}
	b, err := s.Map()
	if err != nil {
		s.Unlink()
		s.Close()
		return nil, err
	}
	l, err := abi.InitSharedList(b, items)
	if err != nil {
		s.Unlink()
		s.Close()
		return nil, err
	}
	return &ShareableList{seg: s, list: l}, nil
}

// OpenShareableList opens and maps the list named name.
func OpenShareableList(name string) (*ShareableList, error) {
	s, b, err := openMapped(name)
	if err != nil {
		return nil, err
	}
	l, err := abi.OpenSharedList(b)
	if err != nil {
		s.Close()
		return nil, sfmt.Errorf("guest: segment %q: %w", name, err)
	}
	return &ShareableList{seg: s, list: l}, nil
}

// Name returns the list's segment name.
func (l *ShareableList) Name() string { return l.seg.Name() }

// Len returns the number of items.
func (l *ShareableList) Len() int { return l.list.Len() }

// Get returns item i (int64, float64, bool, string, []byte or nil). Errors
// wrap abi.ErrListIndex or abi.ErrListCorrupt.
func (l *ShareableList) Get(i int) (any, error) { return l.list.Get(i) }

// Set stores v as item i. Errors wrap abi.ErrListType, abi.ErrListFull or
// abi.ErrListIndex.
func (l *ShareableList) Set(i int, v any) error { return l.list.Set(i, v) }

// Unlink removes the list's name.
func (l *ShareableList) Unlink() error { return l.seg.Unlink() }

// Close unmaps the list and releases its handle.
func (l *ShareableList) Close() error {
	l.list = abi.SharedList{}
	return l.seg.Close()
}
