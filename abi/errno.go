package abi

import "strconv"

// Errno is the only error value that crosses the wasm boundary: every host
// function returns one as an i32, and so does [ExportCall]. Zero is success.
// Each side converts Errno to and from its own errors in one place.
type Errno uint32

// The Errno values. Their numbers are part of the ABI and never change.
const (
	// OK is success.
	OK Errno = 0
	// EINVAL: an argument is invalid (an unknown level or kind, a call made
	// outside the context that allows it, malformed input).
	EINVAL Errno = 1
	// EFAULT: a pointer and length do not lie inside the guest's memory.
	EFAULT Errno = 2
	// ENOENT: no object or function has that name.
	ENOENT Errno = 3
	// EMSGSIZE: a message or output is larger than the configured maximum.
	EMSGSIZE Errno = 4
	// ENOSYS: the operation or call kind is not implemented.
	ENOSYS Errno = 5
	// EBADF: a handle is not open, or belongs to another object kind.
	EBADF Errno = 6
	// EAGAIN: a non-blocking operation would have blocked.
	EAGAIN Errno = 7
	// ETIMEDOUT: a blocking operation reached its timeout.
	ETIMEDOUT Errno = 8
	// EPIPE: the other end is closed, or the queue is closed (and, for a
	// receive, empty).
	EPIPE Errno = 9
	// EOWNERDEAD: the lock was acquired, but its previous owner died
	// holding it; what it protects may be half updated.
	EOWNERDEAD Errno = 10
	// EPERM: the caller does not hold the lock it releases or waits on.
	EPERM Errno = 11
	// EOVERFLOW: a bounded semaphore released above its bound, or
	// task_done called more often than put.
	EOVERFLOW Errno = 12
	// EBROKEN: the barrier is broken.
	EBROKEN Errno = 13
	// ECANCELED: the call was canceled while it blocked.
	ECANCELED Errno = 14
	// EIO: shared state is inconsistent (another process scribbled on it).
	EIO Errno = 15
	// EBUSY: too many waiters on a condition or barrier.
	EBUSY Errno = 16
	// EEXIST: a segment (or object) of that name exists.
	EEXIST Errno = 17
	// ENOSPC: the size or count is beyond the configured maximum.
	ENOSPC Errno = 18
)

var errnoNames = [...]string{
	OK:         "OK",
	EINVAL:     "EINVAL",
	EFAULT:     "EFAULT",
	ENOENT:     "ENOENT",
	EMSGSIZE:   "EMSGSIZE",
	ENOSYS:     "ENOSYS",
	EBADF:      "EBADF",
	EAGAIN:     "EAGAIN",
	ETIMEDOUT:  "ETIMEDOUT",
	EPIPE:      "EPIPE",
	EOWNERDEAD: "EOWNERDEAD",
	EPERM:      "EPERM",
	EOVERFLOW:  "EOVERFLOW",
	EBROKEN:    "EBROKEN",
	ECANCELED:  "ECANCELED",
	EIO:        "EIO",
	EBUSY:      "EBUSY",
	EEXIST:     "EEXIST",
	ENOSPC:     "ENOSPC",
}

var errnoText = [...]string{
	OK:         "success",
	EINVAL:     "invalid argument",
	EFAULT:     "pointer or length outside guest memory",
	ENOENT:     "no such name",
	EMSGSIZE:   "message too large",
	ENOSYS:     "not implemented",
	EBADF:      "bad handle",
	EAGAIN:     "would block",
	ETIMEDOUT:  "timed out",
	EPIPE:      "other end closed",
	EOWNERDEAD: "previous owner died",
	EPERM:      "not the owner",
	EOVERFLOW:  "released too often",
	EBROKEN:    "barrier broken",
	ECANCELED:  "canceled",
	EIO:        "shared state inconsistent",
	EBUSY:      "too many waiters",
	EEXIST:     "name exists",
	ENOSPC:     "beyond the configured maximum",
}

// Name returns the constant's name, such as "EFAULT".
func (e Errno) Name() string {
	if int(e) < len(errnoNames) {
		return errnoNames[e]
	}
	return "E" + strconv.FormatUint(uint64(e), 10)
}

// Error returns the name and a short description, such as
// "EFAULT: pointer or length outside guest memory".
func (e Errno) Error() string {
	if int(e) < len(errnoText) {
		return errnoNames[e] + ": " + errnoText[e]
	}
	return "errno " + strconv.FormatUint(uint64(e), 10)
}
