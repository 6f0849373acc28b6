package host

import (
	"context"
	"encoding/binary"
	"errors"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/wasmpool/wasmpool/abi"
	"github.com/wasmpool/wasmpool/internal/shm"
)

// objects is an instance's table of shared objects: the local handles
// object_open and object_ref give out (index + 1) and the views behind
// them. It belongs to the instance and is used by one call at a time.
type objects struct {
	arena *shm.Arena
	tok   shm.Token
	open  []localObject
	msgs  [][]byte // queue_put_batch's parsed list, kept between calls
	recv  receiver
}

// newObjects returns the table of an instance whose calls use tok.
func newObjects(a *shm.Arena, tok shm.Token) *objects {
	t := &objects{arena: a, tok: tok}
	t.recv.init()
	return t
}

// receiver holds the sinks of the receiving host functions, made once per
// instance so that a receive allocates nothing. An instance runs one call
// at a time, so one receiver serves all its calls.
type receiver struct {
	buf  []byte // guest memory the message or List goes to
	size int    // one message: its length, also when it did not fit
	used int    // a List: bytes written so far
	one  shm.Sink
	list shm.Sink
}

func (r *receiver) init() {
	r.one = func(n int) []byte {
		r.size = n
		if n > len(r.buf) {
			return nil
		}
		return r.buf[:n]
	}
	r.list = func(n int) []byte {
		if n > len(r.buf)-r.used-4 {
			return nil
		}
		binary.LittleEndian.PutUint32(r.buf[r.used:], uint32(n))
		dst := r.buf[r.used+4 : r.used+4+n]
		r.used += 4 + n
		return dst
	}
}

// start points the receiver at buf for one call.
func (r *receiver) start(buf []byte, used int) {
	r.buf, r.size, r.used = buf, 0, used
}

// done drops the reference to guest memory.
func (r *receiver) done() { r.buf = nil }

type localObject struct {
	obj   shm.Object
	open  bool
	end   int // pipe end
	queue shm.Queue
	pipe  shm.Pipe
}

// errnoOf converts the errors of the shared objects to errnos: the one
// place that does.
func errnoOf(err error) abi.Errno {
	switch {
	case err == nil:
		return abi.OK
	case errors.Is(err, shm.ErrWouldBlock):
		return abi.EAGAIN
	case errors.Is(err, shm.ErrTimeout):
		return abi.ETIMEDOUT
	case errors.Is(err, shm.ErrCanceled):
		return abi.ECANCELED
	case errors.Is(err, shm.ErrClosed):
		return abi.EPIPE
	case errors.Is(err, shm.ErrOwnerDied):
		return abi.EOWNERDEAD
	case errors.Is(err, shm.ErrNotOwner):
		return abi.EPERM
	case errors.Is(err, shm.ErrOverRelease):
		return abi.EOVERFLOW
	case errors.Is(err, shm.ErrBroken):
		return abi.EBROKEN
	case errors.Is(err, shm.ErrTooLarge):
		return abi.EMSGSIZE
	case errors.Is(err, shm.ErrTooMany):
		return abi.EBUSY
	case errors.Is(err, shm.ErrNotFound):
		return abi.ENOENT
	case errors.Is(err, shm.ErrBadHandle), errors.Is(err, shm.ErrNotSupported):
		return abi.EBADF
	case errors.Is(err, shm.ErrCorrupt):
		return abi.EIO
	}
	return abi.EINVAL
}

// add opens o as a new local handle.
func (t *objects) add(o shm.Object, end int) (uint32, abi.Errno) {
	lo := localObject{obj: o, open: true, end: end}
	var err error
	switch o.Kind {
	case abi.KindQueue:
		lo.queue, err = o.Queue()
	case abi.KindPipe:
		if lo.pipe, err = o.Pipe(); err == nil {
			lo.pipe.Own(end, t.tok)
		}
	}
	if err != nil {
		return 0, errnoOf(err)
	}
	t.open = append(t.open, lo)
	return uint32(len(t.open)), abi.OK
}

// get returns the open local handle h of kind.
func (t *objects) get(h uint64, kinds ...abi.ObjectKind) *localObject {
	if t == nil || h == 0 || h > uint64(len(t.open)) {
		return nil
	}
	lo := &t.open[h-1]
	if !lo.open {
		return nil
	}
	for _, k := range kinds {
		if lo.obj.Kind == k {
			return lo
		}
	}
	return nil
}

