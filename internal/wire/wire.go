// Package wire is the framing of a worker's control channel: the socket
// between the parent and one worker process, which carries the handshake,
// and the two shared-memory streams (shm.Stream) that carry everything
// after it. A frame is
//
//	u32 length (little-endian, of what follows) | u8 type | body
//
// The hot frames (Call, Result, Log, Cancel) have fixed binary bodies; the
// rare ones (Init, Hello, and errors inside a Result) are CBOR. Nothing here
// is promised outside this module.
package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/wasmpool/wasmpool/host"
	"github.com/wasmpool/wasmpool/internal/shm"
	"io"
	"sync"
	"sync/atomic"

	"github.com/fxamacker/cbor/v2"
)

// Type is a frame's type byte.
type Type uint8

// Frame types. P→W is parent to worker, W→P the reverse.
const (
	TypeInit   Type = 1 // P→W, CBOR Init: the first frame
	TypeHello  Type = 2 // W→P, CBOR Hello: the worker is ready (or failed)
	TypeCall   Type = 3 // P→W, Call
	TypeResult Type = 4 // W→P, Result
	TypeLog    Type = 5 // W→P, Log
	TypeCancel Type = 6 // P→W, u64 call id
	// TypeRequest carries a worker's request to the parent (a segment,
	// an object its guest creates); its body is internal/shm's, opaque
	// here. The reply comes on the worker's replies stream (Init.Replies).
	TypeRequest Type = 7 // W→P
	// TypeEach carries a Call with Each set: one guest call per item of
	// its input, each answered by a TypeItem frame before the Result.
	TypeEach Type = 8 // P→W, Call
	// TypeItem carries the Item outcome of one item of a TypeEach call.
	TypeItem Type = 9 // W→P, Item
)

// ErrFrame is returned, wrapped, for a frame that breaks the protocol: an
// unknown type, a length over the limit, a body too short for its type.
var ErrFrame = errors.New("wire: malformed frame")

// Overhead is the most a frame adds to the payload it carries.
const Overhead = 64 << 10

// Init configures a worker. Cookie must match the worker's environment.
type Init struct {
	Cookie   string `cbor:"1,keyasint"`
	WorkerID int    `cbor:"2,keyasint"`
	// Wasm is the main module's region of the sealed code file the worker
	// inherits (worker.CodeFD): one copy of every module for all workers,
	// mapped rather than sent to each over its socket.
	Wasm             shm.Region `cbor:"3,keyasint"`
	CacheDir         string     `cbor:"4,keyasint"`
	MemoryLimitPages uint32     `cbor:"5,keyasint"`
	MaxMessageSize   int        `cbor:"6,keyasint"`
	Interruptible    bool       `cbor:"7,keyasint"`
	Concurrency      int        `cbor:"8,keyasint"`
	// Participant is the worker's number in the shared arena, inherited
	// as fd ArenaFD; 0 means no arena.
	Participant uint32 `cbor:"9,keyasint"`
	// Unhardened leaves the worker without seccomp and the rest of
	// package harden.
	Unhardened bool `cbor:"10,keyasint"`
	// Capabilities are granted to every guest instance.
	Capabilities host.Capabilities `cbor:"11,keyasint"`
	// Modules are the regions of further modules in the code file, by
	// name; a call names their functions "name/function".
	Modules map[string]shm.Region `cbor:"12,keyasint,omitempty"`
	// Calls and Results are the regions, in the worker's own streams
	// memfd (worker.StreamsFD), of the two streams that carry every frame
	// after Hello: Call and Cancel frames to the worker, Result, Log and
	// Request frames from it. The socket then only carries the streams'
	// wake-up bytes (shm.Bell) and tells each side that the other has
	// gone.
	Calls   shm.Region `cbor:"13,keyasint"`
	Results shm.Region `cbor:"14,keyasint"`
	// Threads, when not 0, is the worker's GOMAXPROCS, set once before
	// Hello; 0 leaves the Go runtime's default.
	Threads int `cbor:"15,keyasint,omitempty"`
	// Replies is the region, in the streams memfd, of the stream on which
	// the parent answers the worker's requests, one message per reply. A
	// request's sender reads its reply itself (the worker's requests take
	// turns), so the answer costs no hand-off between goroutines.
	Replies shm.Region `cbor:"16,keyasint"`
}

