//go:build !linux || !(amd64 || arm64)

package harden

import "errors"

// Apply returns ErrNotSupported here.
func Apply() error { return ErrNotSupported }

// Leaky returns ErrNotSupported here.
func Leaky() ([]int, error) { return nil, ErrNotSupported }

// CloseInherited does nothing here.
func CloseInherited(inherited []int, keep ...int) {}

// Path is a directory, or a file, Landlock leaves reachable.
type Path struct {
	Dir      string
	ReadOnly bool
	Exec     bool
}

// ErrNoLandlock is returned by Landlock here.
var ErrNoLandlock = errors.New("harden: Landlock is not available")

// Landlock returns ErrNoLandlock here.
func Landlock(paths ...Path) error { return ErrNoLandlock }

// RestrictThread returns ErrNoLandlock here.
func RestrictThread(paths ...Path) error { return ErrNoLandlock }

// Libraries returns ErrNotSupported here.
func Libraries() ([]Path, error) { return nil, ErrNotSupported }
