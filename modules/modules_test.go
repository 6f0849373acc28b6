package modules

import (
	"bytes"
	"testing"
)

// A guest that uses guest.Task alone carries neither fmt, nor os, nor the
// CBOR codec: the SDK costs a guest only what it uses, and every megabyte
// of wasm is about 10 ms of each worker's start (RATIONALE: "Why does the
// guest SDK not use fmt?"). The names are those of Go's function table,
// which every Go module holds for its stack traces.
func TestBench_lean(t *testing.T) {
	for _, c := range []struct {
		name   string
		module []byte
		linked bool
	}{
		{"fmt.(*pp)", Bench, false},
		{"os.(*File)", Bench, false},
		{"github.com/fxamacker/cbor", Bench, false},
		// The same check finds them where a guest uses them.
		{"fmt.(*pp)", Greet, true},
		{"os.(*File)", Greet, true},
		{"github.com/fxamacker/cbor", WordFreq, true},
	} {
		if got := bytes.Contains(c.module, []byte(c.name)); got != c.linked {
			t.Errorf("%s linked: %v, want %v", c.name, got, c.linked)
		}
	}
}
