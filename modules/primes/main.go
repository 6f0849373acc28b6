// Command primes is an example guest: a CPU-bound prime counter over ranges.
//
//	count_primes([lo, hi]) -> number of primes p with lo <= p < hi
//
// Input and output are CBOR (a typed task), so from the command line:
//
//	echo '[0, 2000000]' | go run ./cmd/wasmpool run modules/primes.wasm --fn count_primes
package main

import (
	"fmt"

	"github.com/wasmpool/wasmpool/guest/typed"
	"github.com/wasmpool/wasmpool/modules/primes/trial"
)

func init() {
	typed.Task("count_primes", func(r [2]uint64) (uint64, error) {
		lo, hi := r[0], r[1]
		if lo > hi {
			return 0, fmt.Errorf("count_primes: lo %d > hi %d", lo, hi)
		}
		n := uint64(0)
		for x := lo; x < hi; x++ {
			if trial.IsPrime(x) {
				n++
			}
		}
		return n, nil
	})
}

func main() {}
