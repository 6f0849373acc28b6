;; A guest whose every call traps in a nested function, so the error carries
;; a wasm stack trace. Describe answers with one task, "boom".
(module
  (import "wasmpool" "call_output" (func $output (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; CallDescribe output: a List of one entry: kind 1 (task), name "boom".
  (data (i32.const 16) "\01\00\00\00\05\00\00\00\01boom")
  (func (export "wasmpool_abi") (result i32) i32.const 1)
  (func $explode unreachable)
  (func (export "wasmpool_call") (param $kind i32) (param i32 i32) (result i32)
    (if (i32.eqz (local.get $kind))
      (then (return (call $output (i32.const 16) (i32.const 13)))))
    call $explode
    i32.const 0))
