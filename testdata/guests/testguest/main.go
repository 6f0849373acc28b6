// Command testguest is the Go guest the host and pool tests run: one
// function for each behaviour a test needs, good and bad.
//
// Build (wasmbuild does this for every guest): GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -o testdata/testguest.wasm ./testdata/guests/testguest
package main

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/wasmpool/wasmpool/abi"
	"github.com/wasmpool/wasmpool/guest"
	"github.com/wasmpool/wasmpool/guest/typed"
)

//go:wasmimport wasmpool log
func rawLog(level uint32, ptr, n uint32) uint32

//go:wasmimport wasmpool call_output
func rawOutput(ptr, n uint32) uint32

//go:wasmimport wasmpool call_input
func rawInput(namePtr, inputPtr uint32) uint32

//go:wasmimport wasmpool object_create
func rawObjectCreate(kind, spec, specLen, name, nameLen, hptr uint32) uint32

//go:wasmimport wasmpool segment_open
func rawSegmentOpen(ptr unsafe.Pointer, n uint32, hptr unsafe.Pointer) uint32

//go:wasmimport wasmpool segment_create
func rawSegmentCreate(ptr uint32, n uint32, size int64, hptr uint32) uint32

//go:wasmimport wasmpool segment_map
func rawSegmentMap(h uint32, window uint32) uint32

//go:wasmimport wasmpool segment_read
func rawSegmentRead(h uint32, off int64, ptr uint32, n uint32) uint32

//go:wasmimport wasmpool segment_unmap
func rawSegmentUnmap(h uint32) uint32

//go:wasmimport wasmpool segment_close
func rawSegmentClose(h uint32) uint32

//go:wasmimport wasmpool atomic_add
func rawAtomicAdd(addr uint32, width uint32, delta uint64, out uint32) uint32

//go:wasmimport wasmpool atomic_wait
func rawAtomicWait(addr uint32, expected uint64, timeout int64) uint32

// sink keeps the spin loop from being optimized away.
var sink uint64

