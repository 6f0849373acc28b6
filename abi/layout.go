package abi

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"

	"github.com/wasmpool/wasmpool/internal/sfmt"
)

// ErrMalformed is returned (wrapped, with the reason) when bytes do not
// follow the [List] or [Results] layout.
var ErrMalformed = errors.New("abi: malformed layout")

// List is the layout of a sequence of byte strings, used for batch inputs,
// process arguments and the function table. All integers are little-endian:
//
//	u32 count
//	count × { u32 len; len bytes }
//
// A List is a byte slice in that layout; the functions below build and read
// it without copying item bytes more than once.
type List []byte

// ListSize returns the encoded size of a List holding items.
func ListSize(items [][]byte) int {
	n := 4
	for _, it := range items {
		n += 4 + len(it)
	}
	return n
}

// AppendList appends the List encoding of items to dst and returns the
// extended slice.
func AppendList(dst []byte, items [][]byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(items)))
	for _, it := range items {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(it)))
		dst = append(dst, it...)
	}
	return dst
}

// ParseList splits a List into its items. The items alias b: the caller
// must copy them if b will be reused. It fails with [ErrMalformed] when a
// length runs past the end, bytes are left over, or count exceeds maxItems
// (no limit when maxItems < 0).
func ParseList(b []byte, maxItems int) ([][]byte, error) {
	return AppendItems(nil, b, maxItems)
}

// AppendItems is [ParseList] appending the items to dst, so that a caller
// that keeps dst between calls parses without allocating.
func AppendItems(dst [][]byte, b []byte, maxItems int) ([][]byte, error) {
	count, rest, err := readCount(b, maxItems, 4)
	if err != nil {
		return dst, err
	}
	dst = slices.Grow(dst, count)
	for i := range count {
		if len(rest) < 4 {
			return dst, sfmt.Errorf("%w: item %d: header past end", ErrMalformed, i)
		}
		n := binary.LittleEndian.Uint32(rest)
		rest = rest[4:]
		if uint64(n) > uint64(len(rest)) {
			return dst, sfmt.Errorf("%w: item %d: length %d past end (%d bytes left)", ErrMalformed, i, n, len(rest))
		}
		dst = append(dst, rest[:n:n])
		rest = rest[n:]
	}
	if len(rest) != 0 {
		return dst, sfmt.Errorf("%w: %d bytes after last item", ErrMalformed, len(rest))
	}
	return dst, nil
}

// readCount reads the leading u32 count and checks it against maxItems and
// against the smallest size count items of minItem bytes could take, so a
// hostile count cannot make the reader allocate more than the input justifies.
func readCount(b []byte, maxItems, minItem int) (int, []byte, error) {
	if len(b) < 4 {
		return 0, nil, sfmt.Errorf("%w: %d bytes, too short for a count", ErrMalformed, len(b))
	}
	count := uint64(binary.LittleEndian.Uint32(b))
	rest := b[4:]
	if maxItems >= 0 && count > uint64(maxItems) {
		return 0, nil, sfmt.Errorf("%w: %d items, limit %d", ErrMalformed, count, maxItems)
	}
	if count*uint64(minItem) > uint64(len(rest)) {
		return 0, nil, sfmt.Errorf("%w: %d items cannot fit in %d bytes", ErrMalformed, count, len(rest))
	}
	return int(count), rest, nil
}

// Results is the layout of a call's output: one result per item, in order.
// All integers are little-endian:
//
//	u32 count
//	count × { u8 status; u32 len; len bytes }
//
// status is a [Status]; the bytes are the output for [StatusOK] and a UTF-8
// message otherwise.
type Results []byte

// Result is one decoded entry of a [Results] layout. Payload aliases the
// bytes it was parsed from.
type Result struct {
	Status  Status
	Payload []byte
}

// ResultsBuilder appends results to a [Results] layout. The zero value is
// ready to use; Bytes fixes the count. It is not safe for concurrent use.
type ResultsBuilder struct {
	buf   []byte
	count uint32
}

// Reset empties the builder and reuses buf's storage, which may be nil.
func (rb *ResultsBuilder) Reset(buf []byte) {
	rb.buf = append(buf[:0], 0, 0, 0, 0)
	rb.count = 0
}

// Add appends one result.
func (rb *ResultsBuilder) Add(status Status, payload []byte) {
	if len(rb.buf) < 4 {
		rb.Reset(rb.buf)
	}
	rb.buf = append(rb.buf, byte(status))
	rb.buf = binary.LittleEndian.AppendUint32(rb.buf, uint32(len(payload)))
	rb.buf = append(rb.buf, payload...)
	rb.count++
}