// Hello answers Init: the worker's pid, or why it cannot serve.
type Hello struct {
	PID int    `cbor:"1,keyasint"`
	Err *Error `cbor:"2,keyasint,omitempty"`
}

// ErrorKind says which typed error an Error stands for.
type ErrorKind uint8

// Error kinds.
const (
	KindInternal  ErrorKind = 0 // anything else; Message says what
	KindTrap      ErrorKind = 1 // host.TrapError
	KindGuestExit ErrorKind = 2 // host.GuestExitError
	KindCall      ErrorKind = 3 // host.CallError (Errno)
	KindTooLarge  ErrorKind = 4 // host.ErrTooLarge
	KindCompile   ErrorKind = 5 // a module error at worker start
	KindCancelled ErrorKind = 6 // cancelled before it started
	KindDeadline  ErrorKind = 7 // its deadline passed before it started
	KindInterrupt ErrorKind = 8 // an interruptible guest was stopped
)

// Error is a failure carried in a Result or Hello.
type Error struct {
	Kind     ErrorKind `cbor:"1,keyasint"`
	Function string    `cbor:"2,keyasint,omitempty"`
	Message  string    `cbor:"3,keyasint,omitempty"`
	Stack    string    `cbor:"4,keyasint,omitempty"`
	Stderr   string    `cbor:"5,keyasint,omitempty"`
	Code     uint32    `cbor:"6,keyasint,omitempty"`
}

// Call asks the worker to run one guest call.
type Call struct {
	ID uint64
	// Kind is an abi.CallKind.
	Kind uint8
	// Deadline is in Unix nanoseconds; 0 means none. A call still queued
	// in the worker when it passes is answered KindDeadline unstarted.
	Deadline int64
	Name     string
	Input    []byte
	// Each, when not empty, asks for one guest call per item of Input
	// (an abi.List of len(Each) items, Kind abi.CallBatch), each a list
	// of that one item, as if each were a call of its own: Each[i] is the
	// ID of item i, which its Log frames carry. The worker answers each
	// item with an Item frame, in order, and then the call with a Result
	// whose Output is empty. A call with Each travels as a TypeEach frame.
	Each []uint64
}

// Result answers a Call: Output, or Err.
type Result struct {
	ID     uint64
	Output []byte
	Err    *Error
}

// Streams of a Log frame.
const (
	StreamStdout uint8 = 1
	StreamStderr uint8 = 2
	// StreamLog + level (abi.LogLevel) is a guest log record.
	StreamLog uint8 = 8
)

// Log carries guest output. ID is the call or process it came from.
type Log struct {
	ID     uint64
	Stream uint8
	Data   []byte
}

// AppendCall appends c as a frame.
func AppendCall(dst []byte, c *Call) []byte {
	n := 1 + 8 + 1 + 8 + 2 + len(c.Name) + len(c.Input)
	typ := TypeCall
	if len(c.Each) > 0 {
		n, typ = n+4+8*len(c.Each), TypeEach
	}
	dst = binary.LittleEndian.AppendUint32(dst, uint32(n))
	dst = append(dst, byte(typ))
	dst = binary.LittleEndian.AppendUint64(dst, c.ID)
	dst = append(dst, c.Kind)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(c.Deadline))
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(c.Name)))
	dst = append(dst, c.Name...)
	if len(c.Each) > 0 {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(c.Each)))
		for _, id := range c.Each {
			dst = binary.LittleEndian.AppendUint64(dst, id)
		}
	}
	return append(dst, c.Input...)
}

// ParseCall decodes the body of a TypeCall frame, or of a TypeEach frame
// when each is set (which then has at least one item ID). Input aliases
// body.
func ParseCall(body []byte, each bool) (Call, error) {
	if len(body) < 19 {
		return Call{}, fmt.Errorf("%w: call body of %d bytes", ErrFrame, len(body))
	}
	c := Call{
		ID:       binary.LittleEndian.Uint64(body),
		Kind:     body[8],
		Deadline: int64(binary.LittleEndian.Uint64(body[9:])),
	}
	nameLen := int(binary.LittleEndian.Uint16(body[17:]))
	rest := body[19:]
	if nameLen > len(rest) {
		return Call{}, fmt.Errorf("%w: call name of %d bytes in %d", ErrFrame, nameLen, len(rest))
	}
	c.Name, rest = string(rest[:nameLen]), rest[nameLen:]
	if each {
		if len(rest) < 4 {
			return Call{}, fmt.Errorf("%w: each call without an item count", ErrFrame)
		}
		n := uint64(binary.LittleEndian.Uint32(rest))
		rest = rest[4:]
		if n == 0 || n*8 > uint64(len(rest)) {
			return Call{}, fmt.Errorf("%w: each call of %d items in %d bytes", ErrFrame, n, len(rest))
		}
		c.Each = make([]uint64, n)
		for i := range c.Each {
			c.Each[i] = binary.LittleEndian.Uint64(rest[8*i:])
		}
		rest = rest[8*n:]
	}
	c.Input = rest
	return c, nil
}

