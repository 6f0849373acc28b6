// Command bench is the guest the benchmarks run: functions that do as little
// as possible, so that what is measured is the pool.
//
//	double(u64 little-endian) -> 2×input, u64 little-endian
//	echo(bytes)               -> bytes
package main

import (
	"encoding/binary"
	"fmt"

	"github.com/wasmpool/wasmpool/guest"
)

func init() {
	guest.Task("double", func(in []byte) ([]byte, error) {
		if len(in) != 8 {
			return nil, fmt.Errorf("double: want 8 bytes, got %d", len(in))
		}
		return binary.LittleEndian.AppendUint64(nil, 2*binary.LittleEndian.Uint64(in)), nil
	})
	guest.Task("echo", func(in []byte) ([]byte, error) { return in, nil })
}

func main() {}
