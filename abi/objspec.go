package abi

import (
	"encoding/binary"
	"errors"
)

// ObjectSpec is what object_create reads at spec_ptr: how to build the
// object, as seven u32 (little-endian) in this order. Zero fields take the
// pool's defaults; fields that do not apply to the kind must be zero.
type ObjectSpec struct {
	Flags       uint32 // ObjectFlag bits
	MaxMessages uint32 // queue: message bound, 0 for bytes only
	Ring        uint32 // queue: bytes held, rounded up to a power of two; 0 = 1 MiB
	MaxMessage  uint32 // queue: largest message, 0 = as large as fits
	Value       uint32 // semaphore: initial units
	Bound       uint32 // bounded semaphore: its bound (= Value when 0)
	Parties     uint32 // barrier: parties, 1..64
}

// ObjectSpecSize is the length of an encoded ObjectSpec.
const ObjectSpecSize = 28

// Object flags in ObjectSpec.Flags. Their values are part of the ABI.
const (
	FlagJoinable uint32 = 1 // queue: JoinableQueue (task_done, join)
	FlagDuplex   uint32 = 2 // pipe: both ends send
	FlagBounded  uint32 = 4 // semaphore: BoundedSemaphore
)

// AppendObjectSpec appends s's encoding to dst.
func AppendObjectSpec(dst []byte, s ObjectSpec) []byte {
	for _, v := range [...]uint32{s.Flags, s.MaxMessages, s.Ring, s.MaxMessage, s.Value, s.Bound, s.Parties} {
		dst = binary.LittleEndian.AppendUint32(dst, v)
	}
	return dst
}

// ParseObjectSpec decodes an ObjectSpec of exactly ObjectSpecSize bytes.
func ParseObjectSpec(b []byte) (ObjectSpec, error) {
	if len(b) != ObjectSpecSize {
		return ObjectSpec{}, errors.New("abi: object spec is not 28 bytes")
	}
	u := func(i int) uint32 { return binary.LittleEndian.Uint32(b[4*i:]) }
	return ObjectSpec{Flags: u(0), MaxMessages: u(1), Ring: u(2), MaxMessage: u(3), Value: u(4), Bound: u(5), Parties: u(6)}, nil
}
