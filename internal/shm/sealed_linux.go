package shm

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// sealedSeals are the seals of a file that can never change again.
const sealedSeals = unix.F_SEAL_WRITE | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW

// NewSealedFile returns a memfd holding a copy of parts, one after the
// other, sealed against writing and resizing: every process it reaches
// maps the same bytes and none can change them. The pool hands modules to
// its workers this way, one copy for all of them, instead of sending each
// a copy over its socket.
// The caller owns the file.
func NewSealedFile(name string, parts ...[]byte) (*os.File, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("shm: memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), name)
	for _, b := range parts {
		if _, err := f.Write(b); err != nil {
			f.Close()
			return nil, fmt.Errorf("shm: filling %s: %w", name, err)
		}
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, sealedSeals|unix.F_SEAL_SEAL); err != nil {
		f.Close()
		return nil, fmt.Errorf("shm: sealing %s: %w", name, err)
	}
	return f, nil
}

// MapSealed maps a file made by NewSealedFile, read-only, after checking
// that its seals make it immutable. The bytes stay valid until unmap is
// called; a process that needs them for its whole life never calls it.
func MapSealed(f *os.File) (data []byte, unmap func() error, err error) {
	seals, err := unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("shm: seals of %s: %w", f.Name(), err)
	}
	if seals&sealedSeals != sealedSeals {
		return nil, nil, fmt.Errorf("shm: %s is not sealed against writing and resizing", f.Name())
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return nil, nil, fmt.Errorf("shm: stat of %s: %w", f.Name(), err)
	}
	if st.Size == 0 {
		return []byte{}, func() error { return nil }, nil
	}
	if st.Size > maxSealed {
		return nil, nil, fmt.Errorf("shm: %s has %d bytes, more than %d", f.Name(), st.Size, int64(maxSealed))
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, int(st.Size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("shm: mapping %s: %w", f.Name(), err)
	}
	return mem, func() error { return unix.Munmap(mem) }, nil
}

// maxSealed bounds what MapSealed maps: the pool's modules, each under
// wasm's own limits, fit many times over.
const maxSealed = 1 << 32