// release repairs every object the instance leaves behind, as if it died:
// locks it holds are released and marked, pipe ends it owns are closed.
func (t *objects) release() {
	if t == nil {
		return
	}
	dead := func(tok shm.Token) bool { return tok == t.tok }
	for i := range t.open {
		if t.open[i].open {
			t.open[i].obj.Recover(dead, t.tok)
			t.open[i].open = false
		}
	}
	t.open = nil
}

func objectsOf(ctx context.Context) (*objects, *callState) {
	st := stateOf(ctx)
	if st == nil {
		return nil, nil
	}
	return st.objects, st
}

// waitOf makes the Wait of a blocking host function from its timeout
// argument: negative waits without limit, 0 does not block. The call's
// context ends the wait (an interruptible runtime's deadline or cancel).
func waitOf(ctx context.Context, ns uint64) shm.Wait {
	d := time.Duration(int64(ns))
	if d < 0 {
		d = -1
	}
	return shm.Wait{Ctx: ctx, Timeout: d}
}

func putU32(m api.Module, ptr uint32, v uint32) abi.Errno {
	if !m.Memory().WriteUint32Le(ptr, v) {
		return abi.EFAULT
	}
	return abi.OK
}

// ipcFunctions returns the host functions of the shared objects.
func ipcFunctions() map[string]api.GoModuleFunc {
	return map[string]api.GoModuleFunc{
		abi.FuncObjectCreate:  objectCreate,
		abi.FuncObjectOpen:    objectOpen,
		abi.FuncObjectRef:     objectRef,
		abi.FuncObjectClose:   objectClose,
		abi.FuncQueuePut:      queuePut,
		abi.FuncQueuePutBatch: queuePutBatch,
		abi.FuncQueueGet:      queueGet,
		abi.FuncQueueGetBatch: queueGetBatch,
		abi.FuncQueueInfo:     queueInfo,
		abi.FuncQueueClose:    simple(func(lo *localObject, _ shm.Token, _ uint64) error { lo.queue.Close(); return nil }, abi.KindQueue),
		abi.FuncQueueTaskDone: simple(func(lo *localObject, _ shm.Token, _ uint64) error { return lo.queue.TaskDone() }, abi.KindQueue),
		abi.FuncQueueJoin:     blocking(func(lo *localObject, _ shm.Token, wt shm.Wait) error { return lo.queue.Join(wt) }, abi.KindQueue),
		abi.FuncPipeSend:      pipeSend,
		abi.FuncPipeRecv:      pipeRecv,
		abi.FuncPipePoll:      blocking(func(lo *localObject, _ shm.Token, wt shm.Wait) error { return lo.pipe.Poll(lo.end, wt) }, abi.KindPipe),
		abi.FuncLockAcquire: blocking(func(lo *localObject, tok shm.Token, wt shm.Wait) error {
			return lo.obj.Lock().Acquire(tok, wt)
		}, abi.KindLock, abi.KindRLock, abi.KindCondition),
		abi.FuncLockRelease: simple(func(lo *localObject, tok shm.Token, _ uint64) error {
			return lo.obj.Lock().Release(tok)
		}, abi.KindLock, abi.KindRLock, abi.KindCondition),
		abi.FuncSemAcquire: blocking(func(lo *localObject, _ shm.Token, wt shm.Wait) error {
			return lo.obj.Semaphore().Acquire(wt)
		}, abi.KindSemaphore),
		abi.FuncSemRelease: simple(func(lo *localObject, _ shm.Token, n uint64) error {
			if uint32(n) == 0 || int32(n) < 0 {
				return errInvalid
			}
			return lo.obj.Semaphore().Release(uint32(n))
		}, abi.KindSemaphore),
		abi.FuncSemValue:   semValue,
		abi.FuncEventSet:   simple(func(lo *localObject, _ shm.Token, _ uint64) error { lo.obj.Event().Set(); return nil }, abi.KindEvent),
		abi.FuncEventClear: simple(func(lo *localObject, _ shm.Token, _ uint64) error { lo.obj.Event().Clear(); return nil }, abi.KindEvent),
		abi.FuncEventWait: blocking(func(lo *localObject, _ shm.Token, wt shm.Wait) error {
			return lo.obj.Event().Wait(wt)
		}, abi.KindEvent),
		abi.FuncEventIsSet: eventIsSet,
		abi.FuncCondWait: blocking(func(lo *localObject, tok shm.Token, wt shm.Wait) error {
			return lo.obj.Condition().Wait(tok, wt)
		}, abi.KindCondition),
		abi.FuncCondNotify: simple(func(lo *localObject, tok shm.Token, n uint64) error {
			count := int(int32(n))
			if count < 0 {
				count = 1 << 30
			}
			return lo.obj.Condition().Notify(tok, count)
		}, abi.KindCondition),
		abi.FuncBarrierWait: barrierWait,
		abi.FuncBarrierAbort: simple(func(lo *localObject, tok shm.Token, _ uint64) error {
			return lo.obj.Barrier().Abort(tok)
		}, abi.KindBarrier),
		abi.FuncBarrierReset: simple(func(lo *localObject, tok shm.Token, _ uint64) error {
			return lo.obj.Barrier().Reset(tok)
		}, abi.KindBarrier),
	}
}

