package host

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"

	"github.com/tetratelabs/wazero/api"
	"github.com/wasmpool/wasmpool/abi"
	"github.com/wasmpool/wasmpool/internal/shm"
)

// SegmentDirectory is where an instance's segment_create, segment_open and
// segment_unlink go: in a worker, the parent (a shm.Client); in
// a test, a *shm.Segments. Create and Open return a descriptor of the
// segment's memfd that the caller then owns. Implementations must be safe
// for concurrent use.
type SegmentDirectory interface {
	Create(name string, size int64) (shm.SegmentInfo, *os.File, error)
	Open(name string) (shm.SegmentInfo, *os.File, error)
	Unlink(name string) error
}

// maxSegmentHandles bounds the segments one instance holds open: each
// holds a descriptor.
const maxSegmentHandles = 1024

// segments is an instance's table of open segments. Handles are index + 1.
type segments struct {
	dir  SegmentDirectory
	mem  *memoryAllocator
	open []*localSegment
}

type localSegment struct {
	info   shm.SegmentInfo
	file   *os.File
	window uint64 // guest address of its window
	mapped bool
}

func segmentsOf(ctx context.Context) *segments {
	if st := stateOf(ctx); st != nil {
		return st.segments
	}
	return nil
}

func (t *segments) get(h uint32) *localSegment {
	if h == 0 || int(h) > len(t.open) {
		return nil
	}
	return t.open[h-1]
}

// full reports whether the table has no room for another handle.
func (t *segments) full() bool {
	if len(t.open) < maxSegmentHandles {
		return false
	}
	for _, s := range t.open {
		if s == nil {
			return false
		}
	}
	return true
}

func (t *segments) add(info shm.SegmentInfo, f *os.File) (uint32, abi.Errno) {
	size, err := shm.CheckSegmentFile(f)
	if err != nil || size != info.Size {
		f.Close()
		return 0, abi.EIO
	}
	ls := &localSegment{info: info, file: f}
	for i, s := range t.open {
		if s == nil {
			t.open[i] = ls
			return uint32(i + 1), abi.OK
		}
	}
	if len(t.open) >= maxSegmentHandles {
		f.Close()
		return 0, abi.ENOSPC
	}
	t.open = append(t.open, ls)
	return uint32(len(t.open)), abi.OK
}

// close drops handle h, detaching its window first.
func (t *segments) close(h uint32) abi.Errno {
	ls := t.get(h)
	if ls == nil {
		return abi.EBADF
	}
	if ls.mapped {
		if err := t.mem.mem.unmapWindow(ls.window); err != nil {
			return abi.EIO
		}
	}
	ls.file.Close()
	t.open[h-1] = nil
	return abi.OK
}

// release closes every handle. The windows go with the instance's memory.
func (t *segments) release() {
	for i, ls := range t.open {
		if ls != nil {
			ls.file.Close()
			t.open[i] = nil
		}
	}
}

// segErrno converts the errors of requests to the parent (segments, and
// objects guests create) to errnos: the one place that does.
func segErrno(err error) abi.Errno {
	switch {
	case err == nil:
		return abi.OK
	case errors.Is(err, shm.ErrNotSupported):
		return abi.ENOSYS
	case errors.Is(err, shm.ErrInvalid):
		return abi.EINVAL
	case errors.Is(err, shm.ErrExists):
		return abi.EEXIST
	case errors.Is(err, shm.ErrNotFound):
		return abi.ENOENT
	case errors.Is(err, shm.ErrNoSpace):
		return abi.ENOSPC
	case errors.Is(err, shm.ErrBadSize), errors.Is(err, shm.ErrBadName):
		return abi.EINVAL
	}
	return abi.EIO
}

// segmentCreate implements segment_create(name_ptr, name_len i32, size i64,
// h_ptr i32) -> errno.
func segmentCreate(ctx context.Context, m api.Module, stack []uint64) {
	stack[0] = uint64(openSegment(ctx, m, uint32(stack[0]), uint32(stack[1]), int64(stack[2]), uint32(stack[3]), true))
}

// segmentOpen implements segment_open(name_ptr, name_len, h_ptr) -> errno.
func segmentOpen(ctx context.Context, m api.Module, stack []uint64) {
	stack[0] = uint64(openSegment(ctx, m, uint32(stack[0]), uint32(stack[1]), 0, uint32(stack[2]), false))
}

func openSegment(ctx context.Context, m api.Module, ptr, n uint32, size int64, hptr uint32, create bool) abi.Errno {
	t := segmentsOf(ctx)
	if t == nil || t.dir == nil {
		return abi.ENOSYS
	}
	if n > abi.MaxSegmentName || (create && size <= 0) {
		return abi.EINVAL
	}
	name, ok := m.Memory().Read(ptr, n)
	if !ok {
		return abi.EFAULT
	}
	if _, ok := m.Memory().Read(hptr, 4); !ok {
		return abi.EFAULT // checked first: a segment made now would have no owner
	}
	if t.full() {
		return abi.ENOSPC
	}
	var (
		info shm.SegmentInfo
		f    *os.File
		err  error
	)
	if create {
		info, f, err = t.dir.Create(string(name), size)
	} else {
		info, f, err = t.dir.Open(string(name))
	}
	if err != nil {
		return segErrno(err)
	}
	h, errno := t.add(info, f)
	if errno != abi.OK {
		if create {
			t.dir.Unlink(info.Name) // nobody holds it: do not leave the name behind
		}
		return errno
	}
	return putU32(m, hptr, h)
}

