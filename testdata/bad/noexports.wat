;; A valid module that is not a wasmpool guest: it exports nothing.
(module (memory 1) (func $f))
