//go:build !linux

package shm

import (
	"net"
	"os"

	"github.com/wasmpool/wasmpool/abi"
)

// Services are what Serve answers; see the Linux build.
type Services struct {
	Segments *Segments
	Objects  func(Spec) (Handle, error)
}

// RequestPair returns ErrNotSupported outside Linux.
func RequestPair() (parent, worker *os.File, err error) { return nil, nil, ErrNotSupported }

// Serve returns ErrNotSupported outside Linux.
func Serve(conn *net.UnixConn, sv Services) error { return ErrNotSupported }

// Client asks the parent for segments; outside Linux every request fails
// with ErrNotSupported.
type Client struct{ conn *net.UnixConn }

// NewClient wraps conn, which the client then owns.
func NewClient(conn *net.UnixConn) *Client { return &Client{conn: conn} }

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

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }
