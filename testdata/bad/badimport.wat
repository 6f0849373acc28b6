;; A module that imports a function the host does not provide.
(module
  (import "env" "launch_missiles" (func $launch (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "wasmpool_abi") (result i32) i32.const 1)
  (func (export "wasmpool_call") (param i32 i32 i32) (result i32) i32.const 0))
