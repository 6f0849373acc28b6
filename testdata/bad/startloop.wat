;; A guest whose start function never returns: loading it must not hang the
;; parent (the pool validates it with an interruptible runtime and a bound).
(module
  (memory (export "memory") 1)
  (func $spin (loop $l (br $l)))
  (start $spin)
  (func (export "wasmpool_abi") (result i32) i32.const 1)
  (func (export "wasmpool_call") (param i32 i32 i32) (result i32) i32.const 0))
