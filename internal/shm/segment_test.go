//go:build linux

package shm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
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

// Prepare keeps a few empty memfds that Create sizes instead of making
// its own; Close closes those not taken.
func TestSegments_prepare(t *testing.T) {
	s := NewSegments(1<<20, 8)
	s.Prepare()
	require.Len(t, s.spares, maxSpares)
	s.Prepare()
	require.Len(t, s.spares, maxSpares, "no more than maxSpares")
	spare := s.spares[maxSpares-1]
	info, f, err := s.Create("a", 100)
	require.NoError(t, err)
	require.Equal(t, int64(SegmentPage), info.Size)
	size, err := CheckSegmentFile(f)
	require.NoError(t, err, "a spare is sized and sealed like a new one")
	require.Equal(t, info.Size, size)
	f.Close()
	require.Len(t, s.spares, maxSpares-1)
	require.Same(t, spare, s.byName["a"], "the spare became the segment's file")
	left := slices.Clone(s.spares)
	s.Close()
	for _, f := range left {
		require.Equal(t, ^uintptr(0), f.Fd(), "Close closes the spares")
	}
	s.Prepare()
	require.Empty(t, s.spares, "a closed directory prepares nothing")
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

// servedPair returns a client whose requests s answers, in this process,
// as the pool answers a worker's: replies in memory, descriptors over a
// DescriptorPair.
func servedPair(t *testing.T, s *Segments) *Client {
	return servedServices(t, Services{Segments: s})
}

func servedServices(t *testing.T, sv Services) *Client {
	t.Helper()
	pf, wf, err := DescriptorPair()
	require.NoError(t, err)
	t.Cleanup(func() { pf.Close() })
	c, err := NewClient(wf, func(req []byte) ([]byte, error) {
		return sv.Handle(req, func(f *os.File) error { return SendFile(pf, f) })
	})
	require.NoError(t, err)
	return c
}

func TestSegmentService(t *testing.T) {
	s := NewSegments(1<<20, 8)
	defer s.Close()
	c := servedPair(t, s)
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
	require.NoError(t, c.Close(), "idempotent")
	_, _, err = c.Create("svc2", 10)
	require.ErrorIs(t, err, ErrClosed)
	require.Zero(t, s.Len())
}

// A segment whose descriptor cannot be sent is not made, and the reply
// says so.
func TestServices_sendFails(t *testing.T) {
	s := NewSegments(1<<20, 8)
	defer s.Close()
	s.Prepare()
	sv := Services{Segments: s}
	req := append(binary.LittleEndian.AppendUint64([]byte{segOpCreate}, 10), "x"...)
	reply, err := sv.Handle(req, func(*os.File) error { return unix.EAGAIN })
	require.NoError(t, err)
	require.Equal(t, segFailed, reply[0])
	require.Zero(t, s.Len())
	_, _, err = s.Open("x")
	require.ErrorIs(t, err, ErrNotFound)
}

// A reply granting a segment with no descriptor queued breaks the client
// at once (no wait) and for good: it never hands a guest the next
// segment's descriptor in place of this one's.
func TestClient_missingDescriptor(t *testing.T) {
	pf, wf, err := DescriptorPair()
	require.NoError(t, err)
	defer pf.Close()
	asked := 0
	c, err := NewClient(wf, func([]byte) ([]byte, error) {
		asked++
		return binary.LittleEndian.AppendUint64([]byte{segOK}, SegmentPage), nil
	})
	require.NoError(t, err)
	defer c.Close()
	_, _, err = c.Create("a", 10)
	require.ErrorContains(t, err, "receiving its descriptor")
	_, _, err = c.Open("a")
	require.ErrorContains(t, err, "receiving its descriptor")
	require.Equal(t, 1, asked, "a broken client asks no more")
	require.NoError(t, c.Close(), "Close after a break")
	require.NoError(t, c.Close())
}

// A malformed request is ErrRequest and never touches the directory.
func TestServices_malformed(t *testing.T) {
	for name, req := range map[string][]byte{
		"short":  {segOpOpen, 1, 2},
		"long":   append([]byte{segOpCreate}, make([]byte, MaxRequest)...),
		"badop":  append([]byte{99}, make([]byte, 8)...),
		"empty":  {},
		"object": append([]byte{opObject}, make([]byte, 8+abi.ObjectSpecSize-1)...),
	} {
		t.Run(name, func(t *testing.T) {
			s := NewSegments(1<<20, 8)
			defer s.Close()
			sent := false
			_, err := Services{Segments: s}.Handle(req, func(*os.File) error { sent = true; return nil })
			require.ErrorIs(t, err, ErrRequest)
			require.Zero(t, s.Len())
			require.False(t, sent)
		})
	}
}

// Objects created by request land in the parent's directory; the
// errors come back typed.
func TestServices_objects(t *testing.T) {
	a, err := Create(1<<20, 16)
	require.NoError(t, err)
	defer a.Close()
	d := NewDirectory(a)
	c := servedServices(t, Services{Segments: NewSegments(1<<20, 1), Objects: func(s Spec) (Handle, error) {
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

	c = servedPair(t, NewSegments(1<<20, 1))
	_, err = c.CreateObject(abi.KindLock, abi.ObjectSpec{}, "l")
	require.ErrorIs(t, err, ErrNotSupported, "no object service")
	c.Close()
}

// FuzzServices_Handle: any request a worker could send is either
// ErrRequest or answered with a well-formed reply, and a granted segment's
// descriptor is handed over exactly once, never kept.
func FuzzServices_Handle(f *testing.F) {
	req := func(op byte, arg uint64, rest ...byte) []byte {
		return append(binary.LittleEndian.AppendUint64([]byte{op}, arg), rest...)
	}
	f.Add(req(segOpCreate, 4096, 'a'))
	f.Add(req(segOpCreate, 1<<40))
	f.Add(req(segOpOpen, 0, 'a'))
	f.Add(req(segOpUnlink, 0, 'a'))
	f.Add(req(opObject, uint64(abi.KindQueue), abi.AppendObjectSpec(nil, abi.ObjectSpec{Ring: 4096})...))
	f.Add([]byte{segOpOpen, 1})
	a, err := Create(1<<20, 16)
	require.NoError(f, err)
	defer a.Close()
	d := NewDirectory(a)
	f.Fuzz(func(t *testing.T, req []byte) {
		s := NewSegments(1<<20, 4)
		defer s.Close()
		if _, f, err := s.Create("a", 1); err == nil {
			f.Close()
		}
		sv := Services{Segments: s, Objects: func(sp Spec) (Handle, error) {
			o, err := d.Create(sp)
			return o.Handle, err
		}}
		sent := 0
		reply, err := sv.Handle(req, func(f *os.File) error {
			sent++
			_, err := CheckSegmentFile(f)
			return err
		})
		if err != nil {
			require.ErrorIs(t, err, ErrRequest)
			require.Zero(t, sent)
			return
		}
		require.GreaterOrEqual(t, len(reply), 9)
		require.LessOrEqual(t, len(reply), MaxRequest)
		require.LessOrEqual(t, sent, 1)
		if reply[0] == segOK && (req[0] == segOpCreate || req[0] == segOpOpen) {
			require.Equal(t, 1, sent, "a granted segment's descriptor was sent")
		}
		require.LessOrEqual(t, s.Len(), 4)
	})
}
