package guest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/wasmpool/wasmpool/abi"
)

func init() {
	Task("test-panic", func(in []byte) ([]byte, error) {
		if string(in) == "nil" {
			panic((*ptrErr)(nil))
		}
		return in, nil
	})
	Task("test-even", func(in []byte) ([]byte, error) {
		switch {
		case len(in) == 1:
			return nil, errors.Join(errors.New("other"), &InvalidInputError{Reason: "one byte"})
		case len(in)%2 != 0:
			return nil, fmt.Errorf("test-even: %w", &InvalidInputError{Reason: "odd"})
		case string(in) == "fail":
			return nil, errors.New("failed")
		}
		return in, nil
	})
}

// An InvalidInputError anywhere in a task's error fails the item as
// invalid input, with its reason; any other error is a task error.
func TestDispatch_invalidInput(t *testing.T) {
	out, e := dispatch(abi.CallBatch, []byte("test-even"), abi.AppendList(nil, [][]byte{
		[]byte("ab"), []byte("abc"), []byte("a"), []byte("fail"),
	}))
	require.Equal(t, abi.OK, e)
	res, err := abi.ParseResults(out, 4)
	require.NoError(t, err)
	assert.Equal(t, []abi.Result{
		{Status: abi.StatusOK, Payload: []byte("ab")},
		{Status: abi.StatusInvalidInput, Payload: []byte("odd")},
		{Status: abi.StatusInvalidInput, Payload: []byte("one byte")},
		{Status: abi.StatusError, Payload: []byte("failed")},
	}, res)
}

type (
	stringer struct{}
	code     int
	label    string
	ptrErr   struct{ msg string }
)

func (stringer) String() string { return "a stringer" }
func (e *ptrErr) Error() string { return e.msg }

// A recovered panic reads as the runtime would print it, with the stack;
// a value whose Error method panics too is reported, not let out.
func TestPanicMessage(t *testing.T) {
	for _, c := range []struct {
		value any
		want  string
	}{
		{errors.New("an error"), "panic: an error"},
		{stringer{}, "panic: a stringer"},
		{"text", "panic: text"},
		{42, "panic: 42"},
		{uint8(7), "panic: 7"},
		{true, "panic: true"},
		{float32(1.5), "panic: 1.5"},
		{2.5, "panic: 2.5"},
		{struct{ A int }{1}, "panic: (struct { A int })"},
		{[]int{1}, "panic: ([]int)"},
		{code(3), "panic: guest.code(3)"},
		{label("x"), `panic: guest.label("x")`},
		{(*ptrErr)(nil), "panic: (*guest.ptrErr) whose Error method panicked"},
		{nil, "panic: nil"},
	} {
		msg := string(panicMessage(c.value))
		head, stack, ok := strings.Cut(msg, "\n\n")
		require.True(t, ok, msg)
		assert.Equal(t, c.want, head)
		assert.Contains(t, stack, "goroutine ")
	}

	// Through a real call: the item fails, the call goes on.
	out, e := dispatch(abi.CallBatch, []byte("test-panic"), abi.AppendList(nil, [][]byte{[]byte("nil"), []byte("ok")}))
	require.Equal(t, abi.OK, e)
	res, err := abi.ParseResults(out, 2)
	require.NoError(t, err)
	assert.Equal(t, abi.StatusError, res[0].Status)
	assert.True(t, strings.HasPrefix(string(res[0].Payload), "panic: (*guest.ptrErr) whose Error method panicked\n\ngoroutine "), "%s", res[0].Payload)
	assert.Equal(t, abi.Result{Status: abi.StatusOK, Payload: []byte("ok")}, res[1])
}