// Bytes returns the finished layout. It aliases the builder's storage until
// the next Reset.
func (rb *ResultsBuilder) Bytes() []byte {
	if len(rb.buf) < 4 {
		rb.Reset(rb.buf)
	}
	binary.LittleEndian.PutUint32(rb.buf, rb.count)
	return rb.buf
}

// ParseResults decodes a [Results] layout that must hold exactly want
// results. Payloads alias b.
func ParseResults(b []byte, want int) ([]Result, error) {
	count, rest, err := readCount(b, math.MaxInt32, 5)
	if err != nil {
		return nil, err
	}
	if count != want {
		return nil, sfmt.Errorf("%w: %d results for %d items", ErrMalformed, count, want)
	}
	out := make([]Result, count)
	for i := range out {
		if len(rest) < 5 {
			return nil, sfmt.Errorf("%w: result %d: header past end", ErrMalformed, i)
		}
		st := Status(rest[0])
		if st > StatusInvalidInput {
			return nil, sfmt.Errorf("%w: result %d: unknown status %d", ErrMalformed, i, uint8(st))
		}
		n := binary.LittleEndian.Uint32(rest[1:])
		rest = rest[5:]
		if uint64(n) > uint64(len(rest)) {
			return nil, sfmt.Errorf("%w: result %d: length %d past end", ErrMalformed, i, n)
		}
		out[i] = Result{Status: st, Payload: rest[:n:n]}
		rest = rest[n:]
	}
	if len(rest) != 0 {
		return nil, sfmt.Errorf("%w: %d bytes after last result", ErrMalformed, len(rest))
	}
	return out, nil
}

// Function is one entry of a module's function table.
type Function struct {
	Name string
	Kind FuncKind
}

// AppendFunctions appends the [CallDescribe] output for fns to dst.
func AppendFunctions(dst []byte, fns []Function) []byte {
	items := make([][]byte, len(fns))
	for i, f := range fns {
		items[i] = append([]byte{byte(f.Kind)}, f.Name...)
	}
	return AppendList(dst, items)
}

// ParseFunctions decodes [CallDescribe] output. Names must be non-empty and
// kinds known.
func ParseFunctions(b []byte) ([]Function, error) {
	items, err := ParseList(b, 1<<16)
	if err != nil {
		return nil, err
	}
	fns := make([]Function, len(items))
	for i, it := range items {
		if len(it) < 2 {
			return nil, sfmt.Errorf("%w: function %d: empty entry", ErrMalformed, i)
		}
		k := FuncKind(it[0])
		if !k.IsTask() && k != FuncProcess {
			return nil, sfmt.Errorf("%w: function %d: unknown kind %d", ErrMalformed, i, uint8(k))
		}
		fns[i] = Function{Name: string(it[1:]), Kind: k}
	}
	return fns, nil
}

// Ref is the layout of a reference to a shared object, as a parent passes
// it to a guest inside a process argument or a task input (16 bytes):
//
//	"wpr1"  u32 kind  u32 handle  u32 end
//
// Handle is the object's handle in the pool's table (not an instance's
// local handle); End is the pipe end (0 or 1), 0 for other kinds. A guest
// turns a Ref into a local handle with object_ref.
type Ref struct {
	Kind   ObjectKind
	Handle uint32
	End    uint32
}

// RefSize is the encoded size of a Ref.
const RefSize = 16

const refMagic = "wpr1"

// AppendRef appends the encoding of r to dst.
func AppendRef(dst []byte, r Ref) []byte {
	dst = append(dst, refMagic...)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(r.Kind))
	dst = binary.LittleEndian.AppendUint32(dst, r.Handle)
	return binary.LittleEndian.AppendUint32(dst, r.End)
}

// ParseRef decodes a Ref; it fails with [ErrMalformed] unless b is exactly
// one encoded Ref.
func ParseRef(b []byte) (Ref, error) {
	if len(b) != RefSize || string(b[:4]) != refMagic {
		return Ref{}, sfmt.Errorf("%w: not a %d-byte object reference", ErrMalformed, RefSize)
	}
	return Ref{
		Kind:   ObjectKind(binary.LittleEndian.Uint32(b[4:])),
		Handle: binary.LittleEndian.Uint32(b[8:]),
		End:    binary.LittleEndian.Uint32(b[12:]),
	}, nil
}

// QueueInfo is the layout queue_info writes: six u32, little-endian.
type QueueInfo struct {
	Len, MaxMessages, Ring, MaxMessage, Closed, Unfinished uint32
}

// QueueInfoSize is the encoded size of a QueueInfo.
const QueueInfoSize = 24
