// Command bench is the guest the benchmarks run: functions that do as little
// as possible, so that what is measured is the pool. It links neither fmt
// nor CBOR, as a guest that needs neither should not (modules_test.go).
//
//	double(u64 little-endian) -> 2×input, u64 little-endian
//	echo(bytes)               -> bytes
package main

import (
	"encoding/binary"
	"errors"
	"strconv"

	"github.com/wasmpool/wasmpool/guest"
)

func init() {
	guest.Task("double", func(in []byte) ([]byte, error) {
		if len(in) != 8 {
			return nil, errors.New("double: want 8 bytes, got " + strconv.Itoa(len(in)))
		}
		return binary.LittleEndian.AppendUint64(nil, 2*binary.LittleEndian.Uint64(in)), nil
	})
	guest.Task("echo", func(in []byte) ([]byte, error) { return in, nil })
}

func main() {}
