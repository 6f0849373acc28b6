package shm

import "errors"

// The errors of this package. Callers convert them to their own (abi
// errnos in the host, pool errors in the parent) in one place each.
var (
	ErrWouldBlock   = errors.New("shm: would block")
	ErrTimeout      = errors.New("shm: timed out")
	ErrCanceled     = errors.New("shm: canceled")
	ErrStopped      = errors.New("shm: stopped")
	ErrClosed       = errors.New("shm: closed")
	ErrOwnerDied    = errors.New("shm: previous owner died")
	ErrNotOwner     = errors.New("shm: not the owner")
	ErrOverRelease  = errors.New("shm: released more than acquired")
	ErrBroken       = errors.New("shm: barrier broken")
	ErrTooLarge     = errors.New("shm: message too large")
	ErrTooMany      = errors.New("shm: too many waiters")
	ErrCorrupt      = errors.New("shm: shared state is inconsistent")
	ErrNoSpace      = errors.New("shm: arena full")
	ErrExists       = errors.New("shm: name exists")
	ErrNotFound     = errors.New("shm: no such name")
	ErrBadHandle    = errors.New("shm: bad handle")
	ErrNotSupported = errors.New("shm: not supported on this platform")
	ErrBadSize      = errors.New("shm: size must be positive")
	ErrBadName      = errors.New("shm: name too long")
	ErrInvalid      = errors.New("shm: invalid object spec")
)
