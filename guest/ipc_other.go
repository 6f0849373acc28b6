//go:build !wasip1

package guest

import "github.com/wasmpool/wasmpool/abi"

// Outside wasip1 there is no host: every shared-object call fails with
// ENOSYS, so guest code builds and its pure parts test natively.

const nosys = uint32(abi.ENOSYS)

func objectOpen(abi.ObjectKind, []byte, bool) (handle, uint32) { return 0, nosys }
func objectClose(handle) uint32                                { return nosys }
func objectCreate(abi.ObjectKind, abi.ObjectSpec, string) (handle, uint32) {
	return 0, nosys
}
func queuePut(handle, []byte, int64) uint32                     { return nosys }
func queuePutBatch(handle, []byte, int64) (uint32, uint32)      { return 0, nosys }
func queueGet(handle, []byte, int64) (uint32, uint32)           { return 0, nosys }
func queueGetBatch(handle, []byte, int, int64) (uint32, uint32) { return 0, nosys }
func queueInfo(handle, []byte) uint32                           { return nosys }
func queueClose(handle) uint32                                  { return nosys }
func queueTaskDone(handle) uint32                               { return nosys }
func queueJoin(handle, int64) uint32                            { return nosys }
func pipeSend(handle, []byte, int64) uint32                     { return nosys }
func pipeRecv(handle, []byte, int64) (uint32, uint32)           { return 0, nosys }
func pipePoll(handle, int64) uint32                             { return nosys }
func lockAcquire(handle, int64) uint32                          { return nosys }
func lockRelease(handle) uint32                                 { return nosys }
func semAcquire(handle, int64) uint32                           { return nosys }
func semRelease(handle, uint32) uint32                          { return nosys }
func semValue(handle) (uint32, uint32)                          { return 0, nosys }
func eventSet(handle) uint32                                    { return nosys }
func eventClear(handle) uint32                                  { return nosys }
func eventWait(handle, int64) uint32                            { return nosys }
func eventIsSet(handle) (uint32, uint32)                        { return 0, nosys }
func condWait(handle, int64) uint32                             { return nosys }
func condNotify(handle, int32) uint32                           { return nosys }
func barrierWait(handle, int64) (uint32, uint32)                { return 0, nosys }
func barrierAbort(handle) uint32                                { return nosys }
func barrierReset(handle) uint32                                { return nosys }