var errInvalid = errors.New("host: invalid argument")

// lookup returns the open local handle in stack[0] of one of kinds, or
// nil after answering EBADF.
func lookup(ctx context.Context, stack []uint64, kinds ...abi.ObjectKind) (*objects, *localObject) {
	t, _ := objectsOf(ctx)
	lo := t.get(uint64(uint32(stack[0])), kinds...)
	if lo == nil {
		stack[0] = uint64(abi.EBADF)
	}
	return t, lo
}

// simple adapts an operation (handle, i32 argument) -> errno.
func simple(op func(*localObject, shm.Token, uint64) error, kinds ...abi.ObjectKind) api.GoModuleFunc {
	return func(ctx context.Context, m api.Module, stack []uint64) {
		t, lo := lookup(ctx, stack, kinds...)
		if lo == nil {
			return
		}
		var arg uint64
		if len(stack) > 1 {
			arg = stack[1]
		}
		stack[0] = uint64(errnoOf(op(lo, t.tok, arg)))
	}
}

// blocking adapts a blocking operation (handle, i64 timeout) -> errno.
func blocking(op func(*localObject, shm.Token, shm.Wait) error, kinds ...abi.ObjectKind) api.GoModuleFunc {
	return func(ctx context.Context, m api.Module, stack []uint64) {
		t, lo := lookup(ctx, stack, kinds...)
		if lo == nil {
			return
		}
		stack[0] = uint64(errnoOf(op(lo, t.tok, waitOf(ctx, stack[1]))))
	}
}

// ObjectCreator creates a shared object in the arena for a guest: in a
// worker, the parent does (a shm.Client). It returns the object's handle.
// Implementations must be safe for concurrent use.
type ObjectCreator interface {
	CreateObject(kind abi.ObjectKind, spec abi.ObjectSpec, name string) (shm.Handle, error)
}

// objectCreate implements object_create(kind, spec_ptr, spec_len,
// name_ptr, name_len, h_ptr) -> errno.
func objectCreate(ctx context.Context, m api.Module, stack []uint64) {
	stack[0] = uint64(func() abi.Errno {
		t, st := objectsOf(ctx)
		if t == nil || t.arena == nil || st.creator == nil {
			return abi.ENOSYS
		}
		kind := abi.ObjectKind(uint32(stack[0]))
		sptr, slen, nptr, nlen, hptr := uint32(stack[1]), uint32(stack[2]), uint32(stack[3]), uint32(stack[4]), uint32(stack[5])
		if slen != abi.ObjectSpecSize || nlen > shm.MaxName {
			return abi.EINVAL
		}
		sb, ok := m.Memory().Read(sptr, slen)
		if !ok {
			return abi.EFAULT
		}
		spec, _ := abi.ParseObjectSpec(sb)
		name, ok := m.Memory().Read(nptr, nlen)
		if !ok {
			return abi.EFAULT
		}
		if _, ok := m.Memory().Read(hptr, 4); !ok {
			return abi.EFAULT // checked first: an object made now would have no handle
		}
		h, err := st.creator.CreateObject(kind, spec, string(name))
		if err != nil {
			return segErrno(err)
		}
		o, err := t.arena.Open(h)
		if err != nil {
			return abi.EIO
		}
		lh, errno := t.add(o, 0)
		if errno != abi.OK {
			return errno
		}
		return putU32(m, hptr, lh)
	}())
}

// objectOpen implements object_open(kind, name_ptr, name_len, h_ptr).
func objectOpen(ctx context.Context, m api.Module, stack []uint64) {
	stack[0] = uint64(openObject(ctx, m, stack, false))
}

// objectRef implements object_ref(kind, ref_ptr, ref_len, h_ptr).
func objectRef(ctx context.Context, m api.Module, stack []uint64) {
	stack[0] = uint64(openObject(ctx, m, stack, true))
}

