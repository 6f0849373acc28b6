//go:build !linux

package shm

import (
	"errors"
	"os"

	"github.com/wasmpool/wasmpool/abi"
)

// MaxRequest is the longest request or reply body.
const MaxRequest = 9 + abi.ObjectSpecSize + MaxSegmentName

// Services are what Handle answers; see the Linux build.
type Services struct {
	Segments *Segments
	Objects  func(Spec) (Handle, error)
}

// ErrRequest is returned, wrapped, by Handle for a request that breaks
// the protocol.
var ErrRequest = errors.New("shm: malformed request")

// Handle returns ErrNotSupported outside Linux.
func (sv Services) Handle(req []byte, send func(f *os.File) error) ([]byte, error) {
	return nil, ErrNotSupported
}

// DescriptorPair returns ErrNotSupported outside Linux.
func DescriptorPair() (parent, worker *os.File, err error) { return nil, nil, ErrNotSupported }

// SendFile returns ErrNotSupported outside Linux.
func SendFile(sock *os.File, f *os.File) error { return ErrNotSupported }

// Client asks the parent for segments; outside Linux every request fails
// with ErrNotSupported.
type Client struct{ sock *os.File }

// NewClient returns a client on sock, which it then owns.
func NewClient(sock *os.File, exchange func(req []byte) ([]byte, error)) (*Client, error) {
	return &Client{sock: sock}, nil
}

// Create returns ErrNotSupported outside Linux.
func (c *Client) Create(name string, size int64) (SegmentInfo, *os.File, error) {
	return SegmentInfo{}, nil, ErrNotSupported
}

// Open returns ErrNotSupported outside Linux.
func (c *Client) Open(name string) (SegmentInfo, *os.File, error) {
	return SegmentInfo{}, nil, ErrNotSupported
}

// Unlink returns ErrNotSupported outside Linux.
func (c *Client) Unlink(name string) error { return ErrNotSupported }

// CreateObject returns ErrNotSupported outside Linux.
func (c *Client) CreateObject(kind abi.ObjectKind, spec abi.ObjectSpec, name string) (Handle, error) {
	return 0, ErrNotSupported
}

// Close closes the descriptor socket. It is idempotent.
func (c *Client) Close() error {
	if c.sock == nil {
		return nil
	}
	err := c.sock.Close()
	c.sock = nil
	return err
}
