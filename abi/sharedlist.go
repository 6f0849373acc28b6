package abi

import (
	"encoding/binary"
	"errors"
	"math"
	"reflect"

	"github.com/wasmpool/wasmpool/internal/sfmt"
)

// The ShareableList layout: a fixed-length list of typed items in a
// segment, readable and writable in place by every process that maps it
// (the parent, Go guests, and guests in any language that follow this
// layout). Little-endian throughout:
//
//	header  16 bytes: magic "WPSL" (u32 0x4c535057), count u32,
//	        data bytes u32, reserved u32
//	slots   count × 16 bytes: type u8, 3 reserved, length u32,
//	        offset u32 (into the data area), capacity u32
//	data    the items' bytes, each slot's at its offset, capacity bytes
//
// Every item has an explicit length, so bytes and strings keep trailing
// zero bytes and strings are stored as UTF-8 exactly (Python's
// ShareableList strips trailing NULs and mis-sizes multi-byte UTF-8). A
// slot's capacity is fixed at creation: at least 8 bytes, and the length of
// its initial value rounded up to 8; a later value must fit it. Numbers
// take 8 bytes, bool 1, nil 0.
//
// The layout has no lock: a reader racing a writer may see a torn item,
// as with Python's. Readers validate every slot (a hostile process may
// scribble on the segment) and report ErrListCorrupt rather than trusting
// it.
const (
	sharedListMagic  = 0x4c535057 // "WPSL"
	sharedListHeader = 16
	sharedListSlot   = 16
)

// ListType is the type tag of a ShareableList item.
type ListType byte

// The item types.
const (
	ListNil    ListType = 0
	ListInt    ListType = 1 // int64
	ListFloat  ListType = 2 // float64
	ListBool   ListType = 3
	ListString ListType = 4 // UTF-8
	ListBytes  ListType = 5
)

// Errors of the ShareableList layout.
var (
	// ErrListType is returned for a value of a type a ShareableList cannot
	// hold.
	ErrListType = errors.New("abi: ShareableList holds int64, float64, bool, string, []byte and nil only")
	// ErrListFull is returned when a value is longer than its slot's
	// capacity.
	ErrListFull = errors.New("abi: value longer than its ShareableList slot")
	// ErrListCorrupt is returned for a segment whose header or slots are
	// not a valid ShareableList.
	ErrListCorrupt = errors.New("abi: not a valid ShareableList")
	// ErrListIndex is returned for an index outside the list.
	ErrListIndex = errors.New("abi: ShareableList index out of range")
)

// listItem encodes v: its type, its bytes (nil for numbers, encoded in
// place) and the number of bytes it needs.
func listItem(v any) (ListType, []byte, uint64, error) {
	switch x := v.(type) {
	case nil:
		return ListNil, nil, 0, nil
	case int:
		return ListInt, nil, uint64(int64(x)), nil
	case int64:
		return ListInt, nil, uint64(x), nil
	case int32:
		return ListInt, nil, uint64(int64(x)), nil
	case float64:
		return ListFloat, nil, math.Float64bits(x), nil
	case bool:
		if x {
			return ListBool, nil, 1, nil
		}
		return ListBool, nil, 0, nil
	case string:
		return ListString, []byte(x), 0, nil
	case []byte:
		return ListBytes, x, 0, nil
	}
	return 0, nil, 0, sfmt.Errorf("%w: got %s", ErrListType, reflect.TypeOf(v).String())
}

func itemLen(t ListType, b []byte) int {
	switch t {
	case ListNil:
		return 0
	case ListBool:
		return 1
	case ListInt, ListFloat:
		return 8
	}
	return len(b)
}

func slotCapacity(t ListType, b []byte) int { return max(8, (itemLen(t, b)+7)&^7) }

// SharedListSize returns how many bytes a ShareableList of items needs.
func SharedListSize(items []any) (int, error) {
	n := sharedListHeader + sharedListSlot*len(items)
	for _, v := range items {
		t, b, _, err := listItem(v)
		if err != nil {
			return 0, err
		}
		n += slotCapacity(t, b)
	}
	if n > math.MaxUint32 {
		return 0, sfmt.Errorf("abi: ShareableList of %d bytes is too large", n)
	}
	return n, nil
}

// SharedList is a view of a ShareableList laid out in b, which is usually
// a mapped segment. Its methods read and write b in place; they are not
// atomic. The zero value is an empty list.
type SharedList struct {
	b     []byte
	count int
	data  []byte
}