func openObject(ctx context.Context, m api.Module, stack []uint64, byRef bool) abi.Errno {
	t, _ := objectsOf(ctx)
	if t == nil || t.arena == nil {
		return abi.ENOSYS
	}
	kind := abi.ObjectKind(uint32(stack[0]))
	ptr, n, hptr := uint32(stack[1]), uint32(stack[2]), uint32(stack[3])
	if n > shm.MaxName+abi.RefSize {
		return abi.EINVAL
	}
	b, ok := m.Memory().Read(ptr, n)
	if !ok {
		return abi.EFAULT
	}
	var o shm.Object
	var err error
	end := 0
	if byRef {
		ref, perr := abi.ParseRef(b)
		if perr != nil {
			return abi.EINVAL
		}
		if ref.Kind != kind || ref.End > 1 || (kind != abi.KindPipe && ref.End != 0) {
			return abi.EBADF
		}
		o, err = t.arena.Open(shm.Handle(ref.Handle))
		end = int(ref.End)
	} else {
		if kind == abi.KindPipe {
			return abi.EINVAL // pipes are anonymous: pass an end by reference
		}
		o, err = t.arena.Lookup(string(b))
	}
	if err != nil {
		return errnoOf(err)
	}
	if o.Kind != kind {
		return abi.EBADF
	}
	h, errno := t.add(o, end)
	if errno != abi.OK {
		return errno
	}
	if errno := putU32(m, hptr, h); errno != abi.OK {
		t.open = t.open[:len(t.open)-1]
		return errno
	}
	return abi.OK
}

// objectClose implements object_close(h): the handle is closed; a pipe
// end is closed for both sides.
func objectClose(ctx context.Context, m api.Module, stack []uint64) {
	t, _ := objectsOf(ctx)
	lo := t.get(uint64(uint32(stack[0])), abi.KindQueue, abi.KindPipe, abi.KindLock, abi.KindRLock,
		abi.KindSemaphore, abi.KindEvent, abi.KindCondition, abi.KindBarrier)
	if lo == nil {
		stack[0] = uint64(abi.EBADF)
		return
	}
	lo.obj.Recover(func(tok shm.Token) bool { return tok == t.tok }, t.tok)
	if lo.obj.Kind == abi.KindPipe {
		lo.pipe.CloseEnd(lo.end)
	}
	lo.open = false
	stack[0] = uint64(abi.OK)
}

// queuePut implements queue_put(h, ptr, len, timeout).
func queuePut(ctx context.Context, m api.Module, stack []uint64) {
	t, lo := lookup(ctx, stack, abi.KindQueue)
	if lo == nil {
		return
	}
	msg, ok := m.Memory().Read(uint32(stack[1]), uint32(stack[2]))
	if !ok {
		stack[0] = uint64(abi.EFAULT)
		return
	}
	_, err := lo.queue.Put(t.tok, waitOf(ctx, stack[3]), msg)
	stack[0] = uint64(errnoOf(err))
}

// queuePutBatch implements queue_put_batch(h, list_ptr, list_len, timeout,
// n_ptr).
func queuePutBatch(ctx context.Context, m api.Module, stack []uint64) {
	t, lo := lookup(ctx, stack, abi.KindQueue)
	if lo == nil {
		return
	}
	b, ok := m.Memory().Read(uint32(stack[1]), uint32(stack[2]))
	if !ok {
		stack[0] = uint64(abi.EFAULT)
		return
	}
	msgs, err := abi.AppendItems(t.msgs[:0], b, -1)
	t.msgs = msgs[:0]
	if err != nil {
		stack[0] = uint64(abi.EINVAL)
		return
	}
	n, err := lo.queue.Put(t.tok, waitOf(ctx, stack[3]), msgs...)
	clear(msgs) // the items alias guest memory
	errno := errnoOf(err)
	if e := putU32(m, uint32(stack[4]), uint32(n)); errno == abi.OK {
		errno = e
	}
	stack[0] = uint64(errno)
}

// receive implements queue_get and pipe_recv: one message into
// buf_ptr[:cap], its length at len_ptr (also when it does not fit:
// EMSGSIZE, and the message stays).
func receive(ctx context.Context, m api.Module, stack []uint64, kind abi.ObjectKind) {
	t, lo := lookup(ctx, stack, kind)
	if lo == nil {
		return
	}
	buf, ok := m.Memory().Read(uint32(stack[1]), uint32(stack[2]))
	if !ok {
		stack[0] = uint64(abi.EFAULT)
		return
	}
	wt, r := waitOf(ctx, stack[3]), &t.recv
	r.start(buf, 0)
	defer r.done()
	var err error
	if kind == abi.KindQueue {
		_, err = lo.queue.Get(t.tok, wt, 1, r.one)
	} else {
		_, err = lo.pipe.Recv(lo.end, t.tok, wt, r.one)
	}
	errno := errnoOf(err)
	if err != nil && !errors.Is(err, shm.ErrTooLarge) {
		stack[0] = uint64(errno)
		return
	}
	if e := putU32(m, uint32(stack[4]), uint32(r.size)); e != abi.OK {
		errno = e
	}
	stack[0] = uint64(errno)
}

