//go:build linux

package shm

import (
	"errors"
	"fmt"
	"net"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/wasmpool/wasmpool/abi"
	"golang.org/x/sys/unix"
)

func TestSegments_createOpenUnlink(t *testing.T) {
	s := NewSegments(1<<20, 4)
	defer s.Close()
	info, f, err := s.Create("a", 1)
	require.NoError(t, err)
	require.Equal(t, SegmentInfo{Name: "a", Size: SegmentPage}, info)
	size, err := CheckSegmentFile(f)
	require.NoError(t, err)
	require.Equal(t, int64(SegmentPage), size)
	m1, err := MapSegment(f, size)
	require.NoError(t, err)
	f.Close()
	defer UnmapSegment(m1)

	info2, f2, err := s.Open("a")
	require.NoError(t, err)
	require.Equal(t, info, info2)
	m2, err := MapSegment(f2, info2.Size)
	require.NoError(t, err)
	f2.Close()
	defer UnmapSegment(m2)
	m1[100] = 42
	require.Equal(t, byte(42), m2[100], "two mappings, one memory")

	require.NoError(t, s.Unlink("a"))
	_, _, err = s.Open("a")
	require.ErrorIs(t, err, ErrNotFound)
	require.ErrorIs(t, s.Unlink("a"), ErrNotFound)
	m2[101] = 7
	require.Equal(t, byte(7), m1[101], "mappings outlive the name")

	anon, f3, err := s.Create("", 3*SegmentPage+1)
	require.NoError(t, err)
	f3.Close()
	require.Equal(t, "wp-1", anon.Name)
	require.Equal(t, int64(4*SegmentPage), anon.Size)
}

func TestSegments_limits(t *testing.T) {
	s := NewSegments(1<<20, 2)
	_, _, err := s.Create("zero", 0)
	require.ErrorIs(t, err, ErrBadSize)
	_, _, err = s.Create("neg", -5)
	require.ErrorIs(t, err, ErrBadSize)
	_, _, err = s.Create("big", 1<<20+1)
	require.ErrorIs(t, err, ErrNoSpace)
	_, _, err = NewSegments(SegmentPage+100, 1).Create("rounded", SegmentPage+50)
	require.ErrorIs(t, err, ErrNoSpace, "the limit holds after rounding up to whole pages")
	_, _, err = s.Create(string(make([]byte, MaxSegmentName+1)), 1)
	require.ErrorIs(t, err, ErrBadName)
	_, _, err = s.Open("")
	require.ErrorIs(t, err, ErrNotFound)
	for _, n := range []string{"a", "b"} {
		_, f, err := s.Create(n, 1)
		require.NoError(t, err)
		f.Close()
	}
	_, _, err = s.Create("a", 1)
	require.ErrorIs(t, err, ErrExists)
	_, _, err = s.Create("c", 1)
	require.ErrorIs(t, err, ErrNoSpace)
	require.Equal(t, 2, s.Len())
	s.Close()
	s.Close()
	require.Zero(t, s.Len())
	_, _, err = s.Create("d", 1)
	require.ErrorIs(t, err, ErrClosed)
}

func TestSegments_limitTotal(t *testing.T) {
	s := NewSegments(1<<20, 16)
	defer s.Close()
	s.LimitTotal(3 * SegmentPage)
	for _, n := range []string{"a", "b"} {
		_, f, err := s.Create(n, SegmentPage)
		require.NoError(t, err)
		f.Close()
	}
	_, _, err := s.Create("c", SegmentPage+1)
	require.ErrorIs(t, err, ErrNoSpace, "two pages more would pass three")
	_, f, err := s.Create("c", 1)
	require.NoError(t, err, "one page more is exactly three")
	f.Close()
	require.NoError(t, s.Unlink("a"))
	_, f, err = s.Create("d", SegmentPage)
	require.NoError(t, err, "an unlinked segment stops counting")
	f.Close()
}

func TestCheckSegmentFile_refusesUnsealed(t *testing.T) {
	fd, err := unix.MemfdCreate("unsealed", unix.MFD_CLOEXEC)
	require.NoError(t, err)
	f := os.NewFile(uintptr(fd), "unsealed")
	defer f.Close()
	require.NoError(t, f.Truncate(SegmentPage))
	_, err = CheckSegmentFile(f)
	require.ErrorContains(t, err, "not sealed")
}

// servedPair starts Serve on one end of a RequestPair and returns a
// client on the other.
func servedPair(t *testing.T, s *Segments) (*Client, *net.UnixConn, chan error) {
	return servedServices(t, Services{Segments: s})
}

