// Package shm is the shared-memory data plane of wasmpool: one arena (a
// sealed memfd) mapped by the parent and by every worker process, a table
// of named objects in it, and the cross-process primitives that live in it
// — locks, semaphores, events, conditions, barriers, queues and pipes.
//
// Blocking is spin-then-futex on words of the arena with waiter counts, so
// that a wake-up costs a FUTEX_WAKE only when somebody sleeps. Every
// blocking call takes a [Wait]: a timeout (negative: none; zero: do not
// block) and a context whose end stops the wait within waitSlice.
//
// Ownership is recorded as a [Token]: the participant (the parent, or one
// worker process incarnation) and a local id (one guest instance or one
// parent handle). When a participant dies, [Table.Recover] releases what
// its tokens held: a lock is released and marked so that its next owner
// learns of the death, a barrier it waited in is broken, a pipe end it
// owned is closed, waiter slots it held are freed. Every operation keeps
// objects consistent at every instruction, so that a process killed at any
// point leaves a message either wholly in a queue or not at all.
//
// Everything read from the arena is treated as hostile: offsets and
// lengths are validated before use, and an inconsistent object yields
// ErrCorrupt, never a panic or an access outside the object.
package shm