// Item is the outcome of one item of a call with Each, carried by a
// TypeItem frame: Output (an abi.Results layout of one result) when its
// guest call returned, or Err. A worker sends the Item of each item, in
// order, and then the call's Result, whose Output is empty.
type Item struct {
	// ID is the call's; Index is the item's place in it.
	ID    uint64
	Index uint32
	// Output aliases the frame it was parsed from.
	Output []byte
	Err    *Error
}

// AppendItem appends it as a frame.
func AppendItem(dst []byte, it *Item) []byte {
	status, payload := outcome(it.Output, it.Err)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(1+8+4+1+len(payload)))
	dst = append(dst, byte(TypeItem))
	dst = binary.LittleEndian.AppendUint64(dst, it.ID)
	dst = binary.LittleEndian.AppendUint32(dst, it.Index)
	dst = append(dst, status)
	return append(dst, payload...)
}

// ParseItem decodes a TypeItem body. Output aliases body.
func ParseItem(body []byte) (Item, error) {
	if len(body) < 13 {
		return Item{}, fmt.Errorf("%w: item body of %d bytes", ErrFrame, len(body))
	}
	it := Item{ID: binary.LittleEndian.Uint64(body), Index: binary.LittleEndian.Uint32(body[8:])}
	var err error
	if it.Output, it.Err, err = parseOutcome("item", body[12], body[13:]); err != nil {
		return Item{}, err
	}
	return it, nil
}

// outcome returns the status byte and payload of a Result or an Item:
// 0 and the output, or 1 and err encoded (or an error saying why it
// cannot be).
func outcome(output []byte, err *Error) (byte, []byte) {
	if err == nil {
		return 0, output
	}
	b, merr := cbor.Marshal(err)
	if merr != nil {
		b, _ = cbor.Marshal(&Error{Message: "encoding error: " + merr.Error()})
	}
	return 1, b
}

// parseOutcome decodes what outcome encoded; the output aliases payload.
func parseOutcome(what string, status byte, payload []byte) ([]byte, *Error, error) {
	switch status {
	case 0:
		return payload, nil, nil
	case 1:
		e := new(Error)
		if err := cbor.Unmarshal(payload, e); err != nil {
			return nil, nil, fmt.Errorf("%w: %s error: %v", ErrFrame, what, err)
		}
		return nil, e, nil
	}
	return nil, nil, fmt.Errorf("%w: %s status %d", ErrFrame, what, status)
}

// AppendResult appends r as a frame.
func AppendResult(dst []byte, r *Result) []byte {
	status, payload := outcome(r.Output, r.Err)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(1+8+1+len(payload)))
	dst = append(dst, byte(TypeResult))
	dst = binary.LittleEndian.AppendUint64(dst, r.ID)
	dst = append(dst, status)
	return append(dst, payload...)
}

// ParseResult decodes a TypeResult body. Output aliases body.
func ParseResult(body []byte) (Result, error) {
	if len(body) < 9 {
		return Result{}, fmt.Errorf("%w: result body of %d bytes", ErrFrame, len(body))
	}
	r := Result{ID: binary.LittleEndian.Uint64(body)}
	var err error
	if r.Output, r.Err, err = parseOutcome("result", body[8], body[9:]); err != nil {
		return Result{}, err
	}
	return r, nil
}

// AppendLog appends l as a frame.
func AppendLog(dst []byte, l *Log) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(1+8+1+len(l.Data)))
	dst = append(dst, byte(TypeLog))
	dst = binary.LittleEndian.AppendUint64(dst, l.ID)
	dst = append(dst, l.Stream)
	return append(dst, l.Data...)
}

// ParseLog decodes a TypeLog body. Data aliases body.
func ParseLog(body []byte) (Log, error) {
	if len(body) < 9 {
		return Log{}, fmt.Errorf("%w: log body of %d bytes", ErrFrame, len(body))
	}
	return Log{ID: binary.LittleEndian.Uint64(body), Stream: body[8], Data: body[9:]}, nil
}

// AppendCancel appends a cancel frame for call id.
func AppendCancel(dst []byte, id uint64) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, 9)
	dst = append(dst, byte(TypeCancel))
	return binary.LittleEndian.AppendUint64(dst, id)
}

// ParseCancel decodes a TypeCancel body.
func ParseCancel(body []byte) (uint64, error) {
	if len(body) != 8 {
		return 0, fmt.Errorf("%w: cancel body of %d bytes", ErrFrame, len(body))
	}
	return binary.LittleEndian.Uint64(body), nil
}

// AppendRaw appends a frame of type t whose body is body.
func AppendRaw(dst []byte, t Type, body []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(body)+1))
	dst = append(dst, byte(t))
	return append(dst, body...)
}

// AppendCBOR appends v, CBOR-encoded, as a frame of type t.
func AppendCBOR(dst []byte, t Type, v any) ([]byte, error) {
	body, err := cbor.Marshal(v)
	if err != nil {
		return nil, err
	}
	dst = binary.LittleEndian.AppendUint32(dst, uint32(1+len(body)))
	dst = append(dst, byte(t))
	return append(dst, body...), nil
}

// ParseCBOR decodes a CBOR body into v.
func ParseCBOR(body []byte, v any) error {
	if err := cbor.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: %v", ErrFrame, err)
	}
	return nil
}

// Reader reads frames. It is not safe for concurrent use.
type Reader struct {
	r   *bufio.Reader
	max int
	hdr [5]byte
}

// NewReader reads frames from r; a frame longer than maxFrame bytes is
// ErrFrame.
func NewReader(r io.Reader, maxFrame int) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 256<<10), max: maxFrame}
}

// Next returns the next frame's type and body. The body is freshly
// allocated and belongs to the caller. At a clean end of stream it returns
// io.EOF.
func (r *Reader) Next() (Type, []byte, error) {
	if _, err := io.ReadFull(r.r, r.hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("%w: stream ends inside a header", ErrFrame)
		}
		return 0, nil, err
	}
	n := binary.LittleEndian.Uint32(r.hdr[:4])
	t := Type(r.hdr[4])
	if n == 0 || uint64(n) > uint64(r.max) {
		return 0, nil, fmt.Errorf("%w: length %d (limit %d)", ErrFrame, n, r.max)
	}
	if t < TypeInit || t > TypeItem {
		return 0, nil, fmt.Errorf("%w: unknown type %d", ErrFrame, t)
	}
	body := make([]byte, n-1)
	if _, err := io.ReadFull(r.r, body); err != nil {
		return 0, nil, fmt.Errorf("%w: stream ends inside a body: %v", ErrFrame, err)
	}
	return t, body, nil
}

// Writer sends frames from many goroutines. A sender writes its frame
// itself, under a lock, and the last of the senders queued on the lock
// flushes: an idle channel costs one system call per frame and no goroutine
// hand-off, a busy one carries many frames per system call.
type Writer struct {
	waiting atomic.Int32 // senders inside Send
	mu      sync.Mutex
	bw      *bufio.Writer
	err     error
	closed  bool
}

// NewWriter returns a Writer on w. Close flushes it.
func NewWriter(w io.Writer) *Writer {
	return &Writer{bw: bufio.NewWriterSize(w, 256<<10)}
}

// ErrWriterClosed is returned by Send after Close.
var ErrWriterClosed = errors.New("wire: writer closed")

// Send writes a frame, or several whole frames one after another, in one
// step no other sender's frames come between, flushing unless another
// sender is about to. It returns the error of this or an earlier failed
// write.
func (w *Writer) Send(frame []byte) error {
	w.waiting.Add(1)
	w.mu.Lock()
	defer w.mu.Unlock()
	last := w.waiting.Add(-1) == 0
	switch {
	case w.closed:
		return ErrWriterClosed
	case w.err != nil:
		return w.err
	}
	if _, err := w.bw.Write(frame); err != nil {
		w.err = err
		return err
	}
	if last {
		w.err = w.bw.Flush()
	}
	return w.err
}

// Close flushes what was sent and refuses further frames. It is idempotent
// and does not close the underlying writer.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	if w.err == nil {
		w.err = w.bw.Flush()
	}
	return w.err
}
