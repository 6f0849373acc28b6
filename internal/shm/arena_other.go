//go:build !linux

package shm

import "os"

// Arena is the shared arena; it exists only on Linux.
type Arena struct{ mem []byte }

// Create returns ErrNotSupported outside Linux.
func Create(size, slots int) (*Arena, error) { return nil, ErrNotSupported }

// Map returns ErrNotSupported outside Linux.
func Map(f *os.File) (*Arena, error) { return nil, ErrNotSupported }

// File returns nil outside Linux.
func (a *Arena) File() *os.File { return nil }

// Size returns 0 outside Linux.
func (a *Arena) Size() int { return 0 }

// Close does nothing outside Linux.
func (a *Arena) Close() error { return nil }

func (a *Arena) u32(off uint64) *uint32              { panic("shm: no arena") }
func (a *Arena) u64(off uint64) *uint64              { panic("shm: no arena") }
func futexWait(w *uint32, val uint32, timeout int64) {}
func futexWake(w *uint32, n int)                     {}
func osYield()                                       {}
