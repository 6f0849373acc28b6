// Package harden locks a worker process down: no new privileges, a
// seccomp filter that refuses exec, new processes, ptrace and socket
// creation, no core dumps, a bound on open files, no descriptors
// inherited by accident, and Landlock on the filesystem. Landlock comes
// from the parent's thread that starts the worker (RestrictThread), and,
// where the binary allows it, again for the whole process (Landlock) once
// its runtime is ready. A guest is already fenced in by wasm;
// this is the second wall, against a bug in the host code around it
// (wazero, our host functions) being turned into a way out.
package harden

import "errors"

// ErrNotSupported is returned by Apply where the hardening is not built
// (Linux on amd64 and arm64 only).
var ErrNotSupported = errors.New("harden: not supported on this platform")
