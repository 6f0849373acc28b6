;; A guest built for an ABI version this host does not speak.
(module
  (memory (export "memory") 1)
  (func (export "wasmpool_abi") (result i32) i32.const 99)
  (func (export "wasmpool_call") (param i32 i32 i32) (result i32) i32.const 0))
