package host

import (
	"context"
	"encoding/binary"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/tetratelabs/wazero/api"
	"github.com/wasmpool/wasmpool/abi"
)

// word returns the aligned 32- or 64-bit word of guest memory at addr, or
// an errno: EINVAL for another width or a misaligned address, EFAULT
// outside the memory. Inside a segment window the word is shared with
// every process that maps the segment, and the operations below are
// atomic across them (the hardware's atomics on the same physical page).
func word(m api.Module, addr uint32, width uint32) (unsafe.Pointer, abi.Errno) {
	if (width != 32 && width != 64) || addr%(width/8) != 0 {
		return nil, abi.EINVAL
	}
	b, ok := m.Memory().Read(addr, width/8)
	if !ok {
		return nil, abi.EFAULT
	}
	return unsafe.Pointer(&b[0]), abi.OK
}

// rmwWord is word for a read-modify-write whose result goes to out: out is
// checked first, so a call that fails changes nothing.
func rmwWord(m api.Module, addr, width, out uint32) (unsafe.Pointer, abi.Errno) {
	if _, ok := m.Memory().Read(out, 8); !ok {
		return nil, abi.EFAULT
	}
	return word(m, addr, width)
}

func putU64(m api.Module, ptr uint32, v uint64) abi.Errno {
	if !m.Memory().WriteUint64Le(ptr, v) {
		return abi.EFAULT
	}
	return abi.OK
}

// atomicLoad implements atomic_load(addr, width, out_ptr) -> errno: the
// word, zero-extended, as a u64 at out_ptr.
func atomicLoad(ctx context.Context, m api.Module, stack []uint64) {
	p, errno := word(m, uint32(stack[0]), uint32(stack[1]))
	if errno != abi.OK {
		stack[0] = uint64(errno)
		return
	}
	var v uint64
	if uint32(stack[1]) == 32 {
		v = uint64(atomic.LoadUint32((*uint32)(p)))
	} else {
		v = atomic.LoadUint64((*uint64)(p))
	}
	stack[0] = uint64(putU64(m, uint32(stack[2]), v))
}

// atomicStore implements atomic_store(addr, width, value i64) -> errno; a
// 32-bit store keeps the low half of value.
func atomicStore(ctx context.Context, m api.Module, stack []uint64) {
	p, errno := word(m, uint32(stack[0]), uint32(stack[1]))
	if errno != abi.OK {
		stack[0] = uint64(errno)
		return
	}
	if uint32(stack[1]) == 32 {
		atomic.StoreUint32((*uint32)(p), uint32(stack[2]))
	} else {
		atomic.StoreUint64((*uint64)(p), stack[2])
	}
	stack[0] = uint64(abi.OK)
}

// atomicAdd implements atomic_add(addr, width, delta i64, out_ptr) ->
// errno: the new value as a u64 at out_ptr (wrapping at the width).
func atomicAdd(ctx context.Context, m api.Module, stack []uint64) {
	width, delta, out := uint32(stack[1]), stack[2], uint32(stack[3])
	p, errno := rmwWord(m, uint32(stack[0]), width, out)
	if errno != abi.OK {
		stack[0] = uint64(errno)
		return
	}
	var v uint64
	if width == 32 {
		v = uint64(atomic.AddUint32((*uint32)(p), uint32(delta)))
	} else {
		v = atomic.AddUint64((*uint64)(p), delta)
	}
	stack[0] = uint64(putU64(m, out, v))
}

// atomicCAS implements atomic_cas(addr, width, old i64, new i64, out_ptr)
// -> errno: stores new if the word equals old, and writes the value it
// found as a u64 at out_ptr (equal to old exactly when it swapped).
func atomicCAS(ctx context.Context, m api.Module, stack []uint64) {
	width, old, nu, out := uint32(stack[1]), stack[2], stack[3], uint32(stack[4])
	p, errno := rmwWord(m, uint32(stack[0]), width, out)
	if errno != abi.OK {
		stack[0] = uint64(errno)
		return
	}
	var seen uint64
	if width == 32 {
		w := (*uint32)(p)
		for {
			cur := atomic.LoadUint32(w)
			if cur != uint32(old) || atomic.CompareAndSwapUint32(w, cur, uint32(nu)) {
				seen = uint64(cur)
				break
			}
		}
	} else {
		w := (*uint64)(p)
		for {
			cur := atomic.LoadUint64(w)
			if cur != old || atomic.CompareAndSwapUint64(w, cur, nu) {
				seen = cur
				break
			}
		}
	}
	stack[0] = uint64(putU64(m, out, seen))
}

// waitSlice bounds one futex sleep of atomic_wait, so that the call's
// context (an interruptible runtime's deadline) is looked at while it
// waits.
const waitSlice = 50 * time.Millisecond

// atomicWait implements atomic_wait(addr, expected i64, timeout i64) ->
// errno for the 32-bit word at addr: EAGAIN at once if it does not hold
// expected (low 32 bits); otherwise it sleeps until atomic_notify on the
// same word in any process, the timeout (negative: none; ETIMEDOUT) or the
// end of the call's context (ECANCELED). Like a futex it may return OK
// early; callers re-check their condition in a loop.
func atomicWait(ctx context.Context, m api.Module, stack []uint64) {
	addr, expected, timeout := uint32(stack[0]), uint32(stack[1]), int64(stack[2])
	p, errno := word(m, addr, 32)
	if errno != abi.OK {
		stack[0] = uint64(errno)
		return
	}
	w := (*uint32)(p)
	var deadline time.Time
	if timeout >= 0 {
		deadline = time.Now().Add(time.Duration(timeout))
	}
	for {
		if atomic.LoadUint32(w) != expected {
			stack[0] = uint64(abi.EAGAIN)
			return
		}
		slice := waitSlice
		if !deadline.IsZero() {
			left := time.Until(deadline)
			if left <= 0 {
				stack[0] = uint64(abi.ETIMEDOUT)
				return
			}
			slice = min(slice, left)
		}
		if woken := futexWaitShared(w, expected, slice); woken {
			stack[0] = uint64(abi.OK)
			return
		}
		if ctx.Err() != nil {
			stack[0] = uint64(abi.ECANCELED)
			return
		}
	}
}

// atomicNotify implements atomic_notify(addr, count, woken_ptr) -> errno:
// wakes up to count (negative: all) waiters on the 32-bit word at addr,
// in any process, and writes how many woke as a u32 at woken_ptr.
func atomicNotify(ctx context.Context, m api.Module, stack []uint64) {
	addr, count, out := uint32(stack[0]), int32(stack[1]), uint32(stack[2])
	if _, ok := m.Memory().Read(out, 4); !ok {
		stack[0] = uint64(abi.EFAULT)
		return
	}
	p, errno := word(m, addr, 32)
	if errno != abi.OK {
		stack[0] = uint64(errno)
		return
	}
	n := int(count)
	if count < 0 {
		n = 1 << 30
	}
	woken := futexWakeShared((*uint32)(p), n)
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(woken))
	m.Memory().Write(out, b[:])
	stack[0] = uint64(abi.OK)
}
