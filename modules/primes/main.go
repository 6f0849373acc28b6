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

	"github.com/wasmpool/wasmpool/guest"
)

func init() {
	guest.TypedTask("count_primes", func(r [2]uint64) (uint64, error) {
		lo, hi := r[0], r[1]
		if lo > hi {
			return 0, fmt.Errorf("count_primes: lo %d > hi %d", lo, hi)
		}
		n := uint64(0)
		for x := lo; x < hi; x++ {
			if isPrime(x) {
				n++
			}
		}
		return n, nil
	})
}

// isPrime is trial division by 2, 3 and 6k±1: deliberately plain, the same
// algorithm the Python baseline runs.
func isPrime(n uint64) bool {
	if n < 2 {
		return false
	}
	if n < 4 {
		return true
	}
	if n%2 == 0 || n%3 == 0 {
		return false
	}
	for i := uint64(5); i*i <= n; i += 6 {
		if n%i == 0 || n%(i+2) == 0 {
			return false
		}
	}
	return true
}

func main() {}
