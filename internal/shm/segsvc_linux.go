package shm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// Segment requests from a worker to the parent travel over a
// SOCK_SEQPACKET socket pair, one datagram each way; a reply that grants a
// segment carries its memfd as SCM_RIGHTS. Request: op (1 byte), size
// (8 bytes, little-endian), name. Reply: status (1 byte), size (8 bytes),
// name.
const (
	segOpCreate byte = 1
	segOpOpen   byte = 2
	segOpUnlink byte = 3
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
)

var segErrors = map[byte]error{
	segExists: ErrExists, segNotFound: ErrNotFound, segNoSpace: ErrNoSpace,
	segBadSize: ErrBadSize, segBadName: ErrBadName, segClosed: ErrClosed,
}

const segMaxDatagram = 9 + MaxSegmentName

// SegmentPair returns a connected socket pair for segment requests: the
// parent serves one end with ServeSegments, the worker inherits the other
// and wraps it with NewSegmentClient.
func SegmentPair() (parent, worker *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("shm: segment socket: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "wasmpool-segments"), os.NewFile(uintptr(fds[1]), "wasmpool-segments"), nil
}

// ServeSegments answers the requests arriving on conn from s until the
// other end closes it. A malformed request ends the service (the worker is
// broken); the caller closes conn.
func ServeSegments(conn *net.UnixConn, s *Segments) error {
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

// SegmentClient asks the parent for segments over the worker's end of a
// SegmentPair. It is safe for concurrent use: requests take turns.
type SegmentClient struct {
	mu   sync.Mutex
	conn *net.UnixConn
}

// NewSegmentClient wraps conn, which the client then owns.
func NewSegmentClient(conn *net.UnixConn) *SegmentClient { return &SegmentClient{conn: conn} }

// Create asks for a new segment; see Segments.Create.
func (c *SegmentClient) Create(name string, size int64) (SegmentInfo, *os.File, error) {
	return c.ask(segOpCreate, name, size)
}

// Open asks for the segment of that name; see Segments.Open.
func (c *SegmentClient) Open(name string) (SegmentInfo, *os.File, error) {
	return c.ask(segOpOpen, name, 0)
}

// Unlink asks the parent to remove the name; see Segments.Unlink.
func (c *SegmentClient) Unlink(name string) error {
	_, _, err := c.ask(segOpUnlink, name, 0)
	return err
}

// Close closes the connection.
func (c *SegmentClient) Close() error { return c.conn.Close() }

func (c *SegmentClient) ask(op byte, name string, size int64) (SegmentInfo, *os.File, error) {
	if len(name) > MaxSegmentName {
		return SegmentInfo{}, nil, fmt.Errorf("shm: segment name of %d bytes: %w", len(name), ErrBadName)
	}
	req := make([]byte, 9, 9+len(name))
	req[0] = op
	binary.LittleEndian.PutUint64(req[1:], uint64(size))
	req = append(req, name...)
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
			return SegmentInfo{}, nil, fmt.Errorf("shm: segment %q: %w", name, e)
		}
		return SegmentInfo{}, nil, fmt.Errorf("shm: segment %q: the parent failed", name)
	}
	info := SegmentInfo{Size: int64(binary.LittleEndian.Uint64(buf[1:9])), Name: string(buf[9:n])}
	if op != segOpUnlink && f == nil {
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
