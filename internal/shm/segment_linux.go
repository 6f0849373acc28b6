package shm

import (
	"fmt"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// MaxSegmentName is the longest segment name in bytes.
const MaxSegmentName = 255

// SegmentPage is the granule of segment sizes: one wasm page, so that a
// segment covers whole pages of a guest's linear memory.
const SegmentPage = 64 << 10

// NewSegmentFile makes a zeroed memfd of size bytes rounded up to whole
// SegmentPages and seals it against resizing, so that no access inside a
// mapping of it can fault. It returns the file and the rounded size.
func NewSegmentFile(size int64) (*os.File, int64, error) {
	if size <= 0 {
		return nil, 0, fmt.Errorf("shm: segment size %d: %w", size, ErrBadSize)
	}
	f, err := newMemfd()
	if err != nil {
		return nil, 0, err
	}
	return sizeSegmentFile(f, size)
}

// newMemfd makes an empty memfd that can be sealed.
func newMemfd() (*os.File, error) {
	fd, err := unix.MemfdCreate("wasmpool-segment", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("shm: memfd_create: %w", err)
	}
	return os.NewFile(uintptr(fd), "wasmpool-segment"), nil
}

// sizeSegmentFile sizes the empty memfd f as NewSegmentFile does and seals
// it; on failure it closes f.
func sizeSegmentFile(f *os.File, size int64) (*os.File, int64, error) {
	size = (size + SegmentPage - 1) &^ (SegmentPage - 1)
	fd := int(f.Fd())
	if err := unix.Ftruncate(fd, size); err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("shm: sizing segment: %w", err)
	}
	seals := unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_SEAL
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("shm: sealing segment: %w", err)
	}
	return f, size, nil
}

// CheckSegmentFile returns the size of a segment file received from
// another process, refusing one that could shrink under a mapping or whose
// size is not a whole number of SegmentPages.
func CheckSegmentFile(f *os.File) (int64, error) {
	seals, err := unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0)
	if err != nil {
		return 0, fmt.Errorf("shm: segment seals: %w", err)
	}
	if seals&(unix.F_SEAL_SHRINK|unix.F_SEAL_GROW) != unix.F_SEAL_SHRINK|unix.F_SEAL_GROW {
		return 0, fmt.Errorf("shm: segment file is not sealed against resizing")
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return 0, fmt.Errorf("shm: segment stat: %w", err)
	}
	if st.Size <= 0 || st.Size%SegmentPage != 0 {
		return 0, fmt.Errorf("shm: segment file of %d bytes is not whole pages", st.Size)
	}
	return st.Size, nil
}

// MapSegment maps all of f, shared and writable.
func MapSegment(f *os.File, size int64) ([]byte, error) {
	b, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("shm: mapping segment: %w", err)
	}
	return b, nil
}

// UnmapSegment undoes MapSegment.
func UnmapSegment(b []byte) error { return unix.Munmap(b) }

// SegmentInfo describes a segment in a [Segments] directory.
type SegmentInfo struct {
	Name string
	Size int64 // bytes, a whole number of SegmentPages
}

// Segments is the parent's directory of named segments. Create and Open
// hand out a new descriptor of the segment's memfd (the caller closes it);
// Unlink removes the name, after which the memory lives on only in the
// mappings and descriptors that still refer to it. The zero value is not
// usable: make one with NewSegments. It is safe for concurrent use.
type Segments struct {
	maxSize  int64
	maxCount int
	maxTotal int64 // bytes of all named segments; 0: no bound

	mu     sync.Mutex
	total  int64
	byName map[string]*os.File
	next   uint64
	closed bool
	spares []*os.File // empty memfds made ahead by Prepare
}

// maxSpares is how many empty memfds Prepare keeps ready.
const maxSpares = 4

// NewSegments returns an empty directory that refuses segments larger
// than maxSize bytes and more than maxCount live names (ErrNoSpace).
func NewSegments(maxSize int64, maxCount int) *Segments {
	return &Segments{maxSize: maxSize, maxCount: maxCount, byName: map[string]*os.File{}}
}

// LimitTotal makes the directory refuse (ErrNoSpace) a segment that would
// take the named segments past total bytes; 0 means no bound. An unlinked
// segment stops counting, even while mappings keep its memory.
func (s *Segments) LimitTotal(total int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxTotal = total
}

// Create makes a segment of at least size bytes under name, or under a
// new unique name ("wp-N") when name is empty.
func (s *Segments) Create(name string, size int64) (SegmentInfo, *os.File, error) {
	var dup *os.File
	info, err := s.create(name, size, dupTo(&dup))
	return info, dup, err
}

