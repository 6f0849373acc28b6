package pool

import (
	"errors"
	"fmt"
	"sync"

	"github.com/wasmpool/wasmpool/abi"
)

// ShareableList is a fixed-length list in a shared-memory segment, after
// Python's multiprocessing.shared_memory.ShareableList: its items are
// int64, float64, bool, string, []byte or nil, each read and written in
// place by every process of the pool (guests with guest.OpenShareableList).
// Unlike Python's, items keep their exact length (trailing zero bytes
// survive) and strings are stored as UTF-8 exactly. A string or []byte
// item may later hold any value that fits the room its first value had
// (at least 8 bytes). Reads and writes are not atomic: coordinate writers
// with a Lock. The methods are safe for concurrent use within the parent;
// Close releases the handle.
type ShareableList struct {
	seg *SharedMemory

	mu   sync.Mutex
	list abi.SharedList
}

// ErrListValue is returned by ShareableList for a value of another type or
// longer than its item's room, and for an index out of range.
var ErrListValue = errors.New("pool: value does not fit the ShareableList")

// NewShareableList creates a list of items in a new segment named name
// ("" for a unique one). Errors: ErrListValue for an item of another type;
// those of CreateSharedMemory.
func (p *Pool) NewShareableList(name string, items []any) (*ShareableList, error) {
	size, err := abi.SharedListSize(items)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrListValue, err)
	}
	s, err := p.CreateSharedMemory(name, max(size, 1))
	if err != nil {
		return nil, err
	}
	l, err := abi.InitSharedList(s.Bytes(), items)
	if err != nil {
		s.Unlink()
		s.Close()
		return nil, err
	}
	return &ShareableList{seg: s, list: l}, nil
}

// OpenShareableList opens the list named name. ErrNotFound if there is
// none; ErrCorrupt if the segment does not hold a list.
func (p *Pool) OpenShareableList(name string) (*ShareableList, error) {
	s, err := p.OpenSharedMemory(name)
	if err != nil {
		return nil, err
	}
	l, err := abi.OpenSharedList(s.Bytes())
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("pool: segment %q: %w", name, ErrCorrupt)
	}
	return &ShareableList{seg: s, list: l}, nil
}

// listError converts the errors of the abi layout: the one place that does.
func listError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, abi.ErrListCorrupt):
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	case errors.Is(err, abi.ErrListFull), errors.Is(err, abi.ErrListType), errors.Is(err, abi.ErrListIndex):
		return fmt.Errorf("%w: %w", ErrListValue, err)
	}
	return err
}

// Name returns the name of the list's segment.
func (l *ShareableList) Name() string { return l.seg.Name() }

// Len returns the number of items.
func (l *ShareableList) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.list.Len()
}

// Get returns item i: an int64, float64, bool, string, []byte (a copy) or
// nil. ErrCorrupt if another process wrote over the list's layout;
// ErrClosed after Close.
func (l *ShareableList) Get(i int) (any, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seg.Bytes() == nil {
		return nil, ErrClosed
	}
	v, err := l.list.Get(i)
	return v, listError(err)
}

// Set stores v (int, int64, float64, bool, string, []byte or nil) as item
// i. ErrListValue if it does not fit.
func (l *ShareableList) Set(i int, v any) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seg.Bytes() == nil {
		return ErrClosed
	}
	return listError(l.list.Set(i, v))
}

// Unlink removes the list's name.
func (l *ShareableList) Unlink() error { return l.seg.Unlink() }

// Close unmaps the list from the parent. It is idempotent.
func (l *ShareableList) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.list = abi.SharedList{}
	return l.seg.Close()
}
