// Command shmem is an example guest: shared-memory segments mapped into
// guest memory across worker processes, after Python's
// multiprocessing.shared_memory, plus the guest halves of the segment
// benchmarks.
//
//	size(name)                     creates a 1024-byte segment, prints the
//	                               size asked for and the size it got, unlinks it
//	square(name, part, parts)      maps a segment holding n uint32 inputs then
//	                               n outputs; fills outputs[i] = inputs[i]²+1
//	                               for its part of i
//	count(name, n)                 adds 1 to the segment's first uint64, n times,
//	                               with atomic adds
//	write(name, rounds)            fills the whole segment with a pattern
//	                               rounds times; prints ns per round
//	sum(name, rounds)              sums the segment's uint64s rounds times;
//	                               prints ns per round and the sum
//	handshake(name)                opens and maps a segment, sets its first
//	                               uint32 to 1, notifies, unmaps
//	cycle(n)                       n times: creates a 4 KiB segment, maps it,
//	                               writes a byte, unmaps, unlinks, closes;
//	                               prints ns per cycle
//	list-edit(name)                prints a ShareableList's items (Go syntax),
//	                               then adds 1 to item 0 and upper-cases
//	                               the string in item 1
//	value-add(name, n, locked)     adds 0.5 to a float64 Value n times, under
//	                               its lock when locked is "1"
//	array-fill(name, part, parts)  sets its part of an int32 Array to i*i
//	await(name)                    waits until the segment's first uint32 is
//	                               not 0, then prints "woken"
package main

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/wasmpool/wasmpool/guest"
)

func init() {
	guest.Process("size", sizeExample)
	guest.Process("square", square)
	guest.Process("count", count)
	guest.Process("write", write)
	guest.Process("sum", sum)
	guest.Process("handshake", handshake)
	guest.Process("await", await)
	guest.Process("cycle", cycle)
	guest.Process("list-edit", listEdit)
	guest.Process("value-add", valueAdd)
	guest.Process("array-fill", arrayFill)
}

func main() {}

func need(args [][]byte, n int) error {
	if len(args) != n {
		return fmt.Errorf("want %d arguments, got %d", n, len(args))
	}
	return nil
}

func intArg(b []byte) (int, error) { return strconv.Atoi(string(b)) }

// mappedWithCount takes (segment name, count) arguments: it maps the
// segment and parses the count.
func mappedWithCount(args [][]byte) (*guest.SharedMemory, []byte, int, error) {
	if err := need(args, 2); err != nil {
		return nil, nil, 0, err
	}
	n, err := intArg(args[1])
	if err != nil {
		return nil, nil, 0, err
	}
	s, b, err := mapped(args[0])
	return s, b, n, err
}

// mapped opens the segment named by arg and maps it.
func mapped(arg []byte) (*guest.SharedMemory, []byte, error) {
	s, err := guest.OpenSharedMemory(string(arg))
	if err != nil {
		return nil, nil, err
	}
	b, err := s.Map()
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	return s, b, nil
}

// sizeExample is the article's example: a segment of 1024 bytes is a
// whole page (here a wasm page, 64 KiB).
func sizeExample(args [][]byte) error {
	if err := need(args, 1); err != nil {
		return err
	}
	s, err := guest.CreateSharedMemory(string(args[0]), 1024)
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Printf("asked for 1024 bytes, got %d\n", s.Size())
	return s.Unlink()
}

func square(args [][]byte) error {
	if err := need(args, 3); err != nil {
		return err
	}
	part, err := intArg(args[1])
	if err != nil {
		return err
	}
	parts, err := intArg(args[2])
	if err != nil || parts < 1 || part < 0 || part >= parts {
		return fmt.Errorf("bad part %s of %s", args[1], args[2])
	}
	s, b, err := mapped(args[0])
	if err != nil {
		return err
	}
	defer s.Close()
	n := len(b) / 8
	lo, hi := n*part/parts, n*(part+1)/parts
	in, out := b[:4*n], b[4*n:]
	for i := lo; i < hi; i++ {
		x := binary.LittleEndian.Uint32(in[4*i:])
		binary.LittleEndian.PutUint32(out[4*i:], x*x+1)
	}
	return nil
}

func count(args [][]byte) error {
	s, b, n, err := mappedWithCount(args)
	if err != nil {
		return err
	}
	defer s.Close()
	w := guest.Word64(b, 0)
	start := time.Now()
	for range n {
		guest.AtomicAdd64(w, 1)
	}
	if n > 0 {
		fmt.Printf("%d ns/add\n", time.Since(start).Nanoseconds()/int64(n))
	}
	return nil
}