func servedServices(t *testing.T, sv Services) (*Client, *net.UnixConn, chan error) {
	t.Helper()
	pf, wf, err := RequestPair()
	require.NoError(t, err)
	pc, err := net.FileConn(pf)
	require.NoError(t, err)
	pf.Close()
	wc, err := net.FileConn(wf)
	require.NoError(t, err)
	wf.Close()
	done := make(chan error, 1)
	go func() {
		done <- Serve(pc.(*net.UnixConn), sv)
		pc.Close()
	}()
	return NewClient(wc.(*net.UnixConn)), wc.(*net.UnixConn), done
}

func TestSegmentService(t *testing.T) {
	s := NewSegments(1<<20, 8)
	defer s.Close()
	c, _, done := servedPair(t, s)
	info, f, err := c.Create("svc", 10)
	require.NoError(t, err)
	require.Equal(t, SegmentInfo{Name: "svc", Size: SegmentPage}, info)
	size, err := CheckSegmentFile(f)
	require.NoError(t, err)
	require.Equal(t, info.Size, size)
	f.Close()

	info2, f2, err := c.Open("svc")
	require.NoError(t, err)
	require.Equal(t, info, info2)
	f2.Close()
	_, _, err = c.Create("svc", 10)
	require.ErrorIs(t, err, ErrExists)
	_, _, err = c.Create("huge", 2<<20)
	require.ErrorIs(t, err, ErrNoSpace)
	_, _, err = c.Create("zero", 0)
	require.ErrorIs(t, err, ErrBadSize)
	_, _, err = c.Create(string(make([]byte, MaxSegmentName+1)), 1)
	require.ErrorIs(t, err, ErrBadName)
	require.NoError(t, c.Unlink("svc"))
	_, _, err = c.Open("svc")
	require.ErrorIs(t, err, ErrNotFound)
	require.ErrorIs(t, c.Unlink("svc"), ErrNotFound)

	require.NoError(t, c.Close())
	require.NoError(t, <-done, "the client's end closing ends the service cleanly")
	_, _, err = c.Open("svc")
	require.Error(t, err)
}

// A malformed request ends the service with an error and never touches the
// directory.
func TestSegmentService_malformed(t *testing.T) {
	for name, req := range map[string][]byte{
		"short":    {segOpOpen, 1, 2},
		"long":     make([]byte, segMaxDatagram+1),
		"badop":    append([]byte{99}, make([]byte, 8)...),
		"emptyeof": {},
	} {
		t.Run(name, func(t *testing.T) {
			s := NewSegments(1<<20, 8)
			defer s.Close()
			_, wc, done := servedPair(t, s)
			_, _, err := wc.WriteMsgUnix(req, nil, nil)
			require.NoError(t, err)
			err = <-done
			if name == "emptyeof" {
				require.NoError(t, err, "an empty datagram reads as EOF")
			} else {
				require.Error(t, err)
			}
			wc.Close()
			require.Zero(t, s.Len())
		})
	}
}

// Objects created over the socket land in the parent's directory; the
// errors come back typed.
func TestServe_objects(t *testing.T) {
	a, err := Create(1<<20, 16)
	require.NoError(t, err)
	defer a.Close()
	d := NewDirectory(a)
	c, _, done := servedServices(t, Services{Segments: NewSegments(1<<20, 1), Objects: func(s Spec) (Handle, error) {
		o, err := d.Create(s)
		if err != nil && !errors.Is(err, ErrExists) && !errors.Is(err, ErrNoSpace) {
			err = fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		return o.Handle, err
	}})
	h, err := c.CreateObject(abi.KindQueue, abi.ObjectSpec{Ring: 4096}, "jobs")
	require.NoError(t, err)
	o, err := a.Lookup("jobs")
	require.NoError(t, err)
	require.Equal(t, o.Handle, h)
	require.Equal(t, abi.KindQueue, o.Kind)
	_, err = c.CreateObject(abi.KindQueue, abi.ObjectSpec{Ring: 4096}, "jobs")
	require.ErrorIs(t, err, ErrExists)
	_, err = c.CreateObject(abi.KindBarrier, abi.ObjectSpec{Parties: 0}, "b")
	require.ErrorIs(t, err, ErrInvalid)
	_, err = c.CreateObject(abi.KindLock, abi.ObjectSpec{}, string(make([]byte, MaxName+1)))
	require.ErrorIs(t, err, ErrBadName)
	c.Close()
	require.NoError(t, <-done)

	c, _, done = servedPair(t, NewSegments(1<<20, 1))
	_, err = c.CreateObject(abi.KindLock, abi.ObjectSpec{}, "l")
	require.ErrorIs(t, err, ErrNotSupported, "no object service")
	c.Close()
	require.NoError(t, <-done)
}
