package shm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/wasmpool/wasmpool/abi"
	"golang.org/x/sys/unix"
)

// A worker's requests to the parent (segments, and shared objects created
// by guests) travel as the bodies of wire.TypeRequest frames on its
// results stream; each reply is one message on its replies stream. A
// reply that grants a segment follows the segment's memfd, which the
// parent sends as SCM_RIGHTS over a SOCK_SEQPACKET pair (DescriptorPair),
// one datagram per descriptor. Request: op (1 byte), argument (8 bytes, little-endian:
// a segment's size, an object's kind), then for an object an
// abi.ObjectSpec, then the name. Reply: status (1 byte), value (8 bytes:
// a segment's size, an object's handle), name.
const (
	segOpCreate byte = 1
	segOpOpen   byte = 2
	segOpUnlink byte = 3
	opObject    byte = 4
)

// Reply statuses: the errors that cross to the worker.
const (
	segOK byte = iota
	segExists
	segNotFound
	segNoSpace
	segBadSize
	segBadName
	segClosed
	segFailed
	segUnsupported
	segInvalid
)

var segErrors = map[byte]error{
	segExists: ErrExists, segNotFound: ErrNotFound, segNoSpace: ErrNoSpace,
	segBadSize: ErrBadSize, segBadName: ErrBadName, segClosed: ErrClosed,
	segUnsupported: ErrNotSupported, segInvalid: ErrInvalid,
}

// MaxRequest is the longest request or reply body.
const MaxRequest = 9 + abi.ObjectSpecSize + MaxSegmentName

// Services are what Handle answers: segments from Segments, which must
// be set, objects by calling Objects (nil: object requests fail with
// ErrNotSupported).
type Services struct {
	Segments *Segments
	Objects  func(Spec) (Handle, error)
}

