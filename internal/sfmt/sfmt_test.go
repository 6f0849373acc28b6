package sfmt

import (
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every supported verb and type formats as fmt formats it.
func TestSprintf_likeFmt(t *testing.T) {
	for _, c := range []struct {
		format string
		args   []any
	}{
		{"plain", nil},
		{"100%% sure", nil},
		{"%d %d %d %d %d %d", []any{0, -7, int8(-8), int16(16), int32(-32), int64(1 << 40)}},
		{"%d %d %d %d %d %d", []any{uint(1), uint8(255), uint16(16), uint32(1 << 31), uint64(1 << 63), uintptr(9)}},
		{"%s|%s|%s|%s", []any{"text", []byte("bytes"), io.EOF, time.Second}},
		{"%q %q %q", []any{"a \"quoted\"\n", []byte("b\x00"), time.Millisecond}},
		{"%v %v %v %v %v %v", []any{42, "s", true, 2.5, io.ErrUnexpectedEOF, nil}},
		{"%v", []any{1e21}},
		{"%v %v %s", []any{[]byte("hi"), float32(0.1), []byte("hi")}},
		{"trailing %", nil},
	} {
		assert.Equal(t, fmt.Sprintf(c.format, c.args...), Sprintf(c.format, c.args...), c.format)
		assert.Equal(t, fmt.Appendf([]byte("x"), c.format, c.args...), Appendf([]byte("x"), c.format, c.args...), c.format)
	}
}

// What it does not know is marked, never dropped silently.
func TestSprintf_unsupported(t *testing.T) {
	type named int
	assert.Equal(t, "a %!d b", Sprintf("a %d b", named(3)))
	assert.Equal(t, "%!x", Sprintf("%x", 3))
	assert.Equal(t, "%!d(MISSING)", Sprintf("%d"))
	assert.Equal(t, "a%!(EXTRA 1, x)", Sprintf("a", 1, "x"))
	assert.Equal(t, "%!5d", Sprintf("%5d", 3), "no widths")
}

// Errorf wraps its %w operands, every one of them.
func TestErrorf_wraps(t *testing.T) {
	errA, errB := errors.New("a"), errors.New("b")
	err := Errorf("%w: item %d: %w", errA, 3, errB)
	require.EqualError(t, err, "a: item 3: b")
	assert.ErrorIs(t, err, errA)
	assert.ErrorIs(t, err, errB)
	assert.NotErrorIs(t, Errorf("%v", errA), errA, "only %w wraps")
	assert.Equal(t, fmt.Errorf("x %w", errA).Error(), Errorf("x %w", errA).Error())
	assert.Equal(t, errA, errors.Unwrap(Errorf("x %w", errA)), "one %w unwraps as with fmt")
}
