// Package trial is the prime test of modules/primes, shared with the
// native-Go ceiling of `wasmpool bench --only scaling` so the two run the
// same code. It builds for wasip1 and linux.
package trial

// IsPrime is trial division by 2, 3 and 6k±1: deliberately plain, the same
// algorithm the Python baseline (internal/bench/baseline.py) runs.
func IsPrime(n uint64) bool {
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
