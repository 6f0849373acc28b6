//go:build !linux

package shm

import "os"

// NewSealedFile returns ErrNotSupported outside Linux.
func NewSealedFile(name string, parts ...[]byte) (*os.File, error) { return nil, ErrNotSupported }

// MapSealed returns ErrNotSupported outside Linux.
func MapSealed(f *os.File) (data []byte, unmap func() error, err error) {
	return nil, nil, ErrNotSupported
}