// queueGet implements queue_get(h, buf_ptr, cap, timeout, len_ptr).
func queueGet(ctx context.Context, m api.Module, stack []uint64) {
	receive(ctx, m, stack, abi.KindQueue)
}

// pipeRecv implements pipe_recv(h, buf_ptr, cap, timeout, len_ptr).
func pipeRecv(ctx context.Context, m api.Module, stack []uint64) {
	receive(ctx, m, stack, abi.KindPipe)
}

// queueGetBatch implements queue_get_batch(h, buf_ptr, cap, max, timeout,
// n_ptr): up to max messages (at least one) as a List in buf.
func queueGetBatch(ctx context.Context, m api.Module, stack []uint64) {
	t, lo := lookup(ctx, stack, abi.KindQueue)
	if lo == nil {
		return
	}
	buf, ok := m.Memory().Read(uint32(stack[1]), uint32(stack[2]))
	max := int(int32(uint32(stack[3])))
	switch {
	case !ok:
		stack[0] = uint64(abi.EFAULT)
		return
	case max < 1 || len(buf) < 4:
		stack[0] = uint64(abi.EINVAL)
		return
	}
	r := &t.recv
	r.start(buf, 4)
	defer r.done()
	n, err := lo.queue.Get(t.tok, waitOf(ctx, stack[4]), max, r.list)
	binary.LittleEndian.PutUint32(buf, uint32(n))
	errno := errnoOf(err)
	if e := putU32(m, uint32(stack[5]), uint32(n)); errno == abi.OK {
		errno = e
	}
	stack[0] = uint64(errno)
}

// queueInfo implements queue_info(h, info_ptr).
func queueInfo(ctx context.Context, m api.Module, stack []uint64) {
	_, lo := lookup(ctx, stack, abi.KindQueue)
	if lo == nil {
		return
	}
	q := lo.queue
	caps, ring, max := q.Limits()
	var b [abi.QueueInfoSize]byte
	for i, v := range []int{max0(q.Len()), caps, ring, max, int(b2u(q.Closed())), max0(q.Unfinished())} {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(v))
	}
	if !m.Memory().Write(uint32(stack[1]), b[:]) {
		stack[0] = uint64(abi.EFAULT)
		return
	}
	stack[0] = uint64(abi.OK)
}

func max0(n int) int { return max(n, 0) }

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// pipeSend implements pipe_send(h, ptr, len, timeout).
func pipeSend(ctx context.Context, m api.Module, stack []uint64) {
	t, lo := lookup(ctx, stack, abi.KindPipe)
	if lo == nil {
		return
	}
	msg, ok := m.Memory().Read(uint32(stack[1]), uint32(stack[2]))
	if !ok {
		stack[0] = uint64(abi.EFAULT)
		return
	}
	stack[0] = uint64(errnoOf(lo.pipe.Send(lo.end, t.tok, waitOf(ctx, stack[3]), msg)))
}

// semValue implements sem_value(h, out_ptr).
func semValue(ctx context.Context, m api.Module, stack []uint64) {
	_, lo := lookup(ctx, stack, abi.KindSemaphore)
	if lo == nil {
		return
	}
	stack[0] = uint64(putU32(m, uint32(stack[1]), lo.obj.Semaphore().Value()))
}

// eventIsSet implements event_is_set(h, out_ptr).
func eventIsSet(ctx context.Context, m api.Module, stack []uint64) {
	_, lo := lookup(ctx, stack, abi.KindEvent)
	if lo == nil {
		return
	}
	stack[0] = uint64(putU32(m, uint32(stack[1]), b2u(lo.obj.Event().IsSet())))
}

// barrierWait implements barrier_wait(h, timeout, idx_ptr).
func barrierWait(ctx context.Context, m api.Module, stack []uint64) {
	t, lo := lookup(ctx, stack, abi.KindBarrier)
	if lo == nil {
		return
	}
	idx, err := lo.obj.Barrier().Wait(t.tok, waitOf(ctx, stack[1]))
	errno := errnoOf(err)
	if errno == abi.OK {
		errno = putU32(m, uint32(stack[2]), uint32(idx))
	}
	stack[0] = uint64(errno)
}