// Prepare makes empty memfds ahead, up to a few, for Create to size
// instead of making its own: memfd_create is a third of what a segment
// costs the parent, and a caller that answers a worker's request can
// prepare the next one after it has answered. It is safe for concurrent
// use; it stops at the first failure (Create then makes its own), and
// Close closes the spares.
func (s *Segments) Prepare() {
	for {
		s.mu.Lock()
		n := len(s.spares)
		s.mu.Unlock()
		if n >= maxSpares {
			return
		}
		f, err := newMemfd()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed || len(s.spares) >= maxSpares {
			s.mu.Unlock()
			f.Close()
			return
		}
		s.spares = append(s.spares, f)
		s.mu.Unlock()
	}
}

// create is Create, handing the directory's own file to give, under the
// directory's lock, before it registers the name; if give fails the
// segment is not made. give must not keep f.
func (s *Segments) create(name string, size int64, give func(f *os.File) error) (SegmentInfo, error) {
	if err := checkSegmentName(name, true); err != nil {
		return SegmentInfo{}, err
	}
	switch {
	case size <= 0:
		return SegmentInfo{}, fmt.Errorf("shm: segment size %d: %w", size, ErrBadSize)
	case size > s.maxSize || (size+SegmentPage-1)&^(SegmentPage-1) > s.maxSize:
		return SegmentInfo{}, fmt.Errorf("shm: segment size %d beyond the maximum %d: %w", size, s.maxSize, ErrNoSpace)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return SegmentInfo{}, ErrClosed
	case name != "" && s.byName[name] != nil:
		return SegmentInfo{}, fmt.Errorf("shm: segment %q: %w", name, ErrExists)
	case len(s.byName) >= s.maxCount:
		return SegmentInfo{}, fmt.Errorf("shm: %d segments: %w", len(s.byName), ErrNoSpace)
	case s.maxTotal > 0 && s.total+(size+SegmentPage-1)&^(SegmentPage-1) > s.maxTotal:
		return SegmentInfo{}, fmt.Errorf("shm: segments would take %d bytes, more than %d: %w", s.total+size, s.maxTotal, ErrNoSpace)
	}
	for name == "" || s.byName[name] != nil {
		s.next++
		name = "wp-" + strconv.FormatUint(s.next, 10)
	}
	var (
		f   *os.File
		err error
	)
	if n := len(s.spares); n > 0 {
		f, s.spares = s.spares[n-1], s.spares[:n-1]
	} else if f, err = newMemfd(); err != nil {
		return SegmentInfo{}, err
	}
	f, rounded, err := sizeSegmentFile(f, size)
	if err != nil {
		return SegmentInfo{}, err
	}
	if err := give(f); err != nil {
		f.Close()
		return SegmentInfo{}, err
	}
	s.byName[name] = f
	s.total += rounded
	return SegmentInfo{Name: name, Size: rounded}, nil
}

// Open returns the segment of that name and a new descriptor of it.
func (s *Segments) Open(name string) (SegmentInfo, *os.File, error) {
	var dup *os.File
	info, err := s.open(name, dupTo(&dup))
	return info, dup, err
}

// dupTo is a give function for create and open that keeps a new
// descriptor of the segment's file in *dup, for a caller to own.
func dupTo(dup **os.File) func(*os.File) error {
	return func(f *os.File) (err error) {
		*dup, err = dupFile(f)
		return err
	}
}

// open is Open, handing the directory's own file to give under the
// directory's lock. give must not keep f.
func (s *Segments) open(name string, give func(f *os.File) error) (SegmentInfo, error) {
	if err := checkSegmentName(name, false); err != nil {
		return SegmentInfo{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return SegmentInfo{}, ErrClosed
	}
	f := s.byName[name]
	if f == nil {
		return SegmentInfo{}, fmt.Errorf("shm: segment %q: %w", name, ErrNotFound)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return SegmentInfo{}, fmt.Errorf("shm: segment stat: %w", err)
	}
	if err := give(f); err != nil {
		return SegmentInfo{}, err
	}
	return SegmentInfo{Name: name, Size: st.Size}, nil
}

// Unlink removes name from the directory. Mappings made before stay valid.
func (s *Segments) Unlink(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.byName[name]
	if f == nil {
		return fmt.Errorf("shm: segment %q: %w", name, ErrNotFound)
	}
	delete(s.byName, name)
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) == nil {
		s.total -= st.Size
	}
	return f.Close()
}

// Len returns the number of named segments.
func (s *Segments) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byName)
}

// Close unlinks every segment and refuses further calls. It is idempotent.
func (s *Segments) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, f := range s.byName {
		f.Close()
		delete(s.byName, name)
	}
	for _, f := range s.spares {
		f.Close()
	}
	s.spares = nil
	s.closed = true
}

func checkSegmentName(name string, emptyOK bool) error {
	switch {
	case name == "" && !emptyOK:
		return fmt.Errorf("shm: empty segment name: %w", ErrNotFound)
	case len(name) > MaxSegmentName:
		return fmt.Errorf("shm: segment name of %d bytes: %w", len(name), ErrBadName)
	}
	return nil
}

func dupFile(f *os.File) (*os.File, error) {
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("shm: dup segment: %w", err)
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}
