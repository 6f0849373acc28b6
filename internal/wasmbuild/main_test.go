package main

import (
	"os"
	"os/exec"
	"testing"
)

// TestCommittedWasmIsCurrent rebuilds every guest and fails when a committed
// .wasm differs from what its source builds to.
func TestCommittedWasmIsCurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("rebuilds every guest module")
	}
	if _, err := exec.LookPath("wat2wasm"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("wat2wasm not found: .ci/run must install Debian's wabt")
		}
		t.Skip("wat2wasm not found (apt-get install wabt)")
	}
	if err := run("../..", true); err != nil {
		t.Fatal(err)
	}
}