// segmentOp adapts an operation on the open segment whose handle is in
// stack[0]: ENOSYS without segments, EBADF for a handle not open.
func segmentOp(op func(m api.Module, stack []uint64, t *segments, ls *localSegment) abi.Errno) api.GoModuleFunc {
	return func(ctx context.Context, m api.Module, stack []uint64) {
		t := segmentsOf(ctx)
		if t == nil {
			stack[0] = uint64(abi.ENOSYS)
			return
		}
		ls := t.get(uint32(stack[0]))
		if ls == nil {
			stack[0] = uint64(abi.EBADF)
			return
		}
		stack[0] = uint64(op(m, stack, t, ls))
	}
}

// segmentInfo implements segment_info(h, info_ptr, name_ptr, name_cap) ->
// errno: a u64 size and a u32 name length at info_ptr, and as much of the
// name as fits at name_ptr.
func segmentInfo(m api.Module, stack []uint64, _ *segments, ls *localSegment) abi.Errno {
	out, ok := m.Memory().Read(uint32(stack[1]), 12)
	if !ok {
		return abi.EFAULT
	}
	name := ls.info.Name[:min(len(ls.info.Name), int(uint32(stack[3])))]
	if !m.Memory().WriteString(uint32(stack[2]), name) {
		return abi.EFAULT
	}
	binary.LittleEndian.PutUint64(out, uint64(ls.info.Size))
	binary.LittleEndian.PutUint32(out[8:], uint32(len(ls.info.Name)))
	return abi.OK
}

// segmentMap implements segment_map(h, window_ptr) -> errno.
func segmentMap(_ api.Module, stack []uint64, t *segments, ls *localSegment) abi.Errno {
	switch {
	case ls.mapped:
		return abi.EBUSY
	case t.mem == nil || t.mem.mem == nil:
		return abi.ENOSYS // the memory is not ours to map into
	}
	addr := uint64(uint32(stack[1]))
	if err := t.mem.mem.mapWindow(ls.file, addr, uint64(ls.info.Size)); err != nil {
		var we *windowError
		switch {
		case errors.As(err, &we) && we.outside:
			return abi.EFAULT
		case errors.As(err, &we):
			return abi.EINVAL
		}
		return abi.EIO
	}
	ls.mapped, ls.window = true, addr
	return abi.OK
}

// segmentUnmap implements segment_unmap(h) -> errno.
func segmentUnmap(_ api.Module, _ []uint64, t *segments, ls *localSegment) abi.Errno {
	if !ls.mapped {
		return abi.EINVAL
	}
	if err := t.mem.mem.unmapWindow(ls.window); err != nil {
		return abi.EIO
	}
	ls.mapped = false
	return abi.OK
}

// segmentRead implements segment_read(h, off i64, ptr, len) -> errno and
// segmentWrite segment_write: copies between the segment and guest memory.
func segmentRead(m api.Module, stack []uint64, _ *segments, ls *localSegment) abi.Errno {
	return segmentCopy(m, stack, ls, false)
}

func segmentWrite(m api.Module, stack []uint64, _ *segments, ls *localSegment) abi.Errno {
	return segmentCopy(m, stack, ls, true)
}

func segmentCopy(m api.Module, stack []uint64, ls *localSegment, write bool) abi.Errno {
	off, n := int64(stack[1]), int64(uint32(stack[3]))
	if off < 0 || off > ls.info.Size || n > ls.info.Size-off {
		return abi.EINVAL
	}
	buf, ok := m.Memory().Read(uint32(stack[2]), uint32(n))
	if !ok {
		return abi.EFAULT
	}
	var err error
	if write {
		_, err = ls.file.WriteAt(buf, off)
	} else {
		_, err = ls.file.ReadAt(buf, off)
		if err == io.EOF {
			err = nil
		}
	}
	if err != nil {
		return abi.EIO
	}
	return abi.OK
}

// segmentClose implements segment_close(h) -> errno.
func segmentClose(ctx context.Context, m api.Module, stack []uint64) {
	t := segmentsOf(ctx)
	if t == nil {
		stack[0] = uint64(abi.ENOSYS)
		return
	}
	stack[0] = uint64(t.close(uint32(stack[0])))
}

// segmentUnlink implements segment_unlink(h) -> errno: the name goes, the
// memory stays for whoever has it open or mapped.
func segmentUnlink(ctx context.Context, m api.Module, stack []uint64) {
	stack[0] = uint64(func() abi.Errno {
		t := segmentsOf(ctx)
		if t == nil || t.dir == nil {
			return abi.ENOSYS
		}
		ls := t.get(uint32(stack[0]))
		if ls == nil {
			return abi.EBADF
		}
		return segErrno(t.dir.Unlink(ls.info.Name))
	}())
}

func segmentFunctions() map[string]api.GoModuleFunc {
	return map[string]api.GoModuleFunc{
		abi.FuncSegmentCreate: segmentCreate,
		abi.FuncSegmentOpen:   segmentOpen,
		abi.FuncSegmentInfo:   segmentOp(segmentInfo),
		abi.FuncSegmentMap:    segmentOp(segmentMap),
		abi.FuncSegmentUnmap:  segmentOp(segmentUnmap),
		abi.FuncSegmentRead:   segmentOp(segmentRead),
		abi.FuncSegmentWrite:  segmentOp(segmentWrite),
		abi.FuncSegmentClose:  segmentClose,
		abi.FuncSegmentUnlink: segmentUnlink,
		abi.FuncAtomicLoad:    atomicLoad,
		abi.FuncAtomicStore:   atomicStore,
		abi.FuncAtomicAdd:     atomicAdd,
		abi.FuncAtomicCAS:     atomicCAS,
		abi.FuncAtomicWait:    atomicWait,
		abi.FuncAtomicNotify:  atomicNotify,
	}
}
