package abi

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSharedList_roundTrip(t *testing.T) {
	items := []any{int64(-7), 3.5, true, "héllo, 世界", []byte("a\x00\x00"), nil, "trailing\x00"}
	size, err := SharedListSize(items)
	require.NoError(t, err)
	b := make([]byte, size+100)
	l, err := InitSharedList(b, items)
	require.NoError(t, err)
	require.Equal(t, len(items), l.Len())

	again, err := OpenSharedList(b)
	require.NoError(t, err)
	for i, want := range items {
		got, err := again.Get(i)
		require.NoError(t, err)
		require.Equal(t, want, got, "item %d", i)
	}
	require.NoError(t, again.Set(0, 42))
	require.NoError(t, again.Set(5, "a string"))
	require.ErrorIs(t, again.Set(5, "a longer string"), ErrListFull, "a nil slot holds 8 bytes")
	require.NoError(t, again.Set(3, nil))
	got, _ := l.Get(0)
	require.Equal(t, int64(42), got)
	got, _ = l.Get(5)
	require.Equal(t, "a string", got)
	got, _ = l.Get(3)
	require.Nil(t, got)

	c, err := l.Capacity(3)
	require.NoError(t, err)
	require.ErrorIs(t, l.Set(3, string(make([]byte, c+1))), ErrListFull)
	require.NoError(t, l.Set(3, string(make([]byte, c))))
	require.ErrorIs(t, l.Set(1, struct{}{}), ErrListType)
	_, err = l.Get(len(items))
	require.ErrorIs(t, err, ErrListIndex)
	require.ErrorIs(t, l.Set(-1, 1), ErrListIndex)
}

func TestSharedList_badInput(t *testing.T) {
	_, err := SharedListSize([]any{uint8(1)})
	require.ErrorIs(t, err, ErrListType)
	_, err = InitSharedList(make([]byte, 10), []any{1})
	require.Error(t, err)
	_, err = OpenSharedList(make([]byte, 64))
	require.ErrorIs(t, err, ErrListCorrupt, "no magic")

	b := make([]byte, 64)
	l, err := InitSharedList(b, []any{"abc"})
	require.NoError(t, err)
	binary.LittleEndian.PutUint32(b[sharedListHeader+4:], 1000) // length past capacity
	_, err = l.Get(0)
	require.ErrorIs(t, err, ErrListCorrupt)
	binary.LittleEndian.PutUint32(b[sharedListHeader+8:], 1<<30) // offset past the data
	_, err = l.Get(0)
	require.ErrorIs(t, err, ErrListCorrupt)
	binary.LittleEndian.PutUint32(b[4:], 1<<30) // count past the segment
	_, err = OpenSharedList(b)
	require.ErrorIs(t, err, ErrListCorrupt)
}

// FuzzSharedList: whatever another process wrote, reading and writing a
// list never panics.
func FuzzSharedList(f *testing.F) {
	b := make([]byte, 128)
	InitSharedList(b, []any{int64(1), "two", []byte{3}, nil})
	f.Add(b)
	f.Add([]byte("WPSL\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := OpenSharedList(b)
		if err != nil {
			return
		}
		for i := range min(l.Len(), 64) {
			l.Get(i)
			l.Set(i, "x")
			l.Set(i, int64(i))
		}
	})
}
