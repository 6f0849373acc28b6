package shm

import (
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestSealedFile(t *testing.T) {
	f, err := NewSealedFile("test", []byte("abc"), nil, []byte("defg"))
	require.NoError(t, err)
	defer f.Close()
	data, unmap, err := MapSealed(f)
	require.NoError(t, err)
	require.Equal(t, "abcdefg", string(data))
	require.NoError(t, unmap())

	// Nobody can change the bytes: not by writing, resizing or mapping
	// them writable.
	_, err = f.WriteAt([]byte("x"), 0)
	require.ErrorIs(t, err, unix.EPERM)
	require.ErrorIs(t, unix.Ftruncate(int(f.Fd()), 1), unix.EPERM)
	_, err = unix.Mmap(int(f.Fd()), 0, 7, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	require.ErrorIs(t, err, unix.EPERM)
}

func TestSealedFile_empty(t *testing.T) {
	f, err := NewSealedFile("empty")
	require.NoError(t, err)
	defer f.Close()
	data, unmap, err := MapSealed(f)
	require.NoError(t, err)
	require.Empty(t, data)
	require.NoError(t, unmap())
}

func TestMapSealed_refusesWritableFile(t *testing.T) {
	// A segment is sealed against resizing but not writing: its bytes
	// could change under a reader that trusted them.
	f, _, err := NewSegmentFile(1)
	require.NoError(t, err)
	defer f.Close()
	_, _, err = MapSealed(f)
	require.ErrorContains(t, err, "not sealed against writing")
}