// DescriptorPair returns a connected socket pair for segment descriptors:
// the parent sends on one end with SendFile, the worker inherits the
// other and gives it to NewClient.
func DescriptorPair() (parent, worker *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("shm: descriptor socket: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "wasmpool-segments"), os.NewFile(uintptr(fds[1]), "wasmpool-segments"), nil
}

// SendFile sends a descriptor of f as one datagram on the socket sock
// (the parent's end of a DescriptorPair), without blocking: a socket
// with no room is EAGAIN.
func SendFile(sock *os.File, f *os.File) error {
	return unix.Sendmsg(int(sock.Fd()), []byte{1}, unix.UnixRights(int(f.Fd())), nil, unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL)
}

// ErrRequest is returned, wrapped, by Handle for a request that breaks
// the protocol: the worker that sent it is broken.
var ErrRequest = errors.New("shm: malformed request")

// Handle answers one request. A segment it grants must reach the worker
// before the reply: Handle gives its descriptor to send, under the
// directory's lock (send must neither block nor keep f), and if send
// fails the segment is not made and the reply is a failure. A malformed
// request is ErrRequest and touches nothing. Handle is safe for
// concurrent use as far as Segments and Objects are.
func (sv Services) Handle(req []byte, send func(f *os.File) error) ([]byte, error) {
	n := len(req)
	if n < 9 || n > MaxRequest {
		return nil, fmt.Errorf("%w: %d bytes", ErrRequest, n)
	}
	op, size, name := req[0], int64(binary.LittleEndian.Uint64(req[1:9])), string(req[9:])
	var (
		info SegmentInfo
		err  error
	)
	give := func(f *os.File) error {
		if err := send(f); err != nil {
			return fmt.Errorf("shm: sending a segment's descriptor: %w", err)
		}
		return nil
	}
	switch op {
	case opObject:
		if n < 9+abi.ObjectSpecSize || n > 9+abi.ObjectSpecSize+MaxName {
			return nil, fmt.Errorf("%w: object request of %d bytes", ErrRequest, n)
		}
		spec, _ := abi.ParseObjectSpec(req[9 : 9+abi.ObjectSpecSize])
		var h Handle
		h, err = sv.createObject(abi.ObjectKind(size), spec, string(req[9+abi.ObjectSpecSize:]))
		info.Size = int64(h)
	case segOpCreate:
		info, err = sv.Segments.create(name, size, give)
	case segOpOpen:
		info, err = sv.Segments.open(name, give)
	case segOpUnlink:
		err = sv.Segments.Unlink(name)
	default:
		return nil, fmt.Errorf("%w: op %d", ErrRequest, op)
	}
	reply := make([]byte, 9, 9+len(info.Name))
	reply[0] = segStatus(err)
	binary.LittleEndian.PutUint64(reply[1:], uint64(info.Size))
	return append(reply, info.Name...), nil
}

func (sv Services) createObject(kind abi.ObjectKind, s abi.ObjectSpec, name string) (Handle, error) {
	if sv.Objects == nil {
		return 0, ErrNotSupported
	}
	return sv.Objects(Spec{Kind: kind, Name: name, Flags: s.Flags, MaxMessages: int(s.MaxMessages),
		Ring: int(s.Ring), MaxMessage: int(s.MaxMessage), Value: s.Value, Bound: s.Bound, Parties: int(s.Parties)})
}

func segStatus(err error) byte {
	if err == nil {
		return segOK
	}
	for st, e := range segErrors {
		if errors.Is(err, e) {
			return st
		}
	}
	return segFailed
}

// Client is a worker's side of Services: exchange carries a request to
// the parent and returns its reply, and the descriptors of granted
// segments arrive on sock. It is safe for concurrent use: requests take
// turns, so that each granted descriptor is the next one on sock. A
// request that fails between asking and taking its descriptor leaves the
// two out of step, so it breaks the client: every later request returns
// that error, rather than risk a guest mapping another segment's memory.
// Make one with NewClient; the zero value is not usable.
type Client struct {
	mu       sync.Mutex
	sock     *os.File
	exchange func(req []byte) ([]byte, error)
	broken   error // every request's answer once set
	closed   bool  // sock is closed
	buf      [1]byte
	oob      []byte
}

// NewClient returns a client that sends requests with exchange and takes
// descriptors from sock (the worker's end of a DescriptorPair), which it
// then owns, or closes if it is not a SOCK_SEQPACKET socket. The client
// reads sock directly, never through the netpoller: a descriptor is
// always there before the reply that grants it (one missing breaks the
// client), and a socket the netpoller watches would wake a thread of the
// worker each time the parent sends one.
func NewClient(sock *os.File, exchange func(req []byte) ([]byte, error)) (*Client, error) {
	if typ, err := unix.GetsockoptInt(int(sock.Fd()), unix.SOL_SOCKET, unix.SO_TYPE); err != nil || typ != unix.SOCK_SEQPACKET {
		sock.Close()
		return nil, fmt.Errorf("shm: not a descriptor socket (type %d, %v)", typ, err)
	}
	return &Client{sock: sock, exchange: exchange, oob: make([]byte, unix.CmsgSpace(4))}, nil
}

// Create asks for a new segment; see Segments.Create.
func (c *Client) Create(name string, size int64) (SegmentInfo, *os.File, error) {
	return c.ask(segOpCreate, name, size)
}

// Open asks for the segment of that name; see Segments.Open.
func (c *Client) Open(name string) (SegmentInfo, *os.File, error) {
	return c.ask(segOpOpen, name, 0)
}

// Unlink asks the parent to remove the name; see Segments.Unlink.
func (c *Client) Unlink(name string) error {
	_, _, err := c.ask(segOpUnlink, name, 0)
	return err
}

// CreateObject asks the parent to create a shared object in the arena and
// returns its handle.
func (c *Client) CreateObject(kind abi.ObjectKind, spec abi.ObjectSpec, name string) (Handle, error) {
	if len(name) > MaxName {
		return 0, fmt.Errorf("shm: name of %d bytes: %w", len(name), ErrBadName)
	}
	payload := append(abi.AppendObjectSpec(nil, spec), name...)
	info, _, err := c.request(opObject, uint64(kind), payload, name)
	return Handle(info.Size), err
}

// Close closes the descriptor socket, after any request in flight, and
// breaks the client. It is idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !errors.Is(c.broken, ErrClosed) {
		c.broken = fmt.Errorf("shm: segment client: %w", ErrClosed)
	}
	return c.closeSock()
}

