//go:build !wasip1

package guest

import "unsafe"

// Outside wasip1 there is no host: segment and atomic calls fail with
// ENOSYS (the Atomic functions panic, as on a bad address).

func segmentCreate(string, int64) (uint32, uint32)              { return 0, nosys }
func segmentOpen(string) (uint32, uint32)                       { return 0, nosys }
func segmentInfo(uint32) (int64, string, uint32)                { return 0, "", nosys }
func segmentMap(uint32, []byte) uint32                          { return nosys }
func segmentUnmap(uint32) uint32                                { return nosys }
func segmentRead(uint32, int64, []byte) uint32                  { return nosys }
func segmentWrite(uint32, int64, []byte) uint32                 { return nosys }
func segmentClose(uint32) uint32                                { return nosys }
func segmentUnlink(uint32) uint32                               { return nosys }
func atomicLoad(unsafe.Pointer, uint32) (uint64, uint32)        { return 0, nosys }
func atomicStore(unsafe.Pointer, uint32, uint64) uint32         { return nosys }
func atomicAdd(unsafe.Pointer, uint32, uint64) (uint64, uint32) { return 0, nosys }
func atomicCAS(unsafe.Pointer, uint32, uint64, uint64) (uint64, uint32) {
	return 0, nosys
}
func atomicWait(unsafe.Pointer, uint32, int64) uint32     { return nosys }
func atomicNotify(unsafe.Pointer, int32) (uint32, uint32) { return 0, nosys }