// InitSharedList lays out a list of items at the start of b, which must be
// at least SharedListSize(items) bytes, and returns its view.
func InitSharedList(b []byte, items []any) (SharedList, error) {
	size, err := SharedListSize(items)
	if err != nil {
		return SharedList{}, err
	}
	if len(b) < size {
		return SharedList{}, sfmt.Errorf("abi: ShareableList needs %d bytes, has %d", size, len(b))
	}
	dataStart := sharedListHeader + sharedListSlot*len(items)
	binary.LittleEndian.PutUint32(b[0:], sharedListMagic)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(items)))
	binary.LittleEndian.PutUint32(b[8:], uint32(size-dataStart))
	binary.LittleEndian.PutUint32(b[12:], 0)
	off := 0
	for i, v := range items {
		t, raw, _, _ := listItem(v)
		s := b[sharedListHeader+sharedListSlot*i:]
		c := slotCapacity(t, raw)
		binary.LittleEndian.PutUint32(s[8:], uint32(off))
		binary.LittleEndian.PutUint32(s[12:], uint32(c))
		off += c
	}
	l := SharedList{b: b, count: len(items), data: b[dataStart:size]}
	for i, v := range items {
		if err := l.Set(i, v); err != nil {
			return SharedList{}, err
		}
	}
	return l, nil
}

// OpenSharedList returns the view of the list laid out in b, checking its
// header (each slot is checked when it is read or written).
func OpenSharedList(b []byte) (SharedList, error) {
	if len(b) < sharedListHeader || binary.LittleEndian.Uint32(b) != sharedListMagic {
		return SharedList{}, ErrListCorrupt
	}
	count := uint64(binary.LittleEndian.Uint32(b[4:]))
	dataLen := uint64(binary.LittleEndian.Uint32(b[8:]))
	dataStart := sharedListHeader + sharedListSlot*count
	if dataStart+dataLen > uint64(len(b)) {
		return SharedList{}, ErrListCorrupt
	}
	return SharedList{b: b, count: int(count), data: b[dataStart : dataStart+dataLen]}, nil
}

// Len returns the number of items.
func (l SharedList) Len() int { return l.count }

// slot returns item i's slot and its data area, validated.
func (l SharedList) slot(i int) ([]byte, []byte, error) {
	if i < 0 || i >= l.count {
		return nil, nil, sfmt.Errorf("%w: %d of %d", ErrListIndex, i, l.count)
	}
	s := l.b[sharedListHeader+sharedListSlot*i : sharedListHeader+sharedListSlot*(i+1)]
	off, c := uint64(binary.LittleEndian.Uint32(s[8:])), uint64(binary.LittleEndian.Uint32(s[12:]))
	if off+c > uint64(len(l.data)) || c < 8 {
		return nil, nil, sfmt.Errorf("%w: slot %d", ErrListCorrupt, i)
	}
	return s, l.data[off : off+c], nil
}

// Get returns item i: an int64, float64, bool, string, []byte (a copy) or
// nil.
func (l SharedList) Get(i int) (any, error) {
	s, d, err := l.slot(i)
	if err != nil {
		return nil, err
	}
	t, n := ListType(s[0]), uint64(binary.LittleEndian.Uint32(s[4:]))
	if n > uint64(len(d)) {
		return nil, sfmt.Errorf("%w: slot %d", ErrListCorrupt, i)
	}
	switch t {
	case ListNil:
		return nil, nil
	case ListInt:
		return int64(binary.LittleEndian.Uint64(d)), nil
	case ListFloat:
		return math.Float64frombits(binary.LittleEndian.Uint64(d)), nil
	case ListBool:
		return d[0] != 0, nil
	case ListString:
		return string(d[:n]), nil
	case ListBytes:
		return append([]byte{}, d[:n]...), nil
	}
	return nil, sfmt.Errorf("%w: slot %d has type %d", ErrListCorrupt, i, uint8(t))
}

// Set stores v as item i. v may be of another type than the item was; a
// string or []byte must fit the slot's capacity (ErrListFull).
func (l SharedList) Set(i int, v any) error {
	t, raw, num, err := listItem(v)
	if err != nil {
		return err
	}
	s, d, err := l.slot(i)
	if err != nil {
		return err
	}
	n := itemLen(t, raw)
	if n > len(d) {
		return sfmt.Errorf("%w: %d bytes into slot %d of %d", ErrListFull, n, i, len(d))
	}
	switch t {
	case ListInt, ListFloat:
		binary.LittleEndian.PutUint64(d, num)
	case ListBool:
		d[0] = byte(num)
	case ListString, ListBytes:
		copy(d, raw)
	}
	s[0] = byte(t)
	binary.LittleEndian.PutUint32(s[4:], uint32(n))
	return nil
}

// Capacity returns how many bytes item i can hold.
func (l SharedList) Capacity(i int) (int, error) {
	_, d, err := l.slot(i)
	return len(d), err
}
