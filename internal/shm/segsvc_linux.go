package shm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"

	"github.com/wasmpool/wasmpool/abi"
	"golang.org/x/sys/unix"
)

// Requests from a worker to the parent (segments, and shared objects
// created by guests) travel over a SOCK_SEQPACKET socket pair, one
// datagram each way; a reply that grants a segment carries its memfd as
// SCM_RIGHTS. Request: op (1 byte), argument (8 bytes, little-endian: a
// segment's size, an object's kind), then for an object an
// abi.ObjectSpec, then the name. Reply: status (1 byte), value (8 bytes:
// a segment's size, an object's handle), name.
const (
	segOpCreate byte = 1
	segOpOpen   byte = 2
	segOpUnlink byte = 3
	opObject    byte = 4
)

// Reply statuses: the errors that cross the socket.
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

const segMaxDatagram = 9 + abi.ObjectSpecSize + MaxSegmentName

// Services are what Serve answers: segments from Segments, objects by
// calling Objects (nil: object requests fail with ErrNotSupported).
type Services struct {
	Segments *Segments
	Objects  func(Spec) (Handle, error)
}

// RequestPair returns a connected socket pair for segment requests: the
// parent serves one end with ServeSegments, the worker inherits the other
// and wraps it with NewClient.
func RequestPair() (parent, worker *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("shm: segment socket: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "wasmpool-segments"), os.NewFile(uintptr(fds[1]), "wasmpool-segments"), nil
}

// Serve answers the requests arriving on conn from sv until the other end
// closes it. A malformed request ends the service (the worker is broken);
// the caller closes conn.
func Serve(conn *net.UnixConn, sv Services) error {
	s := sv.Segments
	buf := make([]byte, segMaxDatagram+1)
	for {
		n, _, _, _, err := conn.ReadMsgUnix(buf, nil)
		switch {
		case errors.Is(err, io.EOF) || (err == nil && n == 0):
			return nil // the worker closed its end, or died
		case err != nil:
			return err
		}
		if n < 9 || n > segMaxDatagram {
			return fmt.Errorf("shm: segment request of %d bytes", n)
		}
		op, size, name := buf[0], int64(binary.LittleEndian.Uint64(buf[1:9])), string(buf[9:n])
		var (
			info SegmentInfo
			f    *os.File
		)
		switch op {
		case opObject:
			if n < 9+abi.ObjectSpecSize || n > 9+abi.ObjectSpecSize+MaxName {
				return fmt.Errorf("shm: object request of %d bytes", n)
			}
			spec, _ := abi.ParseObjectSpec(buf[9 : 9+abi.ObjectSpecSize])
			var h Handle
			h, err = sv.createObject(abi.ObjectKind(size), spec, string(buf[9+abi.ObjectSpecSize:n]))
			info.Size = int64(h)
		case segOpCreate:
			info, f, err = s.Create(name, size)
		case segOpOpen:
			info, f, err = s.Open(name)
		case segOpUnlink:
			err = s.Unlink(name)
		default:
			return fmt.Errorf("shm: segment request op %d", op)
		}
		reply := make([]byte, 9, 9+len(info.Name))
		reply[0] = segStatus(err)
		binary.LittleEndian.PutUint64(reply[1:], uint64(info.Size))
		reply = append(reply, info.Name...)
		var oob []byte
		if f != nil {
			oob = unix.UnixRights(int(f.Fd()))
		}
		_, _, err = conn.WriteMsgUnix(reply, oob, nil)
		if f != nil {
			f.Close()
		}
		if err != nil {
			return err
		}
	}
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

// Client asks the parent for segments over the worker's end of a
// RequestPair. It is safe for concurrent use: requests take turns.
type Client struct {
	mu   sync.Mutex
	conn *net.UnixConn
}

// NewClient wraps conn, which the client then owns.
func NewClient(conn *net.UnixConn) *Client { return &Client{conn: conn} }

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

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

func (c *Client) ask(op byte, name string, size int64) (SegmentInfo, *os.File, error) {
	if len(name) > MaxSegmentName {
		return SegmentInfo{}, nil, fmt.Errorf("shm: segment name of %d bytes: %w", len(name), ErrBadName)
	}
	return c.request(op, uint64(size), []byte(name), name)
}

// request sends one request and reads its reply; name is for errors.
func (c *Client) request(op byte, arg uint64, payload []byte, name string) (SegmentInfo, *os.File, error) {
	req := make([]byte, 9, 9+len(payload))
	req[0] = op
	binary.LittleEndian.PutUint64(req[1:], arg)
	req = append(req, payload...)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, _, err := c.conn.WriteMsgUnix(req, nil, nil); err != nil {
		return SegmentInfo{}, nil, fmt.Errorf("shm: asking the parent for a segment: %w", err)
	}
	buf := make([]byte, segMaxDatagram+1)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := c.conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return SegmentInfo{}, nil, fmt.Errorf("shm: the parent's segment reply: %w", err)
	}
	f, err := receivedFile(oob[:oobn])
	if err != nil {
		return SegmentInfo{}, nil, err
	}
	if n < 9 || n > segMaxDatagram {
		closeFile(f)
		return SegmentInfo{}, nil, fmt.Errorf("shm: segment reply of %d bytes", n)
	}
	if st := buf[0]; st != segOK {
		closeFile(f)
		if e := segErrors[st]; e != nil {
			return SegmentInfo{}, nil, fmt.Errorf("shm: %q: %w", name, e)
		}
		return SegmentInfo{}, nil, fmt.Errorf("shm: %q: the parent failed", name)
	}
	info := SegmentInfo{Size: int64(binary.LittleEndian.Uint64(buf[1:9])), Name: string(buf[9:n])}
	if (op == segOpCreate || op == segOpOpen) && f == nil {
		return SegmentInfo{}, nil, fmt.Errorf("shm: segment %q: no descriptor in the reply", name)
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
				unix.CloseOnExec(fd)
				f = os.NewFile(uintptr(fd), "wasmpool-segment")
			} else {
				unix.Close(fd)
			}
		}
	}
	return f, nil
}

func closeFile(f *os.File) {
	if f != nil {
		f.Close()
	}
}