// breakWith breaks the client with err, which it returns. The caller
// holds c.mu.
func (c *Client) breakWith(err error) error {
	c.broken = err
	c.closeSock()
	return err
}

// closeSock closes sock once. The caller holds c.mu.
func (c *Client) closeSock() error {
	if c.closed {
		return nil
	}
	c.closed = true
	return c.sock.Close()
}

func (c *Client) ask(op byte, name string, size int64) (SegmentInfo, *os.File, error) {
	if len(name) > MaxSegmentName {
		return SegmentInfo{}, nil, fmt.Errorf("shm: segment name of %d bytes: %w", len(name), ErrBadName)
	}
	return c.request(op, uint64(size), []byte(name), name)
}

// request sends one request and reads its reply, and the descriptor that
// came before a reply granting a segment; name is for errors.
func (c *Client) request(op byte, arg uint64, payload []byte, name string) (SegmentInfo, *os.File, error) {
	req := make([]byte, 9, 9+len(payload))
	req[0] = op
	binary.LittleEndian.PutUint64(req[1:], arg)
	req = append(req, payload...)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken != nil {
		return SegmentInfo{}, nil, c.broken
	}
	reply, err := c.exchange(req)
	if err != nil {
		return SegmentInfo{}, nil, c.breakWith(fmt.Errorf("shm: asking the parent: %w", err))
	}
	if n := len(reply); n < 9 || n > MaxRequest {
		return SegmentInfo{}, nil, c.breakWith(fmt.Errorf("shm: reply of %d bytes", n))
	}
	if st := reply[0]; st != segOK {
		if e := segErrors[st]; e != nil {
			return SegmentInfo{}, nil, fmt.Errorf("shm: %q: %w", name, e)
		}
		return SegmentInfo{}, nil, fmt.Errorf("shm: %q: the parent failed", name)
	}
	info := SegmentInfo{Size: int64(binary.LittleEndian.Uint64(reply[1:9])), Name: string(reply[9:])}
	if op != segOpCreate && op != segOpOpen {
		return info, nil, nil
	}
	var oobn, flags int
	for {
		// The parent's sendmsg returned before it replied, so the
		// datagram is queued: no need to wait, and none missing hangs.
		_, oobn, flags, _, err = unix.Recvmsg(int(c.sock.Fd()), c.buf[:], c.oob, unix.MSG_CMSG_CLOEXEC|unix.MSG_DONTWAIT)
		if err != unix.EINTR {
			break
		}
	}
	var f *os.File
	if err == nil {
		f, err = receivedFile(c.oob[:oobn])
	}
	if err == nil && flags&unix.MSG_CTRUNC != 0 {
		closeIfAny(f) // what came is not what was sent
		f, err = nil, errors.New("its control data was cut short")
	}
	if err == nil && f == nil {
		err = errors.New("the reply had none")
	}
	if err != nil {
		return SegmentInfo{}, nil, c.breakWith(fmt.Errorf("shm: segment %q: receiving its descriptor: %w", name, err))
	}
	return info, f, nil
}

func receivedFile(oob []byte) (*os.File, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("shm: segment reply control data: %w", err)
	}
	var f *os.File
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			if f == nil {
				f = os.NewFile(uintptr(fd), "wasmpool-segment")
			} else {
				unix.Close(fd)
			}
		}
	}
	return f, nil
}

func closeIfAny(f *os.File) {
	if f != nil {
		f.Close()
	}
}
