//go:build linux

package pool

import (
	"bytes"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wasmpool/wasmpool/abi"
)

func chunkSizes(cs []chunk) []int {
	var ns []int
	for _, c := range cs {
		ns = append(ns, c.n)
	}
	return ns
}

func TestChunkInputs(t *testing.T) {
	items := func(n, size int) [][]byte {
		in := make([][]byte, n)
		for i := range in {
			in[i] = bytes.Repeat([]byte{byte(i)}, size)
		}
		return in
	}
	fixed := func(n int) func(int) int { return func(int) int { return n } }
	for name, tc := range map[string]struct {
		inputs [][]byte
		size   func(int) int
		limit  int
		want   []int
	}{
		// 64 ranges on two workers: never above 64/8, shrinking to 64/32 at the tail.
		"guided, 2 workers": {items(64, 16), guided(64, 2), 1 << 20, []int{8, 8, 8, 8, 8, 6, 5, 4, 3, 2, 2, 2}},
		"guided, 1 worker":  {items(10, 1), guided(10, 1), 1 << 20, []int{3, 3, 2, 1, 1}},
		"guided, one item":  {items(1, 1), guided(1, 8), 1 << 20, []int{1}},
		"fixed":             {items(10, 1), fixed(4), 1 << 20, []int{4, 4, 2}},
		// A List is 4 bytes of count, then 4 of length per item: 4+3*(4+8) = 40.
		"byte limit":          {items(7, 8), fixed(100), 40, []int{3, 3, 1}},
		"item over the limit": {[][]byte{make([]byte, 100), {1}, make([]byte, 100)}, fixed(10), 40, []int{1, 1, 1}},
		"none":                {nil, fixed(3), 40, nil},
	} {
		t.Run(name, func(t *testing.T) {
			cs := chunkInputs(tc.inputs, tc.size, tc.limit)
			require.Equal(t, tc.want, chunkSizes(cs))
			var got [][]byte
			for i, c := range cs {
				require.Equal(t, len(got), c.start, "chunk %d starts where the last ended", i)
				if len(cs) > 1 && c.n > 1 {
					require.LessOrEqual(t, len(c.input), tc.limit, "chunk %d within the byte limit", i)
				}
				parsed, err := abi.ParseList(c.input, c.n)
				require.NoError(t, err)
				got = append(got, parsed...)
			}
			require.True(t, slices.EqualFunc(tc.inputs, got, bytes.Equal), "chunks hold every item in order")
		})
	}
}
