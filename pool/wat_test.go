//go:build linux

package pool

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/wasmpool/wasmpool/abi"
)

// TestWAT_edgeArguments runs testdata/wat/edges.wat, a guest written in
// WAT that calls every host function with edge arguments (zero lengths,
// wild and unaligned pointers, bad and closed handles, maximum lengths,
// out-of-range values): each
// returns the errno abi/SPEC.md documents, and the worker serves on.
func TestWAT_edgeArguments(t *testing.T) {
	p := newTestPool(t, Config{Module: testModule(t, "wat/edges.wasm"), Workers: 1})
	out, err := p.Call(context.Background(), "edges", nil)
	require.NoError(t, err)
	want := []abi.Errno{abi.EFAULT, abi.EINVAL, abi.EFAULT, abi.ENOENT, abi.EINVAL, abi.EINVAL, abi.EINVAL, abi.EFAULT, abi.EBADF, abi.EBADF, abi.EBADF, abi.EBADF, abi.EBADF, abi.EBADF, abi.EBADF, abi.EBADF, abi.EBADF, abi.EBADF, abi.EBADF, abi.EBADF, abi.EBADF, abi.EBADF, abi.EBADF, abi.EBADF, abi.EBADF, abi.EBADF, abi.EBADF, abi.EBADF, abi.EBADF, abi.EBADF, abi.EBADF, abi.EBADF, abi.EBADF, abi.EBADF, abi.EBADF, abi.EINVAL, abi.EINVAL, abi.EFAULT, abi.EFAULT, abi.ENOENT, abi.EBADF, abi.EBADF, abi.EBADF, abi.EBADF, abi.EBADF, abi.EBADF, abi.EBADF, abi.EINVAL, abi.EINVAL, abi.EFAULT, abi.EFAULT, abi.EINVAL, abi.EAGAIN, abi.ETIMEDOUT, abi.EFAULT, abi.OK,
		abi.EMSGSIZE, abi.EMSGSIZE, abi.OK, abi.OK, abi.EBADF}
	got := make([]abi.Errno, len(out))
	for i, e := range out {
		got[i] = abi.Errno(e)
	}
	require.Equal(t, want, got)
	_, err = p.Call(context.Background(), "edges", nil)
	require.NoError(t, err, "the same instance serves the next call")
}
