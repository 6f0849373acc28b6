//go:build !linux || !(amd64 || arm64)

package harden

// Apply returns ErrNotSupported here.
func Apply(keep ...int) error { return ErrNotSupported }

// CloseInherited returns ErrNotSupported here.
func CloseInherited(keep ...int) error { return ErrNotSupported }
