// Package harden locks a worker process down once its runtime is ready:
// no new privileges, a seccomp filter that refuses exec, new processes,
// ptrace and socket creation, no core dumps, a bound on open files, and no
// descriptors inherited by accident. A guest is already fenced in by wasm;
// this is the second wall, against a bug in the host code around it
// (wazero, our host functions) being turned into a way out.
package harden

import "errors"

// ErrNotSupported is returned by Apply where the hardening is not built
// (Linux on amd64 and arm64 only).
var ErrNotSupported = errors.New("harden: not supported on this platform")
