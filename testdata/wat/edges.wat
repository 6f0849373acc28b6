;; edges calls every wasmpool host function with edge arguments (zero
;; lengths, wild and unaligned pointers, bad handles, out-of-range values) and
;; returns the errnos, one byte each, as the output of its one task, "edges".
;; pool's TestWAT_edgeArguments checks each against abi/SPEC.md.
;; Generated once from a table; edit it by hand.
(module
  (import "wasmpool" "call_output" (func $call_output (param i32 i32) (result i32)))
  (import "wasmpool" "log" (func $log (param i32 i32 i32) (result i32)))
  (import "wasmpool" "object_open" (func $object_open (param i32 i32 i32 i32) (result i32)))
  (import "wasmpool" "object_ref" (func $object_ref (param i32 i32 i32 i32) (result i32)))
  (import "wasmpool" "object_create" (func $object_create (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasmpool" "object_close" (func $object_close (param i32) (result i32)))
  (import "wasmpool" "queue_put" (func $queue_put (param i32 i32 i32 i64) (result i32)))
  (import "wasmpool" "queue_put_batch" (func $queue_put_batch (param i32 i32 i32 i64 i32) (result i32)))
  (import "wasmpool" "queue_get" (func $queue_get (param i32 i32 i32 i64 i32) (result i32)))
  (import "wasmpool" "queue_get_batch" (func $queue_get_batch (param i32 i32 i32 i32 i64 i32) (result i32)))
  (import "wasmpool" "queue_info" (func $queue_info (param i32 i32) (result i32)))
  (import "wasmpool" "queue_close" (func $queue_close (param i32) (result i32)))
  (import "wasmpool" "queue_task_done" (func $queue_task_done (param i32) (result i32)))
  (import "wasmpool" "queue_join" (func $queue_join (param i32 i64) (result i32)))
  (import "wasmpool" "pipe_send" (func $pipe_send (param i32 i32 i32 i64) (result i32)))
  (import "wasmpool" "pipe_recv" (func $pipe_recv (param i32 i32 i32 i64 i32) (result i32)))
  (import "wasmpool" "pipe_poll" (func $pipe_poll (param i32 i64) (result i32)))
  (import "wasmpool" "lock_acquire" (func $lock_acquire (param i32 i64) (result i32)))
  (import "wasmpool" "lock_release" (func $lock_release (param i32) (result i32)))
  (import "wasmpool" "sem_acquire" (func $sem_acquire (param i32 i64) (result i32)))
  (import "wasmpool" "sem_release" (func $sem_release (param i32 i32) (result i32)))
  (import "wasmpool" "sem_value" (func $sem_value (param i32 i32) (result i32)))
  (import "wasmpool" "event_set" (func $event_set (param i32) (result i32)))
  (import "wasmpool" "event_clear" (func $event_clear (param i32) (result i32)))
  (import "wasmpool" "event_wait" (func $event_wait (param i32 i64) (result i32)))
  (import "wasmpool" "event_is_set" (func $event_is_set (param i32 i32) (result i32)))
  (import "wasmpool" "cond_wait" (func $cond_wait (param i32 i64) (result i32)))
  (import "wasmpool" "cond_notify" (func $cond_notify (param i32 i32) (result i32)))
  (import "wasmpool" "barrier_wait" (func $barrier_wait (param i32 i64 i32) (result i32)))
  (import "wasmpool" "barrier_abort" (func $barrier_abort (param i32) (result i32)))
  (import "wasmpool" "barrier_reset" (func $barrier_reset (param i32) (result i32)))
  (import "wasmpool" "segment_create" (func $segment_create (param i32 i32 i64 i32) (result i32)))
  (import "wasmpool" "segment_open" (func $segment_open (param i32 i32 i32) (result i32)))
  (import "wasmpool" "segment_info" (func $segment_info (param i32 i32 i32 i32) (result i32)))
  (import "wasmpool" "segment_map" (func $segment_map (param i32 i32) (result i32)))
  (import "wasmpool" "segment_unmap" (func $segment_unmap (param i32) (result i32)))
  (import "wasmpool" "segment_read" (func $segment_read (param i32 i64 i32 i32) (result i32)))
  (import "wasmpool" "segment_write" (func $segment_write (param i32 i64 i32 i32) (result i32)))
  (import "wasmpool" "segment_close" (func $segment_close (param i32) (result i32)))
  (import "wasmpool" "segment_unlink" (func $segment_unlink (param i32) (result i32)))
  (import "wasmpool" "atomic_load" (func $atomic_load (param i32 i32 i32) (result i32)))
  (import "wasmpool" "atomic_store" (func $atomic_store (param i32 i32 i64) (result i32)))
  (import "wasmpool" "atomic_add" (func $atomic_add (param i32 i32 i64 i32) (result i32)))
  (import "wasmpool" "atomic_cas" (func $atomic_cas (param i32 i32 i64 i64 i32) (result i32)))
  (import "wasmpool" "atomic_wait" (func $atomic_wait (param i32 i64 i64) (result i32)))
  (import "wasmpool" "atomic_notify" (func $atomic_notify (param i32 i32 i32) (result i32)))
  (import "wasmpool" "call_input" (func $call_input (param i32 i32) (result i32)))
  (memory (export "memory") 2)
  ;; the describe output: a List of one entry, kind 1 (task) + "edges"
  (data (i32.const 256) "\01\00\00\00\06\00\00\00\01edges")
  ;; a name for the create calls
  (data (i32.const 600) "x")
  (func (export "wasmpool_abi") (result i32) i32.const 1)
  (func (export "wasmpool_call") (param $kind i32) (param $nl i32) (param $il i32) (result i32)
    (if (i32.eqz (local.get $kind)) (then (return (call $call_output (i32.const 256) (i32.const 14)))))
    (drop (call $call_input (i32.const 2048) (i32.const 4096)))
    ;; Results header at 3000: count 1, status 0, length 61; the errnos follow at 3009
    (i32.store (i32.const 3000) (i32.const 1))
    (i32.store8 (i32.const 3004) (i32.const 0))
    (i32.store (i32.const 3005) (i32.const 61))
    (i32.store8 (i32.const 3009) (call $call_output (i32.const 4294967280) (i32.const 10))) ;; EFAULT
    (i32.store8 (i32.const 3010) (call $log (i32.const 99) (i32.const 0) (i32.const 0))) ;; EINVAL
    (i32.store8 (i32.const 3011) (call $log (i32.const 1) (i32.const 4294967280) (i32.const 100))) ;; EFAULT
    (i32.store8 (i32.const 3012) (call $object_open (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 16))) ;; ENOENT
    (i32.store8 (i32.const 3013) (call $object_ref (i32.const 1) (i32.const 0) (i32.const 3) (i32.const 16))) ;; EINVAL
    (i32.store8 (i32.const 3014) (call $object_create (i32.const 2) (i32.const 512) (i32.const 28) (i32.const 600) (i32.const 1) (i32.const 16))) ;; EINVAL
    (i32.store8 (i32.const 3015) (call $object_create (i32.const 1) (i32.const 512) (i32.const 27) (i32.const 600) (i32.const 1) (i32.const 16))) ;; EINVAL
    (i32.store8 (i32.const 3016) (call $object_create (i32.const 3) (i32.const 4294967280) (i32.const 28) (i32.const 600) (i32.const 1) (i32.const 16))) ;; EFAULT
    (i32.store8 (i32.const 3017) (call $object_close (i32.const 0))) ;; EBADF
    (i32.store8 (i32.const 3018) (call $object_close (i32.const 99))) ;; EBADF
    (i32.store8 (i32.const 3019) (call $queue_put (i32.const 0) (i32.const 0) (i32.const 0) (i64.const 0))) ;; EBADF
    (i32.store8 (i32.const 3020) (call $queue_put_batch (i32.const 7) (i32.const 0) (i32.const 0) (i64.const 0) (i32.const 16))) ;; EBADF
    (i32.store8 (i32.const 3021) (call $queue_get (i32.const 0) (i32.const 0) (i32.const 0) (i64.const 0) (i32.const 16))) ;; EBADF
    (i32.store8 (i32.const 3022) (call $queue_get_batch (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 1) (i64.const 0) (i32.const 16))) ;; EBADF
    (i32.store8 (i32.const 3023) (call $queue_info (i32.const 0) (i32.const 16))) ;; EBADF
    (i32.store8 (i32.const 3024) (call $queue_close (i32.const 0))) ;; EBADF
    (i32.store8 (i32.const 3025) (call $queue_task_done (i32.const 0))) ;; EBADF
    (i32.store8 (i32.const 3026) (call $queue_join (i32.const 0) (i64.const 0))) ;; EBADF
    (i32.store8 (i32.const 3027) (call $pipe_send (i32.const 0) (i32.const 0) (i32.const 0) (i64.const 0))) ;; EBADF
    (i32.store8 (i32.const 3028) (call $pipe_recv (i32.const 0) (i32.const 0) (i32.const 0) (i64.const 0) (i32.const 16))) ;; EBADF
    (i32.store8 (i32.const 3029) (call $pipe_poll (i32.const 0) (i64.const 0))) ;; EBADF
    (i32.store8 (i32.const 3030) (call $lock_acquire (i32.const 0) (i64.const 0))) ;; EBADF
    (i32.store8 (i32.const 3031) (call $lock_release (i32.const 0))) ;; EBADF
    (i32.store8 (i32.const 3032) (call $sem_acquire (i32.const 0) (i64.const 0))) ;; EBADF
    (i32.store8 (i32.const 3033) (call $sem_release (i32.const 0) (i32.const 1))) ;; EBADF
    (i32.store8 (i32.const 3034) (call $sem_value (i32.const 0) (i32.const 16))) ;; EBADF
    (i32.store8 (i32.const 3035) (call $event_set (i32.const 0))) ;; EBADF
    (i32.store8 (i32.const 3036) (call $event_clear (i32.const 0))) ;; EBADF
    (i32.store8 (i32.const 3037) (call $event_wait (i32.const 0) (i64.const 0))) ;; EBADF
    (i32.store8 (i32.const 3038) (call $event_is_set (i32.const 0) (i32.const 16))) ;; EBADF
    (i32.store8 (i32.const 3039) (call $cond_wait (i32.const 0) (i64.const 0))) ;; EBADF
    (i32.store8 (i32.const 3040) (call $cond_notify (i32.const 0) (i32.const 1))) ;; EBADF
    (i32.store8 (i32.const 3041) (call $barrier_wait (i32.const 0) (i64.const 0) (i32.const 16))) ;; EBADF
    (i32.store8 (i32.const 3042) (call $barrier_abort (i32.const 0))) ;; EBADF
    (i32.store8 (i32.const 3043) (call $barrier_reset (i32.const 0))) ;; EBADF
    (i32.store8 (i32.const 3044) (call $segment_create (i32.const 600) (i32.const 300) (i64.const 4096) (i32.const 16))) ;; EINVAL
    (i32.store8 (i32.const 3045) (call $segment_create (i32.const 600) (i32.const 1) (i64.const 0) (i32.const 16))) ;; EINVAL
    (i32.store8 (i32.const 3046) (call $segment_create (i32.const 4294967280) (i32.const 5) (i64.const 4096) (i32.const 16))) ;; EFAULT
    (i32.store8 (i32.const 3047) (call $segment_create (i32.const 600) (i32.const 1) (i64.const 4096) (i32.const 4294967280))) ;; EFAULT
    (i32.store8 (i32.const 3048) (call $segment_open (i32.const 600) (i32.const 1) (i32.const 16))) ;; ENOENT
    (i32.store8 (i32.const 3049) (call $segment_info (i32.const 0) (i32.const 16) (i32.const 0) (i32.const 0))) ;; EBADF
    (i32.store8 (i32.const 3050) (call $segment_map (i32.const 0) (i32.const 65536))) ;; EBADF
    (i32.store8 (i32.const 3051) (call $segment_unmap (i32.const 0))) ;; EBADF
    (i32.store8 (i32.const 3052) (call $segment_read (i32.const 0) (i64.const 0) (i32.const 0) (i32.const 0))) ;; EBADF
    (i32.store8 (i32.const 3053) (call $segment_write (i32.const 0) (i64.const 0) (i32.const 0) (i32.const 0))) ;; EBADF
    (i32.store8 (i32.const 3054) (call $segment_close (i32.const 0))) ;; EBADF
    (i32.store8 (i32.const 3055) (call $segment_unlink (i32.const 0))) ;; EBADF
    (i32.store8 (i32.const 3056) (call $atomic_load (i32.const 1) (i32.const 32) (i32.const 16))) ;; EINVAL
    (i32.store8 (i32.const 3057) (call $atomic_load (i32.const 0) (i32.const 16) (i32.const 16))) ;; EINVAL
    (i32.store8 (i32.const 3058) (call $atomic_store (i32.const 4294967280) (i32.const 64) (i64.const 1))) ;; EFAULT
    (i32.store8 (i32.const 3059) (call $atomic_add (i32.const 8) (i32.const 64) (i64.const 1) (i32.const 4294967280))) ;; EFAULT
    (i32.store8 (i32.const 3060) (call $atomic_cas (i32.const 4) (i32.const 64) (i64.const 0) (i64.const 1) (i32.const 16))) ;; EINVAL
    (i32.store8 (i32.const 3061) (call $atomic_wait (i32.const 1024) (i64.const 1) (i64.const 0))) ;; EAGAIN
    (i32.store8 (i32.const 3062) (call $atomic_wait (i32.const 1024) (i64.const 0) (i64.const 0))) ;; ETIMEDOUT
    (i32.store8 (i32.const 3063) (call $atomic_notify (i32.const 1024) (i32.const 1) (i32.const 4294967280))) ;; EFAULT
    (i32.store8 (i32.const 3064) (call $atomic_notify (i32.const 1024) (i32.const -1) (i32.const 16))) ;; OK
    ;; Maximum lengths, and a handle used after it was closed.
    (i32.store8 (i32.const 3065) (call $log (i32.const 1) (i32.const 0) (i32.const -1))) ;; EMSGSIZE
    (i32.store8 (i32.const 3066) (call $call_output (i32.const 0) (i32.const -1))) ;; EMSGSIZE
    (i32.store8 (i32.const 3067) (call $object_create (i32.const 3) (i32.const 512) (i32.const 28) (i32.const 0) (i32.const 0) (i32.const 20))) ;; OK: an anonymous lock
    (i32.store8 (i32.const 3068) (call $object_close (i32.load (i32.const 20)))) ;; OK
    (i32.store8 (i32.const 3069) (call $lock_acquire (i32.load (i32.const 20)) (i64.const 0))) ;; EBADF: closed
    (call $call_output (i32.const 3000) (i32.const 70)))
)
