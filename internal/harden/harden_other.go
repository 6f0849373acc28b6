//go:build !linux || !(amd64 || arm64)

package harden

import "errors"

// Apply returns ErrNotSupported here.
func Apply(keep ...int) error { return ErrNotSupported }

// CloseInherited returns ErrNotSupported here.
func CloseInherited(keep ...int) error { return ErrNotSupported }

// Path is a directory Landlock leaves reachable.
type Path struct {
	Dir      string
	ReadOnly bool
}

// ErrNoLandlock is returned by Landlock here.
var ErrNoLandlock = errors.New("harden: Landlock is not available")

// Landlock returns ErrNoLandlock here.
func Landlock(paths ...Path) error { return ErrNoLandlock }
