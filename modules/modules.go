// Package modules holds the example guest modules, built, so that the
// command line can run them with no files at hand. Each example's source is
// in the directory of the same name; `go generate ./...` rebuilds every
// .wasm in the repository (internal/wasmbuild), and a test checks that the
// committed files are current.
package modules

import _ "embed"

//go:generate go run ../internal/wasmbuild -root ..

// Primes is modules/primes: count_primes([lo, hi]) -> count (typed task).
//
//go:embed primes.wasm
var Primes []byte

// WordFreq is modules/wordfreq: count_words (typed) and top_words (raw).
//
//go:embed wordfreq.wasm
var WordFreq []byte

// Greet is modules/greet: the greet process and the greeting task.
//
//go:embed greet.wasm
var Greet []byte

// Bench is modules/bench: trivial double and echo tasks for benchmarks.
//
//go:embed bench.wasm
var Bench []byte

// IPC is modules/ipc: the queue, pipe, lock, semaphore and barrier
// examples (producer, consumer, doubler, counter, sync) and the guest
// halves of the IPC benchmarks.
//
//go:embed ipc.wasm
var IPC []byte

// Shmem is modules/shmem: shared-memory segment examples (size, square,
// count) and the guest halves of the segment benchmarks.
//
//go:embed shmem.wasm
var Shmem []byte

// CGuest is modules/cguest, a guest written in C against guest/c/wasmpool.h:
// the upper task, a queue producer, and an atomic counter on a segment that
// uses wasm atomics.
//
//go:embed cguest.wasm
var CGuest []byte