func init() {
	guest.Task("echo", func(in []byte) ([]byte, error) { return in, nil })
	guest.Task("double", func(in []byte) ([]byte, error) {
		if len(in) != 8 {
			return nil, fmt.Errorf("double: want 8 bytes, got %d", len(in))
		}
		return binary.LittleEndian.AppendUint64(nil, 2*binary.LittleEndian.Uint64(in)), nil
	})
	guest.Task("upper", func(in []byte) ([]byte, error) { return []byte(strings.ToUpper(string(in))), nil })
	typed.Task("add", func(xs []int) (int, error) {
		sum := 0
		for _, x := range xs {
			sum += x
		}
		return sum, nil
	})
	guest.Task("fail", func(in []byte) ([]byte, error) { return nil, errors.New("failed on purpose: " + string(in)) })
	guest.Task("panic", func(in []byte) ([]byte, error) { panic("panicked on purpose") })
	// panicvalue panics with a value of the kind its input names.
	guest.Task("panicvalue", func(in []byte) ([]byte, error) {
		switch string(in) {
		case "error":
			panic(errors.New("an error value"))
		case "int":
			panic(42)
		default:
			panic(struct{ A int }{1})
		}
	})
	// even takes inputs of even length; an odd one is invalid input.
	guest.Task("even", func(in []byte) ([]byte, error) {
		if len(in)%2 != 0 {
			return nil, fmt.Errorf("even: %w", &guest.InvalidInputError{Reason: "odd length " + strconv.Itoa(len(in))})
		}
		return in, nil
	})
	guest.Task("exit", func(in []byte) ([]byte, error) { os.Exit(3); return nil, nil })
	guest.Task("trap", func(in []byte) ([]byte, error) {
		// A store far past the end of linear memory: a wasm trap.
		p := (*byte)(unsafe.Pointer(uintptr(0xfffffff0)))
		*p = 1
		return nil, nil
	})
	// maybe traps on "trap", exits with code 3 on "exit", panics on
	// "panic", touches 200 MiB and holds them 5 s on "hog", and returns
	// its input otherwise.
	guest.Task("maybe", func(in []byte) ([]byte, error) {
		switch string(in) {
		case "hog":
			b := make([]byte, 200<<20)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			time.Sleep(5 * time.Second)
		case "trap":
			*(*byte)(unsafe.Pointer(uintptr(0xfffffff0))) = 1
		case "exit":
			os.Exit(3)
		case "panic":
			panic("panicked on purpose")
		}
		return in, nil
	})
	guest.Task("deadlock", func(in []byte) ([]byte, error) { select {} })
	guest.Task("oom", func(in []byte) ([]byte, error) {
		var keep [][]byte
		for {
			keep = append(keep, make([]byte, 64<<20))
		}
	})
	// caps exercises a capability: "read:PATH", "write:PATH", "env:KEY",
	// "args", "stdin", "year", "rand" (8 random bytes, hex).
	guest.Task("caps", func(in []byte) ([]byte, error) {
		op, arg, _ := strings.Cut(string(in), ":")
		switch op {
		case "read":
			return os.ReadFile(arg)
		case "write":
			return []byte("written"), os.WriteFile(arg, []byte("from the guest"), 0o644)
		case "env":
			return []byte(os.Getenv(arg)), nil
		case "args":
			return []byte(strings.Join(os.Args, " ")), nil
		case "stdin":
			return io.ReadAll(os.Stdin)
		case "year":
			return []byte(strconv.Itoa(time.Now().Year())), nil
		case "rand":
			b := make([]byte, 8)
			if _, err := rand.Read(b); err != nil {
				return nil, err
			}
			return []byte(hex.EncodeToString(b)), nil
		}
		return nil, fmt.Errorf("caps: unknown op %q", op)
	})
	// hog touches as many MiB as its input says, then holds them 5 s.
	guest.Task("hog", func(in []byte) ([]byte, error) {
		mib, err := strconv.Atoi(string(in))
		if err != nil {
			return nil, err
		}
		b := make([]byte, mib<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		time.Sleep(5 * time.Second)
		return []byte{b[0]}, nil
	})
	guest.Task("loop", func(in []byte) ([]byte, error) {
		for {
			sink++
		}
	})
	guest.Task("sleep", func(in []byte) ([]byte, error) {
		ms, err := strconv.Atoi(string(in))
		if err != nil {
			return nil, err
		}
		time.Sleep(time.Duration(ms) * time.Millisecond)
		return in, nil
	})
	guest.Task("spin", func(in []byte) ([]byte, error) {
		ms, err := strconv.Atoi(string(in))
		if err != nil {
			return nil, err
		}
		for end := time.Now().Add(time.Duration(ms) * time.Millisecond); time.Now().Before(end); {
			sink++
		}
		return in, nil
	})
	// sleepbusy "MS:N" sleeps MS milliseconds, then counts to N without
	// a host call: a stretch the worker's Go runtime cannot preempt.
	guest.Task("sleepbusy", func(in []byte) ([]byte, error) {
		ms, n, _ := strings.Cut(string(in), ":")
		d, err := strconv.Atoi(ms)
		if err != nil {
			return nil, err
		}
		count, err := strconv.Atoi(n)
		if err != nil {
			return nil, err
		}
		time.Sleep(time.Duration(d) * time.Millisecond)
		for range count {
			sink++
		}
		return in, nil
	})
	guest.Task("big", func(in []byte) ([]byte, error) {
		n, err := strconv.Atoi(string(in))
		if err != nil {
			return nil, err
		}
		return make([]byte, n), nil
	})
	guest.Task("print", func(in []byte) ([]byte, error) {
		fmt.Printf("out: %s\n", in)
		fmt.Fprintf(os.Stderr, "err: %s\n", in)
		guest.Log(abi.LogInfo, "log: "+string(in))
		return in, nil
	})
	// badptr calls each host function with pointers outside memory and
	// returns the errnos, one byte each.
	guest.Task("badptr", func(in []byte) ([]byte, error) {
		const wild = 0xfffffff0
		return []byte{
			byte(rawLog(uint32(abi.LogInfo), wild, 100)),
			byte(rawLog(99, 0, 0)),
			byte(rawLog(uint32(abi.LogInfo), 0, 1<<20)),
			byte(rawInput(wild, wild)),
			byte(rawOutput(wild, 100)),
			byte(rawOutput(0, 0x7fffffff)),
		}, nil
	})
	// segedge calls the segment and atomic host functions with edge
	// arguments on the segment named by the input and returns the errnos,
	// one byte each.
	guest.Task("segedge", func(in []byte) ([]byte, error) {
		const wild = 0xfffffff0
		var h uint32
		if e := rawSegmentOpen(unsafe.Pointer(unsafe.SliceData(in)), uint32(len(in)), unsafe.Pointer(&h)); e != 0 {
			return nil, fmt.Errorf("segment_open: %v", abi.Errno(e))
		}
		defer rawSegmentClose(h)
		w, err := guest.OpenSharedMemory(string(in))
		if err != nil {
			return nil, err
		}
		defer w.Close()
		win, err := w.Map()
		if err != nil {
			return nil, err
		}
		at := uint32(uintptr(unsafe.Pointer(unsafe.SliceData(win))))
		var out8 uint64
		outp := uint32(uintptr(unsafe.Pointer(&out8)))
		name := []byte("x")
		var h2 uint32
		namep, h2p := uint32(uintptr(unsafe.Pointer(&name[0]))), uint32(uintptr(unsafe.Pointer(&h2)))
		return []byte{
			byte(rawSegmentMap(h, at+1)),                                           // unaligned: EINVAL
			byte(rawSegmentMap(h, 0xffff0000)),                                     // past memory: EFAULT
			byte(rawSegmentMap(h, at)),                                             // overlaps w's window: EINVAL
			byte(rawSegmentMap(h+100, at)),                                         // bad handle: EBADF
			byte(rawSegmentRead(h, int64(w.Size()), outp, 1)),                      // past the segment: EINVAL
			byte(rawSegmentRead(h, -1, outp, 1)),                                   // negative offset: EINVAL
			byte(rawSegmentRead(h, 0, wild, 100)),                                  // wild pointer: EFAULT
			byte(rawSegmentUnmap(h)),                                               // not mapped: EINVAL
			byte(rawAtomicAdd(at+4, 64, 1, outp)),                                  // misaligned: EINVAL
			byte(rawAtomicAdd(at, 16, 1, outp)),                                    // bad width: EINVAL
			byte(rawAtomicAdd(wild, 32, 1, outp)),                                  // wild address: EFAULT
			byte(rawAtomicAdd(at, 64, 1, wild)),                                    // wild out pointer: EFAULT
			byte(rawAtomicWait(at+8, 7, 0)),                                        // value differs: EAGAIN
			byte(rawAtomicWait(at+8, 0, 1000)),                                     // times out: ETIMEDOUT
			byte(rawSegmentCreate(namep, 1, 0, h2p)),                               // size 0: EINVAL
			byte(rawSegmentCreate(namep, 1, 1<<40, h2p)),                           // too big: ENOSPC
			byte(rawSegmentCreate(namep, 1, 1, wild)),                              // wild handle pointer: EFAULT
			byte(rawSegmentOpen(unsafe.Pointer(&name[0]), 1, unsafe.Pointer(&h2))), // never made: ENOENT
		}, nil
	})
	// createedge calls object_create with edge arguments and returns the
	// errnos, one byte each. The input names a lock that exists.
	guest.Task("createedge", func(in []byte) ([]byte, error) {
		const wild = 0xfffffff0
		addr := func(b []byte) uint32 { return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }
		spec := abi.AppendObjectSpec(nil, abi.ObjectSpec{})
		bad := abi.AppendObjectSpec(nil, abi.ObjectSpec{Flags: abi.FlagDuplex})
		name := []byte("fresh")
		var h uint32
		hp := uint32(uintptr(unsafe.Pointer(&h)))
		return []byte{
			byte(rawObjectCreate(uint32(abi.KindLock), addr(spec), uint32(len(spec)), addr(in), uint32(len(in)), hp)),        // exists: EEXIST
			byte(rawObjectCreate(uint32(abi.KindPipe), addr(spec), uint32(len(spec)), addr(name), uint32(len(name)), hp)),    // pipe: EINVAL
			byte(rawObjectCreate(99, addr(spec), uint32(len(spec)), addr(name), uint32(len(name)), hp)),                      // kind: EINVAL
			byte(rawObjectCreate(uint32(abi.KindBarrier), addr(spec), uint32(len(spec)), addr(name), uint32(len(name)), hp)), // 0 parties: EINVAL
			byte(rawObjectCreate(uint32(abi.KindQueue), addr(bad), uint32(len(bad)), addr(name), uint32(len(name)), hp)),     // duplex queue: EINVAL
			byte(rawObjectCreate(uint32(abi.KindLock), addr(spec), 27, addr(name), uint32(len(name)), hp)),                   // spec length: EINVAL
			byte(rawObjectCreate(uint32(abi.KindLock), wild, uint32(len(spec)), addr(name), uint32(len(name)), hp)),          // wild spec: EFAULT
			byte(rawObjectCreate(uint32(abi.KindLock), addr(spec), uint32(len(spec)), wild, 5, hp)),                          // wild name: EFAULT
			byte(rawObjectCreate(uint32(abi.KindLock), addr(spec), uint32(len(spec)), addr(name), uint32(len(name)), wild)),  // wild handle: EFAULT
			byte(rawObjectCreate(uint32(abi.KindLock), addr(spec), uint32(len(spec)), addr(name), uint32(len(name)), hp)),    // OK
		}, nil
	})
	// produce(queue, id, n) puts "id:0" .. "id:n-1" into the queue; the
	// chaos test checks that each producer's messages arrive in order with
	// no gap, whenever its worker is killed.
	guest.Process("produce", func(args [][]byte) error {
		if len(args) != 3 {
			return errors.New("produce(queue, id, n)")
		}
		q, err := guest.QueueArg(args[0])
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(string(args[2]))
		if err != nil {
			return err
		}
		for i := range n {
			if err := q.Put(fmt.Appendf(nil, "%s:%d", args[1], i), guest.Forever); err != nil {
				return err
			}
		}
		return nil
	})
	// pipe-echo(conn) sends back every message until "stop".
	guest.Process("pipe-echo", func(args [][]byte) error {
		if len(args) != 1 {
			return errors.New("pipe-echo(conn)")
		}
		c, err := guest.ConnArg(args[0])
		if err != nil {
			return err
		}
		defer c.Close()
		for {
			msg, err := c.Recv(guest.Forever)
			if err != nil || string(msg) == "stop" {
				return err
			}
			if err := c.Send(msg, guest.Forever); err != nil {
				return err
			}
		}
	})
	guest.Process("hello", func(args [][]byte) error {
		parts := make([]string, len(args))
		for i, a := range args {
			parts[i] = string(a)
		}
		fmt.Printf("hello %s\n", strings.Join(parts, " "))
		return nil
	})
	guest.Process("exitcode", func(args [][]byte) error {
		if len(args) != 1 {
			return errors.New("exitcode: want one argument")
		}
		n, err := strconv.Atoi(string(args[0]))
		if err != nil {
			return err
		}
		os.Exit(n)
		return nil
	})
	guest.Process("fails", func(args [][]byte) error { return errors.New("process failed on purpose") })
	guest.Process("wait", func(args [][]byte) error {
		ms := 1000
		if len(args) > 0 {
			ms, _ = strconv.Atoi(string(args[0]))
		}
		time.Sleep(time.Duration(ms) * time.Millisecond)
		return nil
	})
}

func main() {}
