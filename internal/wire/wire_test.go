package wire

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFrames_roundTrip(t *testing.T) {
	var b []byte
	b = AppendCall(b, &Call{ID: 7, Kind: 2, Deadline: -1, Name: "fn", Input: []byte("in")})
	b = AppendResult(b, &Result{ID: 7, Output: []byte("out")})
	b = AppendResult(b, &Result{ID: 8, Err: &Error{Kind: KindTrap, Function: "fn", Message: "boom"}})
	b = AppendLog(b, &Log{ID: 7, Stream: StreamStderr, Data: []byte("log")})
	b = AppendCancel(b, 9)
	r := NewReader(bytes.NewReader(b), 1<<20)

	typ, body, err := r.Next()
	require.NoError(t, err)
	require.Equal(t, TypeCall, typ)
	c, err := ParseCall(body, false)
	require.NoError(t, err)
	require.Equal(t, Call{ID: 7, Kind: 2, Deadline: -1, Name: "fn", Input: []byte("in")}, c)

	typ, body, _ = r.Next()
	require.Equal(t, TypeResult, typ)
	res, err := ParseResult(body)
	require.NoError(t, err)
	require.Equal(t, []byte("out"), res.Output)
	_, body, _ = r.Next()
	res, err = ParseResult(body)
	require.NoError(t, err)
	require.Equal(t, "boom", res.Err.Message)

	_, body, _ = r.Next()
	l, err := ParseLog(body)
	require.NoError(t, err)
	require.Equal(t, Log{ID: 7, Stream: StreamStderr, Data: []byte("log")}, l)
	_, body, _ = r.Next()
	id, err := ParseCancel(body)
	require.NoError(t, err)
	require.Equal(t, uint64(9), id)
	_, _, err = r.Next()
	require.ErrorIs(t, err, io.EOF)
}

func TestCall_each(t *testing.T) {
	in := &Call{ID: 7, Kind: 2, Name: "fn", Input: []byte("in"), Each: []uint64{10, 12, 11}}
	b := AppendCall(nil, in)
	typ, body, err := NewReader(bytes.NewReader(b), 1<<20).Next()
	require.NoError(t, err)
	require.Equal(t, TypeEach, typ)
	c, err := ParseCall(body, true)
	require.NoError(t, err)
	require.Equal(t, *in, c)

	_, err = ParseCall(body, false) // read as a plain call, the IDs are input
	require.NoError(t, err)
	for name, bad := range map[string][]byte{
		"no count":     body[:19+2],
		"no items":     append(append([]byte(nil), body[:19+2]...), 0, 0, 0, 0),
		"short of ids": body[:19+2+4+8*2],
		"huge count":   append(append([]byte(nil), body[:19+2]...), 0xff, 0xff, 0xff, 0xff),
	} {
		_, err := ParseCall(bad, true)
		require.ErrorIs(t, err, ErrFrame, name)
	}
}

func TestItem(t *testing.T) {
	var b []byte
	b = AppendItem(b, &Item{ID: 9, Index: 0, Output: []byte("one")})
	b = AppendItem(b, &Item{ID: 9, Index: 1, Err: &Error{Kind: KindTrap, Function: "fn", Stack: "s"}})
	b = AppendItem(b, &Item{ID: 9, Index: 2, Output: []byte{}})
	r := NewReader(bytes.NewReader(b), 1<<20)
	var items []Item
	for range 3 {
		typ, body, err := r.Next()
		require.NoError(t, err)
		require.Equal(t, TypeItem, typ)
		it, err := ParseItem(body)
		require.NoError(t, err)
		items = append(items, it)
	}
	require.Equal(t, Item{ID: 9, Index: 0, Output: []byte("one")}, items[0])
	require.Equal(t, Item{ID: 9, Index: 1, Err: &Error{Kind: KindTrap, Function: "fn", Stack: "s"}}, items[1])
	require.Equal(t, Item{ID: 9, Index: 2, Output: []byte{}}, items[2])

	body := AppendItem(nil, &Item{ID: 1, Err: &Error{Message: "m"}})[5:]
	for name, bad := range map[string][]byte{
		"short":      body[:12],
		"bad status": append(append([]byte(nil), body[:12]...), 7),
		"bad error":  append(append([]byte(nil), body[:13]...), 0xff, 0xff),
	} {
		_, err := ParseItem(bad)
		require.ErrorIs(t, err, ErrFrame, name)
	}
}

func TestReader_badFrames(t *testing.T) {
	for name, b := range map[string][]byte{
		"zero length":  {0, 0, 0, 0, byte(TypeCall)},
		"over limit":   {0xff, 0xff, 0xff, 0x7f, byte(TypeCall)},
		"unknown type": {2, 0, 0, 0, 99, 0},
		"short header": {5, 0},
		"short body":   {9, 0, 0, 0, byte(TypeCall), 1, 2},
	} {
		_, _, err := NewReader(bytes.NewReader(b), 1<<20).Next()
		require.ErrorIs(t, err, ErrFrame, name)
	}
}

// FuzzReader: whatever arrives on the control channel, the reader and the
// frame parsers return an error or a frame, never panic, and never
// allocate more than the frame limit.
func FuzzReader(f *testing.F) {
	f.Add(AppendCall(nil, &Call{ID: 1, Name: "echo", Input: []byte("x")}))
	f.Add(AppendResult(nil, &Result{ID: 1, Err: &Error{Kind: KindTrap, Message: "m"}}))
	f.Add(AppendLog(AppendCancel(nil, 3), &Log{ID: 1, Stream: StreamLog + 2, Data: []byte("d")}))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 3})
	f.Add(AppendCall(nil, &Call{ID: 1, Name: "echo", Input: []byte("xy"), Each: []uint64{5, 6}}))
	f.Add(AppendItem(AppendItem(nil, &Item{ID: 1, Output: []byte("ok")}), &Item{ID: 1, Index: 1, Err: &Error{Kind: KindTrap}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReader(bytes.NewReader(b), 4096)
		for {
			typ, body, err := r.Next()
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, ErrFrame) {
					t.Fatalf("error %v is neither EOF nor ErrFrame", err)
				}
				return
			}
			if len(body) >= 4096 {
				t.Fatalf("body of %d bytes past the limit", len(body))
			}
			switch typ {
			case TypeCall, TypeEach:
				if c, err := ParseCall(body, typ == TypeEach); err == nil {
					if !bytes.Equal(AppendCall(nil, &c)[5:], body) {
						t.Fatalf("Call re-encodes differently")
					}
				}
			case TypeResult:
				ParseResult(body)
			case TypeItem:
				if it, err := ParseItem(body); err == nil && it.Err == nil {
					if !bytes.Equal(AppendItem(nil, &it)[5:], body) {
						t.Fatalf("Item re-encodes differently")
					}
				}
			case TypeLog:
				ParseLog(body)
			case TypeCancel:
				ParseCancel(body)
			case TypeInit:
				var in Init
				ParseCBOR(body, &in)
			case TypeHello:
				var h Hello
				ParseCBOR(body, &h)
			}
		}
	})
}