func write(args [][]byte) error {
	s, b, rounds, err := mappedWithCount(args)
	if err != nil {
		return err
	}
	defer s.Close()
	var best time.Duration
	for r := range rounds {
		start := time.Now()
		// A pattern in the first 4 KiB, then copied over the rest in
		// doubling steps: Go's copy is wasm's memory.copy, a native
		// memmove in wazero.
		head := b[:min(len(b), 4096)]
		for i := 0; i+8 <= len(head); i += 8 {
			binary.LittleEndian.PutUint64(head[i:], uint64(i/8+r))
		}
		for done := len(head); done < len(b); done *= 2 {
			copy(b[done:], b[:done])
		}
		if d := time.Since(start); r == 0 || d < best {
			best = d
		}
	}
	fmt.Printf("%d ns\n", best.Nanoseconds())
	return nil
}

func sum(args [][]byte) error {
	s, b, rounds, err := mappedWithCount(args)
	if err != nil {
		return err
	}
	defer s.Close()
	var best time.Duration
	var total uint64
	for r := range rounds {
		start := time.Now()
		// The window is 64 KiB-aligned, and wasm is little-endian: read
		// it as uint64s, four accumulators deep.
		ws := unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/8)
		var a, c, d, e uint64
		for i := 0; i+4 <= len(ws); i += 4 {
			w := ws[i : i+4 : i+4]
			a += w[0]
			c += w[1]
			d += w[2]
			e += w[3]
		}
		total = a + c + d + e
		if d := time.Since(start); r == 0 || d < best {
			best = d
		}
	}
	fmt.Printf("%d ns %d\n", best.Nanoseconds(), total)
	return nil
}

func handshake(args [][]byte) error {
	if err := need(args, 1); err != nil {
		return err
	}
	s, b, err := mapped(args[0])
	if err != nil {
		return err
	}
	defer s.Close()
	w := guest.Word32(b, 0)
	guest.AtomicStore32(w, 1)
	guest.AtomicNotify(w, -1)
	return s.Unmap()
}

func await(args [][]byte) error {
	if err := need(args, 1); err != nil {
		return err
	}
	s, b, err := mapped(args[0])
	if err != nil {
		return err
	}
	defer s.Close()
	w := guest.Word32(b, 0)
	for guest.AtomicLoad32(w) == 0 {
		if err := guest.AtomicWait32(w, 0, guest.Forever); err != nil && err != guest.ErrWouldBlock {
			return err
		}
	}
	fmt.Println("woken")
	return nil
}

func cycle(args [][]byte) error {
	if err := need(args, 1); err != nil {
		return err
	}
	n, err := intArg(args[0])
	if err != nil || n < 1 {
		return fmt.Errorf("bad count %q", args[0])
	}
	start := time.Now()
	for range n {
		s, err := guest.CreateSharedMemory("", 4096)
		if err != nil {
			return err
		}
		b, err := s.Map()
		if err != nil {
			return err
		}
		b[0] = 1
		if err := s.Unmap(); err != nil {
			return err
		}
		if err := s.Unlink(); err != nil {
			return err
		}
		if err := s.Close(); err != nil {
			return err
		}
	}
	fmt.Printf("%d ns\n", time.Since(start).Nanoseconds()/int64(n))
	return nil
}

func listEdit(args [][]byte) error {
	if err := need(args, 1); err != nil {
		return err
	}
	l, err := guest.OpenShareableList(string(args[0]))
	if err != nil {
		return err
	}
	defer l.Close()
	for i := range l.Len() {
		v, err := l.Get(i)
		if err != nil {
			return err
		}
		fmt.Printf("%d: %#v\n", i, v)
	}
	n, err := l.Get(0)
	if err != nil {
		return err
	}
	if err := l.Set(0, n.(int64)+1); err != nil {
		return err
	}
	s, err := l.Get(1)
	if err != nil {
		return err
	}
	return l.Set(1, strings.ToUpper(s.(string)))
}

func valueAdd(args [][]byte) error {
	if err := need(args, 3); err != nil {
		return err
	}
	n, err := intArg(args[1])
	if err != nil {
		return err
	}
	v, err := guest.OpenValue[float64](string(args[0]))
	if err != nil {
		return err
	}
	defer v.Close()
	if string(args[2]) != "1" {
		for range n {
			v.Add(0.5)
		}
		return nil
	}
	lock, err := v.Lock()
	if err != nil || lock == nil {
		return fmt.Errorf("value lock: %v", err)
	}
	for range n {
		if err := lock.Acquire(guest.Forever); err != nil {
			return err
		}
		v.Store(v.Load() + 0.5) // a read-modify-write that needs the lock
		if err := lock.Release(); err != nil {
			return err
		}
	}
	return nil
}

func arrayFill(args [][]byte) error {
	if err := need(args, 3); err != nil {
		return err
	}
	part, err := intArg(args[1])
	if err != nil {
		return err
	}
	parts, err := intArg(args[2])
	if err != nil || parts < 1 || part < 0 || part >= parts {
		return fmt.Errorf("bad part %s of %s", args[1], args[2])
	}
	a, err := guest.OpenArray[int32](string(args[0]))
	if err != nil {
		return err
	}
	defer a.Close()
	cells := a.Cells()
	for i := len(cells) * part / parts; i < len(cells)*(part+1)/parts; i++ {
		cells[i] = int32(i * i)
	}
	return nil
}
