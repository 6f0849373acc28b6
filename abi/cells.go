package abi

import (
	"encoding/binary"
	"errors"
	"strconv"

	"github.com/wasmpool/wasmpool/internal/sfmt"
)

// The Value/Array layout: typed cells in a segment, after Python's
// multiprocessing.Value and Array. Little-endian:
//
//	header  16 bytes: magic "WPVA" (u32 0x41565057), type code u8,
//	        lock name length u8, reserved u16, count u32, reserved u32
//	lock    256 bytes: the name of the pool Lock that guards the cells
//	        (length 0: none)
//	cells   from byte CellsData: count cells of the type's size, each
//	        aligned to its size
//
// A Value is an Array of one cell. The lock is advisory, as in Python: the
// cells are plain memory, and 32- and 64-bit integer cells are also
// updated atomically (wasm atomics, or the atomic_* host calls for Go
// guests) without it.
const (
	cellsMagic = 0x41565057 // "WPVA"
	// CellsData is the offset of the first cell.
	CellsData = 272
)

// CellType is the type code of Value and Array cells; the codes are
// Python's array module letters.
type CellType byte

// The cell types.
const (
	CellInt32   CellType = 'i'
	CellUint32  CellType = 'I'
	CellInt64   CellType = 'q'
	CellUint64  CellType = 'Q'
	CellFloat64 CellType = 'd'
)

// Size returns the size of one cell in bytes, 0 for an unknown code.
func (c CellType) Size() int {
	switch c {
	case CellInt32, CellUint32:
		return 4
	case CellInt64, CellUint64, CellFloat64:
		return 8
	}
	return 0
}

// Number is the Go type of a cell: one of the types CellTypeOf maps.
type Number interface {
	int32 | uint32 | int64 | uint64 | float64
}

// CellTypeOf returns the cell type of T.
func CellTypeOf[T Number]() CellType {
	var zero T
	switch any(zero).(type) {
	case int32:
		return CellInt32
	case uint32:
		return CellUint32
	case int64:
		return CellInt64
	case uint64:
		return CellUint64
	}
	return CellFloat64
}

// ErrCellsCorrupt is returned for a segment that does not hold valid
// Value/Array cells, or holds cells of another type than asked for.
var ErrCellsCorrupt = errors.New("abi: not valid Value/Array cells of that type")

// MaxCells bounds the cells of one Value/Array: the count is a u32, and
// 2^32-1 cells of 8 bytes still fit an int's range.
const MaxCells = 1<<32 - 1

// CellsSize returns the bytes count (0..MaxCells) cells of type c need.
func CellsSize(c CellType, count int) int { return CellsData + count*c.Size() }

// InitCells lays out count zeroed cells of type c at the start of b, guarded
// by the named lock ("" for none).
func InitCells(b []byte, c CellType, count int, lock string) error {
	switch {
	case c.Size() == 0:
		return sfmt.Errorf("abi: cell type %s: %w", strconv.QuoteRune(rune(c)), ErrCellsCorrupt)
	case count < 0 || count > MaxCells:
		return sfmt.Errorf("abi: %d cells outside 0..%d", count, MaxCells)
	case len(b) < CellsSize(c, count):
		return sfmt.Errorf("abi: %d cells of type %s need %d bytes, have %d", count, strconv.QuoteRune(rune(c)), CellsSize(c, count), len(b))
	case len(lock) > 255:
		return sfmt.Errorf("abi: lock name of %d bytes is longer than 255", len(lock))
	}
	clear(b[:CellsSize(c, count)])
	binary.LittleEndian.PutUint32(b, cellsMagic)
	b[4], b[5] = byte(c), byte(len(lock))
	binary.LittleEndian.PutUint32(b[8:], uint32(count))
	copy(b[16:], lock)
	return nil
}

// Cells is a validated view of Value/Array cells in a segment.
type Cells struct {
	Type  CellType
	Count int
	Lock  string // "" when the cells have no lock
	Data  []byte // Count cells
}

// OpenCells checks the cells laid out in b and returns their view. want is
// the type the caller expects.
func OpenCells(b []byte, want CellType) (Cells, error) {
	if len(b) < CellsData || binary.LittleEndian.Uint32(b) != cellsMagic || CellType(b[4]) != want || want.Size() == 0 {
		return Cells{}, ErrCellsCorrupt
	}
	count := uint64(binary.LittleEndian.Uint32(b[8:]))
	end := CellsData + count*uint64(want.Size())
	if end > uint64(len(b)) {
		return Cells{}, ErrCellsCorrupt
	}
	return Cells{Type: want, Count: int(count), Lock: string(b[16 : 16+int(b[5])]), Data: b[CellsData:end]}, nil
}
